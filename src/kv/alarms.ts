// etcd's alarm store (etcdserver/api/v3alarm) and its capped applier. Alarms are replicated
// commands kept in the meta database, so snapshots and hashState carry them:
//
//   meta  [0x00]"alarms" -> [count varint]([memberId u64][alarm u8])...   sorted; absent = none
//
// While any NOSPACE alarm is active, every member refuses the writes that consume space (put, a
// txn holding a put, lease grant) at apply time; deletes, reads, compaction and revokes go on.
import { ByteReader, ByteWriter } from "./bytes.ts";
import type { Dbs } from "./layout.ts";
import type {
  AlarmCommand,
  AlarmMember,
  AlarmType,
  Command,
  CommandResponse,
  RequestOp,
} from "./types.ts";

export const NOSPACE: AlarmType = 1;
export const CORRUPT: AlarmType = 2;

const META_ALARMS = Uint8Array.of(0, ...new TextEncoder().encode("alarms"));

export function readAlarms(dbs: Dbs): AlarmMember[] {
  const b = dbs.meta.get(META_ALARMS);
  if (b === undefined) return [];
  const r = new ByteReader(b, (m) => new Error(`damaged alarm record: ${m}`));
  const alarms: AlarmMember[] = [];
  for (let n = r.varint(); n > 0; n--) {
    alarms.push({ memberId: r.u64(), alarm: r.u8() as AlarmType });
  }
  return alarms;
}

function writeAlarms(dbs: Dbs, alarms: readonly AlarmMember[]): void {
  if (alarms.length === 0) {
    dbs.meta.removeSync(META_ALARMS);
    return;
  }
  const w = new ByteWriter();
  w.varint(alarms.length);
  for (const a of alarms) {
    w.u64(a.memberId);
    w.u8(a.alarm);
  }
  dbs.meta.putSync(META_ALARMS, w.finish());
}

/** Applies ACTIVATE / DEACTIVATE; returns the new alarm list and etcd's response (the alarm it
 * changed, or none when it was already so). */
export function applyAlarm(
  dbs: Dbs,
  alarms: readonly AlarmMember[],
  c: AlarmCommand,
): { alarms: AlarmMember[]; response: CommandResponse } {
  const same = (a: AlarmMember) => a.memberId === c.memberId && a.alarm === c.alarm;
  const member: AlarmMember = { memberId: c.memberId, alarm: c.alarm };
  const present = alarms.some(same);
  if (c.action === "activate" ? present : !present) {
    return { alarms: [...alarms], response: { op: "alarm", alarms: [] } };
  }
  const next =
    c.action === "activate"
      ? [...alarms, member].sort((a, b) => a.memberId - b.memberId || a.alarm - b.alarm)
      : alarms.filter((a) => !same(a));
  writeAlarms(dbs, next);
  return { alarms: next, response: { op: "alarm", alarms: [member] } };
}

export function hasNoSpaceAlarm(alarms: readonly AlarmMember[]): boolean {
  return alarms.some((a) => a.alarm === NOSPACE);
}

/** etcd's quota cost > 0: the requests a NOSPACE alarm refuses. */
export function consumesSpace(c: Command | RequestOp): boolean {
  switch (c.op) {
    case "put":
    case "leaseGrant":
    case "contractSet":
      return true;
    case "txn":
      return c.success.some(consumesSpace) || c.failure.some(consumesSpace);
    default:
      return false;
  }
}
