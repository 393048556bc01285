// The namespace network drops what it is told to and nothing else: a one-way cut stops one
// direction only, clients on the bridge still reach a cut-off member, heal restores every link,
// and close leaves no namespace or bridge behind.
import assert from "node:assert/strict";
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { after, before, describe, it } from "node:test";
import { NetnsNetwork, netnsAvailable } from "./netns_network.ts";

/** A one-line TCP server inside a member's namespace that answers its own name. */
const SERVER =
  "require('net').createServer(s=>s.end(process.argv[1])).listen(2380,process.argv[2])";
/** Connects from a namespace (or the host) and prints what it got, or "timeout". */
const PROBE =
  "const s=require('net').connect(2380,process.argv[1]);s.setTimeout(600,()=>{console.log('timeout');process.exit(0)});s.on('data',d=>{console.log(String(d));process.exit(0)});s.on('error',e=>{console.log(e.code);process.exit(0)})";

const available = await netnsAvailable();

describe("the network-namespace network", { skip: available.ok ? false : available.why }, () => {
  const network = new NetnsNetwork(249);
  const servers: ChildProcess[] = [];
  const address = new Map<string, string>();

  before(async () => {
    for (const name of ["a", "b", "c"]) {
      const endpoints = await network.addMember(name);
      const host = new URL(endpoints.peerUrl).hostname;
      address.set(name, host);
      const argv = network.command(name, [process.execPath, "-e", SERVER, name, host]);
      servers.push(spawn(argv[0]!, argv.slice(1), { stdio: "ignore" }));
    }
    // The servers listen within a few ms; give slow machines a margin.
    await new Promise((resolve) => setTimeout(resolve, 400));
  });

  after(async () => {
    await Promise.all(
      servers.map((child) => new Promise((resolve) => child.once("exit", resolve).kill("SIGKILL"))),
    );
    await network.close();
  });

  const probe = (from: string | null, to: string): string => {
    const argv = [process.execPath, "-e", PROBE, address.get(to)!];
    const command = from === null ? argv : network.command(from, argv);
    return execFileSync(command[0]!, command.slice(1)).toString().trim();
  };

  it("delivers between members and from the host", () => {
    assert.equal(probe("a", "b"), "b");
    assert.equal(probe(null, "c"), "c");
  });

  it("a cut drops one direction only, and the host still reaches the cut-off member", async () => {
    await network.cut("a", "b");
    assert.equal(probe("a", "b"), "timeout");
    assert.equal(probe("c", "b"), "b");
    assert.equal(probe(null, "b"), "b");
    await network.heal();
    assert.equal(probe("a", "b"), "b");
  });

  it("close removes the namespaces and the bridge", async () => {
    await Promise.all(
      servers.map((child) => new Promise((resolve) => child.once("exit", resolve).kill("SIGKILL"))),
    );
    servers.length = 0;
    await network.close();
    const namespaces = execFileSync("ip", ["netns", "list"]).toString();
    assert.doesNotMatch(namespaces, /qmf249-/);
    const links = execFileSync("ip", ["-br", "link"]).toString();
    assert.doesNotMatch(links, /qmf249/);
  });
});
