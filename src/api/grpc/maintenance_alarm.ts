// Maintenance.Alarm: GET lists the applied alarms; ACTIVATE / DEACTIVATE go through the log so
// every member holds the same alarms (etcd's alarm store). `etcdctl alarm disarm` lists, then
// deactivates each alarm it got.
import * as grpc from "@grpc/grpc-js";
import type { AlarmMember, AlarmType } from "../../kv/index.ts";
import { type ApiContext, type Reply, responseHeader } from "./context.ts";
import { RpcError } from "./etcd_errors.ts";
import { applied } from "./kv_service.ts";

export interface AlarmRequestPb {
  action: number;
  memberID: string;
  alarm: number;
}

const GET = 0;
const ACTIVATE = 1;
const DEACTIVATE = 2;
const NONE = 0;
const ALARM_NAMES = ["NONE", "NOSPACE", "CORRUPT"] as const;

function alarmPb(a: AlarmMember): { memberID: string; alarm: number } {
  return { memberID: String(a.memberId), alarm: a.alarm };
}

/** As etcd's Status.errors: the AlarmMember in protobuf text form, decimal id, trailing space. */
export function alarmText(a: AlarmMember): string {
  return `memberID:${a.memberId} alarm:${ALARM_NAMES[a.alarm]} `;
}

export async function alarm(
  ctx: ApiContext,
  pb: AlarmRequestPb,
  metadata: grpc.Metadata,
): Promise<Reply<object>> {
  const { node } = ctx;
  if (pb.alarm < NONE || pb.alarm >= ALARM_NAMES.length) {
    throw new RpcError(grpc.status.INVALID_ARGUMENT, `etcdserver: unknown alarm type ${pb.alarm}`);
  }
  if (pb.action === GET) {
    const alarms = node.kv.alarms.filter((a) => pb.alarm === NONE || a.alarm === pb.alarm);
    return { response: { header: responseHeader(node), alarms: alarms.map(alarmPb) } };
  }
  if (pb.action !== ACTIVATE && pb.action !== DEACTIVATE) {
    throw new RpcError(
      grpc.status.INVALID_ARGUMENT,
      `etcdserver: unknown alarm action ${pb.action}`,
    );
  }
  ctx.auth.checkAdmin(metadata);
  const memberId = Number(pb.memberID);
  if (!Number.isSafeInteger(memberId) || memberId < 0) {
    throw new RpcError(
      grpc.status.INVALID_ARGUMENT,
      "etcdserver: member ids in qmesh are integers below 2^53",
    );
  }
  // Activating or clearing NONE changes nothing (etcd answers with no alarms).
  if (pb.alarm === NONE) return { response: { header: responseHeader(node), alarms: [] } };
  const result = applied(
    node,
    await node.propose({
      op: "alarm",
      action: pb.action === ACTIVATE ? "activate" : "deactivate",
      memberId,
      alarm: pb.alarm as AlarmType,
    }),
  );
  const changed = result.response.op === "alarm" ? result.response.alarms : [];
  return {
    response: { header: responseHeader(node, result.revision), alarms: changed.map(alarmPb) },
    ledgerIndex: result.ledgerIndex,
  };
}
