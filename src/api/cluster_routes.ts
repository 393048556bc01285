// Cluster and maintenance endpoints (etcd's Cluster and Maintenance services, JSON form).
import type { QmeshNode } from "../node/node.ts";
import { ApiError, GrpcCode, header, type Route } from "./common.ts";
import { BadRequestError, intField, type Json } from "./json.ts";

function memberJson(node: QmeshNode, id: number): Json {
  const member = node.members.get(id);
  const confState = node.confState();
  const out: Json = {
    ID: String(id),
    name: member?.name ?? "",
    peerURLs: member === undefined ? [] : [member.peerUrl],
    clientURLs: member === undefined || member.clientUrl === "" ? [] : [member.clientUrl],
  };
  if (confState.learners.includes(id)) out.isLearner = true;
  return out;
}

function memberList(node: QmeshNode): Json[] {
  return node.members.list().map((member) => memberJson(node, member.id));
}

export const clusterRoutes: Record<string, Route> = {
  "/v3/cluster/member/list": async (node) => ({ header: header(node), members: memberList(node) }),
  "/v3/cluster/member/add": async (node, body) => {
    const urls = body.peerURLs;
    if (!Array.isArray(urls) || urls.length !== 1 || typeof urls[0] !== "string") {
      throw new BadRequestError('"peerURLs" must list exactly one peer URL');
    }
    const name = typeof body.name === "string" && body.name !== "" ? body.name : null;
    if (name === null)
      throw new BadRequestError('"name" is required (qmesh derives member ids from it)');
    const added = await node.addMember(name, urls[0], body.isLearner === true);
    return { header: header(node), member: memberJson(node, added.id), members: memberList(node) };
  },
  "/v3/cluster/member/remove": async (node, body) => {
    await node.removeMember(intField(body, "ID", 1));
    return { header: header(node), members: memberList(node) };
  },
  "/v3/cluster/member/promote": async (node, body) => {
    await node.promoteMember(intField(body, "ID", 1));
    return { header: header(node), members: memberList(node) };
  },
  "/v3/maintenance/status": async (node) => {
    const status = node.status();
    return {
      header: header(node),
      version: "qmesh",
      leader: String(status.leader),
      raftIndex: String(status.commitIndex),
      raftTerm: String(status.term),
      raftAppliedIndex: String(status.appliedIndex),
      isLearner: status.isLearner,
    };
  },
  // etcd's HashKV answers a CRC of the key space; ours is SHA-256 over the whole MVCC state
  // (history, leases, revisions, applied index), so equal hashes mean byte-identical members.
  "/v3/maintenance/hashkv": async (node) => {
    const status = node.status();
    return {
      header: header(node),
      hash: node.kv.hashState(),
      compact_revision: String(node.kv.compactRevision),
      raftAppliedIndex: String(status.appliedIndex),
    };
  },
  "/qmesh/v1/fault": async (node, body) => {
    if (body.clear === true) {
      node.setFault(null);
      return { header: header(node) };
    }
    const names = (field: string): string[] => {
      const value = body[field] ?? [];
      if (!Array.isArray(value) || value.some((v) => typeof v !== "string")) {
        throw new BadRequestError(`"${field}" must be a list of member names`);
      }
      return value as string[];
    };
    const lossRate = Number(body.lossRate ?? 0);
    if (!(lossRate >= 0 && lossRate <= 1))
      throw new BadRequestError('"lossRate" must be from 0 to 1');
    node.setFault({
      delayMs: intField(body, "delayMs"),
      lossRate,
      blockedTo: names("blockedTo"),
      blockedFrom: names("blockedFrom"),
    });
    return { header: header(node) };
  },
  "/v3/maintenance/transfer-leadership": async (node, body) => {
    const target = intField(body, "targetID", 1);
    if (node.members.get(target) === undefined) {
      throw new ApiError(404, GrpcCode.NotFound, `member ${target} is not in the cluster`);
    }
    node.transferLeadership(target);
    return { header: header(node) };
  },
};
