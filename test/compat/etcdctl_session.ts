// One scripted etcdctl session, run step by step against a system, with every output normalised
// for what legitimately differs between two clusters: member, cluster and lease ids (labelled by
// what they name), URLs and ports, the starting revision (revisions are printed relative to it),
// timestamps, durations, temp paths, the version string. Everything else, including error text
// and exit codes, is compared as etcdctl printed it.
import { existsSync, mkdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { eventually } from "../process/harness.ts";
import { type CtlOptions, type CtlResult, etcdctl, hex, parseJsonExact } from "./etcdctl_runner.ts";
import { EXTRA, NAMES, type SystemUnderTest } from "./systems.ts";

/**
 * etcdctl 3.4's per-endpoint commands dial each endpoint as given and send it, scheme included,
 * as the HTTP/2 :authority, which Node's HTTP/2 server refuses ('/' is not allowed there); etcd
 * (Go) accepts it. Both systems get host:port here; docs/api.md states the difference.
 */
function hostPorts(s: { system: { endpoints: readonly string[] } }): string[] {
  return s.system.endpoints.map((url) => url.replace(/^https?:\/\//, ""));
}

export type Mode = "exact" | "kvs" | "sorted" | "status-shape" | "hash-shape" | "snapshot";

export interface Step {
  readonly name: string;
  readonly mode?: Mode;
  run(session: Session): Promise<CtlResult>;
}

export interface Section {
  readonly name: string;
  readonly steps: readonly Step[];
  /** A gRPC method the section cannot run without: while qmesh answers it Unimplemented, the
   * section is skipped (and says so) instead of failing on a service still being written. */
  readonly requires?: { readonly service: "Cluster"; readonly method: string };
}

export class Session {
  /** The revision of the session's first write; every revision in the script is relative to it. */
  base = 0;
  readonly ids = new Map<string, string>();
  readonly values = new Map<string, string>();

  constructor(
    readonly system: SystemUnderTest,
    readonly dir: string,
  ) {}

  get endpoint(): string[] {
    return [this.system.endpoints[0]!];
  }

  rev(offset: number): string {
    return String(this.base + offset);
  }

  ctl(args: readonly string[], options?: CtlOptions, endpoints = this.endpoint) {
    return etcdctl(endpoints, args, options);
  }

  label(raw: string, label: string): void {
    this.ids.set(raw, label);
  }

  normalise(text: string): string {
    let out = text;
    const known = [...this.ids].sort((a, b) => b[0].length - a[0].length);
    for (const [raw, label] of known) out = out.replace(new RegExp(`\\b${raw}\\b`, "g"), label);
    return (
      out
        .replace(/https?:\/\/127\.0\.0\.1:\d+/g, "URL")
        .replace(/127\.0\.0\.1:\d+/g, "HOSTPORT")
        .replace(/took = \S+/g, "took = T")
        .replace(/"ts":"[^"]*"/g, '"ts":"T"')
        .replace(/endpoint:\/\/client-[0-9a-f-]+/g, "endpoint://client-X")
        .replace(/remaining\(\d+s\)/g, "remaining(Rs)")
        // etcdctl prints ids with %16x: a shorter id is space-padded.
        .replace(/ +(ID\(\w+\)|CLUSTER|LEASE_\w)/g, " $1")
        // Attached keys come from a Go map in etcd: their order is not defined.
        .replace(/attached keys\(\[([^\]]*)\]\)/g, (_, keys: string) => {
          return `attached keys([${keys.split(" ").sort().join(" ")}])`;
        })
        .replace(
          /compacted revision (\d+)/g,
          (_, n) => `compacted revision B+${Number(n) - this.base}`,
        )
        .replace(new RegExp(this.dir.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"), "g"), "DIR")
        .replace(/DIR\/(etcd|qmesh)\//g, "DIR/")
    );
  }

  /** What a step's output is compared as. */
  render(result: CtlResult, mode: Mode): unknown {
    const code = result.code;
    const stdout = this.normalise(result.stdout);
    const stderr = this.normalise(result.stderr);
    switch (mode) {
      case "exact":
        return { code, stdout, stderr };
      case "sorted":
        return { code, stdout: stdout.split("\n").sort(), stderr: stderr.split("\n").sort() };
      case "kvs":
        return { code, kvs: this.kvs(result.stdout), stderr };
      case "status-shape":
        return { code, rows: shapeRows(stdout), stderr };
      case "hash-shape":
        return { code, rows: shapeRows(stdout), stderr, agree: hashesAgree(result.stdout) };
      case "snapshot":
        return { code, saved: stdout.split("\n").filter((l) => l.startsWith("Snapshot saved")) };
    }
  }

  /** etcdctl prints lease ids with %016x (zero-padded); JSON gives them in decimal. */
  leaseLabel(decimal: string): string {
    const id = hex(decimal);
    return this.ids.get(id) ?? this.ids.get(id.padStart(16, "0")) ?? `unknown lease ${decimal}`;
  }

  kvs(text: string): unknown {
    if (!text.trimStart().startsWith("{")) return this.normalise(text);
    const body = parseJsonExact(text) as { kvs?: Record<string, unknown>[]; count?: unknown };
    const relative = (value: unknown) =>
      value === undefined ? undefined : Number(value) - this.base;
    return {
      count: body.count,
      kvs: (body.kvs ?? []).map((kv) => ({
        key: Buffer.from(String(kv.key), "base64").toString(),
        value:
          kv.value === undefined ? undefined : Buffer.from(String(kv.value), "base64").toString(),
        create_revision: relative(kv.create_revision),
        mod_revision: relative(kv.mod_revision),
        version: kv.version,
        lease: kv.lease === undefined ? undefined : this.leaseLabel(String(kv.lease)),
      })),
    };
  }
}

/** Endpoint status / hashkv rows reduced to their shape: field kinds, not values. */
function shapeRows(text: string): string[] {
  return text
    .trim()
    .split("\n")
    .filter((line) => line !== "")
    .map((line) =>
      line
        .trim()
        .split(/, ?/)
        .map((field) => {
          if (field === "URL" || field.startsWith("ID(")) return field.replace(/\(.*\)/, "");
          if (/^\d+(\.\d+)?\s*[kMG]?B$/.test(field)) return "SIZE";
          if (/^\d+\.\d+\.\d+(-qmesh)?$/.test(field)) return "VERSION";
          if (/^\d+$/.test(field)) return "N";
          if (field === "true" || field === "false") return "BOOL";
          return field;
        })
        .join(", "),
    )
    .sort();
}

function hashesAgree(text: string): boolean {
  const hashes = text
    .trim()
    .split("\n")
    .map((line) => line.split(", ")[1]);
  return new Set(hashes).size === 1;
}

const step = (name: string, args: (s: Session) => string[], mode: Mode = "exact"): Step => ({
  name,
  mode,
  run: (s) => s.ctl(args(s)),
});
const fixed = (args: string[], mode: Mode = "exact"): Step =>
  step(args.join(" "), () => args, mode);

/** Reads the ids every later step's output is normalised with. */
async function learnIds(s: Session): Promise<CtlResult> {
  const base = await s.ctl(["put", "base", "x", "-w", "json"]);
  s.base = Number(
    (parseJsonExact(base.stdout) as { header: { revision: string } }).header.revision,
  );
  const list = await s.ctl(["member", "list", "-w", "json"]);
  if (list.code !== 0) return list;
  const body = parseJsonExact(list.stdout) as {
    header: { cluster_id: string };
    members: { ID: string; name: string }[];
  };
  s.label(hex(body.header.cluster_id), "CLUSTER");
  for (const member of body.members) s.label(hex(member.ID), `ID(${member.name})`);
  return {
    code: list.code,
    stdout: body.members
      .map((m) => m.name)
      .sort()
      .join(","),
    stderr: "",
  };
}

/** etcdctl txn -i input: each block (compares, success ops, failure ops) ends at a blank line. */
const txn = (compare: string, success: string, failure: string) =>
  [compare, success, failure].map((block) => (block === "" ? "\n" : `${block}\n\n`)).join("");

const BIG_VALUE = "v".repeat(1_600_000);

export const SECTIONS: readonly Section[] = [
  {
    name: "kv: put, get, del",
    steps: [
      { name: "learn ids and base revision", run: learnIds },
      fixed(["put", "foo", "bar"]), // base+1
      fixed(["put", "foo1", "bar1"]), // +2
      fixed(["put", "foo2", "bar2"]), // +3
      fixed(["put", "fop", "x"]), // +4
      fixed(["put", "zoo", "z"]), // +5
      fixed(["put", "foo", "baz"]), // +6
      fixed(["get", "foo"]),
      fixed(["get", "foo", "--prefix"]),
      fixed(["get", "foo", "--prefix", "--limit=2"]),
      fixed(["get", "foo", "--prefix", "--sort-by=KEY", "--order=DESCEND"]),
      fixed(["get", "foo", "--prefix", "--sort-by=MODIFY", "--order=ASCEND"]),
      fixed(["get", "foo", "--prefix", "--sort-by=CREATE", "--order=DESCEND"]),
      fixed(["get", "foo", "--prefix", "--sort-by=VALUE", "--order=DESCEND"]),
      fixed(["get", "foo", "--prefix", "--keys-only"]),
      fixed(["get", "foo", "--print-value-only"]),
      fixed(["get", "foo", "fop"]),
      fixed(["get", "--from-key", "fop"]),
      fixed(["get", "foo", "--prefix", "-w", "json"], "kvs"),
      fixed(["get", "foo", "--prefix", "--limit=1", "-w", "json"], "kvs"),
      step("get foo --rev=base+1", (s) => ["get", "foo", `--rev=${s.rev(1)}`]),
      step("get foo --prefix --rev=base+2", (s) => ["get", "foo", "--prefix", `--rev=${s.rev(2)}`]),
      step("get foo --rev=base+1000 (future)", (s) => ["get", "foo", `--rev=${s.rev(1000)}`]),
      fixed(["del", "foo1"]),
      fixed(["del", "nothing"]),
      fixed(["del", "foo", "--prefix", "--prev-kv"]),
      fixed(["get", "foo", "--prefix"]),
      fixed(["put", "", "x"]),
      fixed(["put", "foo", "--ignore-value"]),
      fixed(["put", "k", "v", "--lease=1234abcd"]),
      {
        name: "put big (value over --max-request-bytes, from stdin)",
        run: (s) => s.ctl(["put", "big"], { stdin: BIG_VALUE }),
      },
      fixed(["get", "zoo", "-w", "json"], "kvs"),
    ],
  },
  {
    name: "txn (interactive)",
    steps: [
      {
        name: "txn success",
        run: (s) =>
          s.ctl(["txn", "-i"], {
            stdin: txn('value("zoo") = "z"', "put zoo z2\nget zoo", "get zoo"),
          }),
      },
      {
        name: "txn failure",
        run: (s) =>
          s.ctl(["txn", "-i"], { stdin: txn('value("zoo") = "nope"', "put zoo z3", "get zoo") }),
      },
      {
        name: "txn mod and version compares, del",
        run: (s) =>
          s.ctl(["txn", "-i"], {
            stdin: txn('mod("zoo") > "0"\nversion("zoo") = "2"', "del zoo\nput zoo2 y", "get zoo"),
          }),
      },
      {
        name: "txn with create compare, multiple ops",
        run: (s) =>
          s.ctl(["txn", "-i"], {
            stdin: txn('create("absent") = "0"', "put t1 a\nput t2 b", "put t3 c"),
          }),
      },
      fixed(["get", "t", "--prefix"]),
      { name: "txn malformed compare", run: (s) => s.ctl(["txn", "-i"], { stdin: "bogus\n\n" }) },
    ],
  },
  {
    name: "watch",
    steps: [
      {
        name: "watch foo --prefix --rev=base+1 (history)",
        run: (s) => s.ctl(["watch", "foo", "--prefix", `--rev=${s.rev(1)}`], { runForMs: 1_500 }),
      },
      {
        name: "watch live/ --prefix --prev-kv (live events)",
        run: (s) =>
          s.ctl(["watch", "live/", "--prefix", "--prev-kv"], {
            during: async () => {
              await s.ctl(["put", "live/a", "1"]);
              await s.ctl(["put", "live/a", "2"]);
              await s.ctl(["del", "live/a"]);
            },
            runForMs: 800,
          }),
      },
      {
        name: "watch with a txn event",
        run: (s) =>
          s.ctl(["watch", "w1", "w3"], {
            during: async () => {
              await s.ctl(["txn", "-i"], { stdin: txn("", "put w1 a\nput w2 b\nput w3 c", "") });
            },
            runForMs: 800,
          }),
      },
    ],
  },
  {
    name: "lease",
    steps: [
      {
        name: "lease grant 60",
        run: async (s) => {
          const result = await s.ctl(["lease", "grant", "60"]);
          const id = /lease (\w+) granted/.exec(result.stdout)?.[1];
          if (id !== undefined) {
            s.label(id, "LEASE_A");
            s.values.set("leaseA", id);
          }
          return result;
        },
      },
      step("put lk lv --lease=A", (s) => ["put", "lk", "lv", `--lease=${s.values.get("leaseA")}`]),
      step("put lk2 lv --lease=A", (s) => ["put", "lk2", "v", `--lease=${s.values.get("leaseA")}`]),
      fixed(["get", "lk", "-w", "json"], "kvs"),
      step("keep-alive --once", (s) => ["lease", "keep-alive", "--once", s.values.get("leaseA")!]),
      step("timetolive --keys", (s) => ["lease", "timetolive", s.values.get("leaseA")!, "--keys"]),
      fixed(["lease", "list"]),
      step("revoke", (s) => ["lease", "revoke", s.values.get("leaseA")!]),
      fixed(["get", "lk", "--prefix"]),
      step("timetolive after revoke", (s) => ["lease", "timetolive", s.values.get("leaseA")!]),
      step("revoke again", (s) => ["lease", "revoke", s.values.get("leaseA")!]),
      step("keep-alive --once revoked", (s) => [
        "lease",
        "keep-alive",
        "--once",
        s.values.get("leaseA")!,
      ]),
      {
        name: "lease grant 0",
        run: async (s) => {
          const result = await s.ctl(["lease", "grant", "0"]);
          const id = /lease (\w+) granted/.exec(result.stdout)?.[1];
          if (id !== undefined) s.label(id, "LEASE_B");
          // The minimum TTL is 1.5 election timeouts: etcd's default ticks vs the harness's.
          return { ...result, stdout: result.stdout.replace(/TTL\(\d+s\)/, "TTL(MIN)") };
        },
      },
      fixed(["lease", "grant", "99999999999"]),
    ],
  },
  {
    name: "cluster and endpoints",
    steps: [
      fixed(["member", "list"], "sorted"),
      {
        name: "endpoint status (all)",
        mode: "status-shape",
        run: (s) => s.ctl(["endpoint", "status"], {}, hostPorts(s)),
      },
      {
        name: "endpoint health (all)",
        mode: "sorted",
        run: (s) => s.ctl(["endpoint", "health"], {}, hostPorts(s)),
      },
      {
        name: "endpoint hashkv (all)",
        mode: "hash-shape",
        run: (s) => s.ctl(["endpoint", "hashkv"], {}, hostPorts(s)),
      },
      { name: "move-leader to a follower", run: moveLeader },
      {
        name: "move-leader via a follower endpoint",
        run: async (s) => {
          const { follower, target } = await leadership(s);
          return s.ctl(["move-leader", target], {}, [follower]);
        },
      },
      fixed(["alarm", "list"]),
    ],
  },
  {
    name: "membership: learner add, promote, remove",
    requires: { service: "Cluster", method: "MemberPromote" },
    steps: [
      {
        name: "member add m4 --learner",
        run: async (s) => {
          const { peerUrl } = await s.system.extraUrls();
          const result = await s.ctl([
            "member",
            "add",
            EXTRA,
            "--learner",
            `--peer-urls=${peerUrl}`,
          ]);
          const id = /Member\s+(\w+) added/.exec(result.stdout)?.[1];
          if (id !== undefined) s.label(id, `ID(${EXTRA})`);
          const initial = /ETCD_INITIAL_CLUSTER="([^"]*)"/.exec(result.stdout)?.[1] ?? "";
          s.values.set("initial", initial);
          // The order of members in ETCD_INITIAL_CLUSTER follows their ids: compare as a set.
          const stdout = result.stdout.replace(initial, initial.split(",").sort().join(","));
          return { ...result, stdout };
        },
      },
      step("member promote m4 before it started", (s) => ["member", "promote", idOf(s, EXTRA)]),
      fixed(["member", "list"], "sorted"),
      {
        name: "start m4 and promote once in sync",
        run: async (s) => {
          await s.system.startExtra(s.values.get("initial")!);
          return eventually(async () => {
            const result = await s.ctl(["member", "promote", idOf(s, EXTRA)]);
            if (result.code !== 0) throw new Error(result.stderr);
            return result;
          }, 20_000);
        },
      },
      fixed(["member", "list"], "sorted"),
      step("member remove m4", (s) => ["member", "remove", idOf(s, EXTRA)]),
      step("member remove m4 again", (s) => ["member", "remove", idOf(s, EXTRA)]),
      fixed(["member", "remove", "1234"]),
      fixed(["member", "promote", "1234"]),
      fixed(["member", "list"], "sorted"),
    ],
  },
  {
    name: "maintenance: snapshot, compaction",
    steps: [
      {
        name: "snapshot save",
        mode: "snapshot",
        run: async (s) => {
          mkdirSync(join(s.dir, s.system.label), { recursive: true });
          const file = join(s.dir, s.system.label, "snapshot.db");
          const result = await s.ctl(["snapshot", "save", file]);
          const size = existsSync(file) ? statSync(file).size : 0;
          return { ...result, code: size > 0 ? result.code : -1 };
        },
      },
      step("compaction base+3", (s) => ["compaction", s.rev(3)]),
      step("get foo --rev=base+2 (compacted)", (s) => ["get", "foo", `--rev=${s.rev(2)}`]),
      step("get foo --rev=base+3 (the compacted revision)", (s) => [
        "get",
        "foo",
        `--rev=${s.rev(3)}`,
      ]),
      step("compaction base+2 again", (s) => ["compaction", s.rev(2)]),
      step("compaction base+1000 (future)", (s) => ["compaction", s.rev(1000)]),
      {
        name: "watch from a compacted revision",
        run: (s) => s.ctl(["watch", "foo", `--rev=${s.rev(1)}`], { runForMs: 1_500 }),
      },
    ],
  },
  {
    name: "auth",
    steps: [
      fixed(["auth", "enable"]),
      fixed(["user", "add", "root", "--new-user-password=rootpw"]),
      fixed(["user", "add", "root", "--new-user-password=rootpw"]),
      fixed(["role", "add", "reader"]),
      fixed(["role", "add", "reader"]),
      fixed(["role", "grant-permission", "reader", "read", "auth/", "--prefix=true"]),
      fixed(["user", "add", "alice", "--new-user-password=alicepw"]),
      fixed(["user", "grant-role", "alice", "reader"]),
      fixed(["user", "grant-role", "alice", "nosuchrole"]),
      fixed(["user", "grant-role", "bob", "reader"]),
      fixed(["role", "get", "reader"]),
      fixed(["user", "get", "alice"]),
      fixed(["user", "list"]),
      fixed(["role", "list"]),
      fixed(["auth", "enable"]),
      fixed(["put", "auth/x", "1"]),
      fixed(["--user=root:rootpw", "put", "auth/x", "1"]),
      fixed(["--user=alice:alicepw", "get", "auth/x"]),
      fixed(["--user=alice:alicepw", "put", "auth/x", "2"]),
      fixed(["--user=alice:alicepw", "get", "other"]),
      fixed(["--user=alice:wrong", "get", "auth/x"]),
      fixed(["--user=alice:alicepw", "user", "add", "eve", "--new-user-password=x"]),
      fixed(["--user=root:rootpw", "auth", "disable"]),
      fixed(["get", "auth/x"]),
      fixed(["auth", "disable"]),
    ],
  },
];

function idOf(s: Session, name: string): string {
  for (const [raw, label] of s.ids) if (label === `ID(${name})`) return raw;
  throw new Error(`no id for ${name}`);
}

async function leadership(s: Session) {
  const status = await s.ctl(["endpoint", "status", "-w", "json"], {}, hostPorts(s));
  const rows = parseJsonExact(status.stdout) as {
    Endpoint: string;
    Status: { header: { member_id: string }; leader: string };
  }[];
  const leaderRow = rows.find((r) => r.Status.leader === r.Status.header.member_id);
  const followerRow = rows.find((r) => r.Status.leader !== r.Status.header.member_id);
  if (leaderRow === undefined || followerRow === undefined) {
    throw new Error(`no leader/follower in ${status.stdout} ${status.stderr}`);
  }
  return {
    leader: leaderRow.Endpoint,
    leaderId: hex(leaderRow.Status.header.member_id),
    follower: followerRow.Endpoint,
    target: hex(followerRow.Status.header.member_id),
  };
}

async function moveLeader(s: Session): Promise<CtlResult> {
  const { leader, leaderId, target } = await leadership(s);
  const result = await s.ctl(["move-leader", target], {}, [leader]);
  // Which member leads differs between the two clusters: name the roles instead.
  const roles = (text: string) => text.replace(leaderId, "LEADER").replace(target, "TARGET");
  return { ...result, stdout: roles(result.stdout), stderr: roles(result.stderr) };
}

export { NAMES };
