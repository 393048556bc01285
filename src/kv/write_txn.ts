// The writes of one command: all share one main revision; each key change takes the next sub.
import { EMPTY } from "./bytes.ts";
import { type Dbs, encodeRecord, leaseKeyOf, revKey } from "./layout.ts";
import type { KeyValue, WatchEvent } from "./types.ts";

export class WriteTxn {
  private sub = 0;
  readonly events: WatchEvent[] = [];

  constructor(
    private readonly dbs: Dbs,
    /** The revision this command creates if it changes anything. */
    readonly main: number,
  ) {}

  get changed(): boolean {
    return this.sub > 0;
  }

  put(key: Uint8Array, value: Uint8Array, lease: number, prev: KeyValue | undefined): KeyValue {
    const kv: KeyValue = {
      key,
      value,
      createRevision: prev === undefined ? this.main : prev.createRevision,
      modRevision: this.main,
      version: prev === undefined ? 1 : prev.version + 1,
      lease,
    };
    const rk = revKey(this.main, this.sub++);
    const rec = encodeRecord(kv, false);
    this.dbs.rev.putSync(rk, rec);
    this.dbs.kv.putSync(key, rec);
    this.dbs.hist.putSync(key, rk);
    if (prev !== undefined && prev.lease !== 0 && prev.lease !== lease) {
      this.dbs.leasekey.removeSync(leaseKeyOf(prev.lease, key));
    }
    if (lease !== 0 && prev?.lease !== lease)
      this.dbs.leasekey.putSync(leaseKeyOf(lease, key), EMPTY);
    this.events.push(prev === undefined ? { type: "put", kv } : { type: "put", kv, prevKv: prev });
    return kv;
  }

  /** Writes a tombstone; the version restarts at 1 if the key is created again. */
  delete(prev: KeyValue): void {
    const kv: KeyValue = {
      key: prev.key,
      value: EMPTY,
      createRevision: 0,
      modRevision: this.main,
      version: 0,
      lease: 0,
    };
    const rk = revKey(this.main, this.sub++);
    this.dbs.rev.putSync(rk, encodeRecord(kv, true));
    this.dbs.kv.removeSync(prev.key);
    this.dbs.hist.putSync(prev.key, rk);
    if (prev.lease !== 0) this.dbs.leasekey.removeSync(leaseKeyOf(prev.lease, prev.key));
    this.events.push({ type: "delete", kv, prevKv: prev });
  }
}
