// Reading the event history back from the `rev` db, for watchers that start in the past.
import { compareBytes } from "./bytes.ts";
import { type Dbs, decodeRecord, isTombstoneRecord, revKey, revMain } from "./layout.ts";
import type { KeyValue, WatchEvent } from "./types.ts";

export interface HistoryChunk {
  events: WatchEvent[];
  /** The first revision not yet read. */
  nextRev: number;
}

/** Events of revisions fromRev..toRev matching `match`. Stops after about `maxRecords` scanned
 * records, but only at a revision boundary: one revision's events are never split. */
export function readHistory(
  dbs: Dbs,
  fromRev: number,
  toRev: number,
  maxRecords: number,
  match: (key: Uint8Array) => boolean,
  withPrevKv: boolean,
): HistoryChunk {
  const events: WatchEvent[] = [];
  let scanned = 0;
  let lastMain = -1;
  for (const { key, value } of dbs.rev.getRange({
    start: revKey(fromRev, 0),
    end: revKey(toRev + 1, 0),
  })) {
    const main = revMain(key);
    if (scanned >= maxRecords && main !== lastMain) return { events, nextRev: main };
    scanned++;
    lastMain = main;
    const rec = decodeRecord(value);
    if (!match(rec.kv.key)) continue;
    const event: WatchEvent = { type: rec.tombstone ? "delete" : "put", kv: rec.kv };
    if (withPrevKv) {
      const prev = prevKvBefore(dbs, rec.kv.key, key);
      if (prev !== undefined) event.prevKv = prev;
    }
    events.push(event);
  }
  return { events, nextRev: toRev + 1 };
}

/** The key's live value just before revision `rk`, if it survives compaction. */
function prevKvBefore(dbs: Dbs, key: Uint8Array, rk: Uint8Array): KeyValue | undefined {
  for (const v of dbs.hist.getValues(key, { reverse: true })) {
    if (compareBytes(v, rk) >= 0) continue;
    const rec = dbs.rev.get(v);
    if (rec === undefined || isTombstoneRecord(rec)) return undefined;
    return decodeRecord(rec).kv;
  }
  return undefined;
}
