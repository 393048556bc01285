// etcdserverpb.Cluster: MemberAdd, MemberRemove, MemberUpdate, MemberList, MemberPromote.
// etcd's MemberAdd carries peer URLs only: the member's id comes from its peer URL (see
// memberIdFor) and its name arrives when the started member publishes itself through the log.
import type * as grpc from "@grpc/grpc-js";
import type { QmeshNode } from "../../node/node.ts";
import { PeerUrlExistsError } from "../../node/node.ts";
import { type ApiContext, type Reply, responseHeader, unary } from "./context.ts";
import { EtcdErrors } from "./etcd_errors.ts";
import { viaLeader } from "./forward.ts";

export interface MemberPb {
  ID: number;
  name: string;
  peerURLs: string[];
  clientURLs: string[];
  isLearner: boolean;
}

export function memberPb(node: QmeshNode, id: number): MemberPb {
  const member = node.members.get(id);
  return {
    ID: id,
    name: member?.name ?? "",
    peerURLs: member === undefined || member.peerUrl === "" ? [] : [member.peerUrl],
    clientURLs: member === undefined || member.clientUrl === "" ? [] : [member.clientUrl],
    isLearner: node.confState().learners.includes(id),
  };
}

function membersPb(node: QmeshNode): MemberPb[] {
  return node.members.list().map((member) => memberPb(node, member.id));
}

/** uint64 ids arrive as decimal strings; ours are below 2^48, so anything else is unknown. */
function memberId(value: string | number): number {
  const id = Number(value);
  return Number.isSafeInteger(id) && id > 0 ? id : 0;
}

/** etcd accepts several peer URLs per member; a qmesh member listens on exactly one. */
function onePeerUrl(urls: readonly string[]): string {
  if (urls.length !== 1) throw EtcdErrors.memberBadUrls;
  const url = urls[0]!;
  try {
    const parsed = new URL(url);
    if (!["http:", "https:"].includes(parsed.protocol) || parsed.port === "") {
      throw EtcdErrors.memberBadUrls;
    }
  } catch {
    throw EtcdErrors.memberBadUrls;
  }
  return url;
}

function existing(node: QmeshNode, id: number): number {
  if (node.members.get(id) === undefined) throw EtcdErrors.memberNotFound;
  return id;
}

/** etcd's ErrPeerURLexist for a URL already taken; other refusals keep their own message. */
function peerUrlFree<T>(work: Promise<T>): Promise<T> {
  return work.catch((error: Error) => {
    throw error instanceof PeerUrlExistsError ? EtcdErrors.peerUrlExist : error;
  });
}

export function clusterService(ctx: ApiContext): grpc.UntypedServiceImplementation {
  const { node } = ctx;
  return {
    MemberAdd: unary(
      async (pb: { peerURLs: string[]; isLearner: boolean }, call): Promise<Reply<object>> => {
        ctx.auth.checkAdmin(call.metadata);
        const peerUrl = onePeerUrl(pb.peerURLs);
        const forwarded = await viaLeader(node, "Cluster", "MemberAdd", pb, call.metadata);
        if (forwarded !== null) return { response: forwarded };
        const added = await peerUrlFree(node.addMember("", peerUrl, pb.isLearner));
        return {
          response: {
            header: responseHeader(node),
            member: memberPb(node, added.id),
            members: membersPb(node),
          },
        };
      },
    ),
    MemberRemove: unary(async (pb: { ID: string }, call): Promise<Reply<object>> => {
      ctx.auth.checkAdmin(call.metadata);
      const id = existing(node, memberId(pb.ID));
      const forwarded = await viaLeader(node, "Cluster", "MemberRemove", pb, call.metadata);
      if (forwarded !== null) return { response: forwarded };
      await node.removeMember(id);
      return { response: { header: responseHeader(node), members: membersPb(node) } };
    }),
    MemberUpdate: unary(async (pb: { ID: string; peerURLs: string[] }, call) => {
      ctx.auth.checkAdmin(call.metadata);
      const id = existing(node, memberId(pb.ID));
      await peerUrlFree(node.updateMember(id, onePeerUrl(pb.peerURLs)));
      return { response: { header: responseHeader(node), members: membersPb(node) } };
    }),
    MemberList: unary(async (_pb: { linearizable: boolean }) => ({
      response: { header: responseHeader(node), members: membersPb(node) },
    })),
    MemberPromote: unary(async (pb: { ID: string }, call): Promise<Reply<object>> => {
      ctx.auth.checkAdmin(call.metadata);
      const id = existing(node, memberId(pb.ID));
      if (!node.confState().learners.includes(id)) throw EtcdErrors.memberNotLearner;
      const forwarded = await viaLeader(node, "Cluster", "MemberPromote", pb, call.metadata);
      if (forwarded !== null) return { response: forwarded };
      if (!node.learnerCaughtUp(id)) throw EtcdErrors.learnerNotReady;
      await node.promoteMember(id);
      return { response: { header: responseHeader(node), members: membersPb(node) } };
    }),
  };
}
