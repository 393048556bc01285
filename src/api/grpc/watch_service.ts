// etcdserverpb.Watch: one bidirectional stream carrying many watchers over the kv WatchHub, with
// etcd's create/cancel/progress replies, fragmentation and watch ids.
import type * as grpc from "@grpc/grpc-js";
import type { WatchBatch, WatchEvent, Watcher } from "../../kv/index.ts";
import { type ApiContext, responseHeader } from "./context.ts";
import { EtcdErrors } from "./etcd_errors.ts";
import { int64 } from "./int64.ts";
import { kvToPb } from "./kv_convert.ts";

type Int64 = string;

interface WatchCreateRequestPb {
  key: Buffer;
  range_end: Buffer;
  start_revision: Int64;
  progress_notify: boolean;
  filters: number[];
  prev_kv: boolean;
  watch_id: Int64;
  fragment: boolean;
}

interface WatchRequestPb {
  request_union?: "create_request" | "cancel_request" | "progress_request";
  create_request?: WatchCreateRequestPb;
  cancel_request?: { watch_id: Int64 };
}

type Call = grpc.ServerDuplexStream<WatchRequestPb, object>;

/** etcd's id for "no watcher" (a failed create, a progress reply for the whole stream). */
const INVALID_WATCH_ID = -1;
const FILTER_NOPUT = 0;
const FILTER_NODELETE = 1;
/** A stream whose client has not read this much of our replies loses the watcher that adds more. */
const MAX_PENDING_BYTES = 16 * 1024 * 1024;
/** Protobuf framing per event and per response, rounded up (tags, lengths, revisions). */
const EVENT_OVERHEAD = 64;
const RESPONSE_OVERHEAD = 64;

// etcd's texts (mvcc/watcher.go, v3rpc/watch.go): clients show them as the cancel reason.
const REASON_DUPLICATE_ID = "mvcc: duplicate watch ID provided on the WatchStream";
const REASON_EMPTY_RANGE = "mvcc: watcher range is empty";
const REASON_TOO_SLOW =
  "etcdserver: watcher is too slow: responses were not read; watch again from the last revision seen";

export function watchService(ctx: ApiContext): grpc.UntypedServiceImplementation {
  return {
    Watch: (call: Call) => {
      // etcd's clients ask (metadata hasleader) that a watch fail rather than hang without a leader.
      if (call.metadata.get("hasleader")[0] === "true" && ctx.node.leaderId === 0) {
        call.emit("error", {
          code: EtcdErrors.noLeader.code,
          details: EtcdErrors.noLeader.message,
        });
        return;
      }
      new WatchStream(ctx, call).start();
    },
  };
}

interface StreamWatcher {
  readonly watcher: Watcher;
  readonly fragment: boolean;
}

class WatchStream {
  private readonly watchers = new Map<number, StreamWatcher>();
  /** The next server-chosen id; etcd starts at 0 and skips ids the client chose. */
  private nextId = 0;
  private pendingBytes = 0;
  private closed = false;

  constructor(
    private readonly ctx: ApiContext,
    private readonly call: Call,
  ) {}

  start(): void {
    this.call.on("data", (request: WatchRequestPb) => this.receive(request));
    const close = () => this.close();
    this.call.on("cancelled", close);
    this.call.on("error", close);
    this.call.on("close", close);
    // A half-closed stream keeps its watchers (as etcd): the client still reads events.
  }

  private receive(request: WatchRequestPb): void {
    if (this.closed) return;
    switch (request.request_union) {
      case "create_request":
        this.create(request.create_request!);
        return;
      case "cancel_request":
        this.cancel(int64(request.cancel_request!.watch_id));
        return;
      case "progress_request":
        void this.progress();
        return;
    }
  }

  private create(pb: WatchCreateRequestPb): void {
    const { node } = this.ctx;
    // etcd: an empty key means the smallest key, "\0".
    const key = pb.key.length === 0 ? Buffer.from([0]) : pb.key;
    const rangeEnd = pb.range_end;
    const requested = int64(pb.watch_id);
    const refuse = (watchId: number, reason: string) =>
      this.send({
        header: responseHeader(node),
        watch_id: watchId,
        created: true,
        canceled: true,
        cancel_reason: reason,
      });
    try {
      this.ctx.auth.checkKeys(this.call.metadata, [{ key, rangeEnd, write: false }]);
    } catch {
      refuse(requested, EtcdErrors.permissionDenied.message);
      return;
    }
    const everythingFrom = rangeEnd.length === 1 && rangeEnd[0] === 0;
    if (rangeEnd.length > 0 && !everythingFrom && Buffer.compare(key, rangeEnd) >= 0) {
      refuse(INVALID_WATCH_ID, REASON_EMPTY_RANGE);
      return;
    }
    let id = requested;
    if (id !== 0 && this.watchers.has(id)) {
      refuse(INVALID_WATCH_ID, REASON_DUPLICATE_ID);
      return;
    }
    if (id === 0) {
      while (this.watchers.has(this.nextId)) this.nextId++;
      id = this.nextId++;
    }
    // The created reply goes first, at the revision the watch starts after; the hub delivers
    // nothing before watch() returns except a compaction cancel, which must follow it.
    this.send({ header: responseHeader(node), watch_id: id, created: true });
    const watcher = node.kv.watches.watch(
      {
        key,
        rangeEnd,
        startRevision: Math.max(0, int64(pb.start_revision)),
        prevKv: pb.prev_kv,
        filters: {
          noPut: pb.filters.includes(FILTER_NOPUT),
          noDelete: pb.filters.includes(FILTER_NODELETE),
        },
        progressNotify: pb.progress_notify,
      },
      (batch) => this.deliver(id, batch),
    );
    if (!watcher.canceled) this.watchers.set(id, { watcher, fragment: pb.fragment });
  }

  private deliver(id: number, batch: WatchBatch): void {
    const { node } = this.ctx;
    if ("canceled" in batch) {
      this.watchers.delete(id);
      // etcd cancels a compacted watcher with compact_revision and no reason; other cancels
      // (the member stopping) carry one.
      const compacted = batch.compactRevision !== undefined;
      this.send({
        header: responseHeader(node),
        watch_id: id,
        canceled: true,
        compact_revision: batch.compactRevision ?? 0,
        cancel_reason: compacted ? "" : batch.reason,
      });
      return;
    }
    if (this.pendingBytes > MAX_PENDING_BYTES) {
      this.watchers.get(id)?.watcher.cancel();
      this.watchers.delete(id);
      this.send({
        header: responseHeader(node),
        watch_id: id,
        canceled: true,
        cancel_reason: REASON_TOO_SLOW,
      });
      return;
    }
    const header = responseHeader(node, batch.revision);
    const events = batch.events.map(eventToPb);
    const fragment = this.watchers.get(id)?.fragment ?? false;
    if (!fragment) {
      this.send({ header, watch_id: id, events }, batchSize(batch.events));
      return;
    }
    for (const part of fragments(batch.events, node.config.maxRequestBytes)) {
      this.send(
        {
          header,
          watch_id: id,
          events: part.events.map(eventToPb),
          fragment: part.more,
        },
        batchSize(part.events),
      );
    }
  }

  private cancel(id: number): void {
    const entry = this.watchers.get(id);
    // etcd ignores a cancel for an id it does not know.
    if (entry === undefined) return;
    entry.watcher.cancel();
    this.watchers.delete(id);
    this.send({ header: responseHeader(this.ctx.node), watch_id: id, canceled: true });
  }

  /** etcd's progress reply: once every watcher is caught up, the store revision, watch id -1.
   * A watcher still replaying history would make that revision a lie, so wait for the hub. */
  private async progress(): Promise<void> {
    await this.ctx.node.kv.watches.whenSynced();
    this.send({ header: responseHeader(this.ctx.node), watch_id: INVALID_WATCH_ID });
  }

  private send(response: object, bytes = RESPONSE_OVERHEAD): void {
    if (this.closed) return;
    this.pendingBytes += bytes;
    this.call.write(response, () => {
      this.pendingBytes -= bytes;
    });
  }

  private close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const { watcher } of this.watchers.values()) watcher.cancel();
    this.watchers.clear();
  }
}

function eventToPb(event: WatchEvent) {
  return {
    type: event.type === "put" ? 0 : 1,
    kv: kvToPb(event.kv),
    prev_kv: event.prevKv === undefined ? null : kvToPb(event.prevKv),
  };
}

function eventSize(event: WatchEvent): number {
  let size = EVENT_OVERHEAD + event.kv.key.length + event.kv.value.length;
  if (event.prevKv !== undefined) {
    size += EVENT_OVERHEAD + event.prevKv.key.length + event.prevKv.value.length;
  }
  return size;
}

function batchSize(events: readonly WatchEvent[]): number {
  let size = RESPONSE_OVERHEAD;
  for (const event of events) size += eventSize(event);
  return size;
}

/** etcd's sendFragments: responses under `maxBytes` (each with at least one event), every one
 * but the last marked as a fragment. A batch that fits, or has one event, stays whole. */
export function fragments(
  events: readonly WatchEvent[],
  maxBytes: number,
): Array<{ events: WatchEvent[]; more: boolean }> {
  if (events.length < 2 || batchSize(events) < maxBytes) {
    return [{ events: [...events], more: false }];
  }
  const parts: Array<{ events: WatchEvent[]; more: boolean }> = [];
  let current: WatchEvent[] = [];
  let size = RESPONSE_OVERHEAD;
  for (const event of events) {
    const added = eventSize(event);
    if (current.length > 0 && size + added >= maxBytes) {
      parts.push({ events: current, more: true });
      current = [];
      size = RESPONSE_OVERHEAD;
    }
    current.push(event);
    size += added;
  }
  parts.push({ events: current, more: false });
  return parts;
}
