// member list | add | remove | promote over the Cluster service, printed as etcdctl prints them.
import type { Command } from "commander";
import { parseMemberId } from "./ids.ts";
import { hexId, write, writeJson } from "./output.ts";
import { type ConnectionFlags, clientAction, usageError, withConnectionFlags } from "./session.ts";

export function memberLine(member: any): string {
  // etcdctl: a member that has not joined yet has no name.
  const status = member.name === "" ? "unstarted" : "started";
  return `${hexId(member.ID, 0)}, ${status}, ${member.name}, ${member.peerURLs.join(",")}, ${member.clientURLs.join(",")}, ${member.isLearner}\n`;
}

export function addMemberCommands(program: Command): void {
  const member = program.command("member").description("list, add, promote or remove members");
  withConnectionFlags(member.command("list"))
    .description("id, status, name, peer URLs, client URLs, is-learner of each member")
    .action(
      clientAction(async (session, flags: ConnectionFlags) => {
        const response = await session.call("Cluster", "MemberList", {});
        if (flags.writeOut === "json") writeJson(response, "MemberListResponse");
        else write(response.members.map(memberLine).join(""));
      }),
    );
  withConnectionFlags(member.command("add <name>"))
    .description("add a member (then start it with the printed settings)")
    .requiredOption("--peer-urls <urls>", "the new member's peer URLs, comma separated")
    .option("--learner", "add as a non-voting learner (promote it once caught up)")
    .action(
      clientAction(
        async (
          session,
          name: string,
          flags: { peerUrls: string; learner?: boolean } & ConnectionFlags,
        ) => {
          const peerURLs = flags.peerUrls
            .split(",")
            .map((url) => url.trim())
            .filter((url) => url !== "");
          if (peerURLs.length === 0) throw usageError("--peer-urls is empty");
          const response = await session.call("Cluster", "MemberAdd", {
            peerURLs,
            isLearner: flags.learner === true,
          });
          if (flags.writeOut === "json") return writeJson(response, "MemberAddResponse");
          const added = response.member;
          const initial = response.members
            .flatMap((m: any) => {
              const memberName = m.ID === added.ID ? name : m.name;
              return memberName === ""
                ? []
                : m.peerURLs.map((url: string) => `${memberName}=${url}`);
            })
            .join(",");
          write(
            `Member ${hexId(added.ID, 16, " ")} added to cluster ${hexId(response.header.cluster_id, 16, " ")}\n\n` +
              `ETCD_NAME="${name}"\nETCD_INITIAL_CLUSTER="${initial}"\n` +
              `ETCD_INITIAL_ADVERTISE_PEER_URLS="${peerURLs.join(",")}"\nETCD_INITIAL_CLUSTER_STATE="existing"\n`,
          );
        },
      ),
    );
  for (const [verb, method, done] of [
    ["remove", "MemberRemove", "removed from"],
    ["promote", "MemberPromote", "promoted in"],
  ] as const) {
    withConnectionFlags(member.command(`${verb} <id>`))
      .description(
        verb === "remove"
          ? "remove a member (hex id)"
          : "make a caught-up learner a voter (hex id)",
      )
      .action(
        clientAction(async (session, id: string, flags: ConnectionFlags) => {
          const response = await session.call("Cluster", method, { ID: parseMemberId(id) });
          if (flags.writeOut === "json") return writeJson(response, `${method}Response`);
          write(
            `Member ${hexId(parseMemberId(id), 16, " ")} ${done} cluster ${hexId(response.header.cluster_id, 16, " ")}\n`,
          );
        }),
      );
  }
}
