// The same etcdctl 3.4 session (ETCDCTL_API=3, Debian's /usr/bin/etcdctl) against a real etcd
// cluster and a qmesh cluster, compared step by step after normalising what legitimately differs
// (see etcdctl_session.ts). Each section is one test, so a report names the sections that differ.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { status as grpcStatus } from "@grpc/grpc-js";
import { connectEtcd } from "../../src/api/grpc/client.ts";
import type { CtlResult } from "./etcdctl_runner.ts";
import { SECTIONS, type Section, Session, type Step } from "./etcdctl_session.ts";
import { type SystemUnderTest, startEtcd, startQmesh } from "./systems.ts";

describe("etcdctl session: qmesh answers as etcd 3.4 does", { timeout: 240_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), "etcdctl-compat-"));
  const systems: SystemUnderTest[] = [];
  let etcd: Session;
  let qmesh: Session;
  before(async () => {
    const [reference, candidate] = await Promise.all([startEtcd(), startQmesh()]);
    systems.push(reference, candidate);
    etcd = new Session(reference, dir);
    qmesh = new Session(candidate, dir);
  });
  after(async () => {
    await Promise.all(systems.map((system) => system.destroy()));
    rmSync(dir, { recursive: true, force: true });
  });

  for (const section of SECTIONS) {
    it(section.name, async (t) => {
      if (section.requires !== undefined && (await unimplemented(qmesh, section.requires))) {
        const { service, method } = section.requires;
        t.skip(`SKIPPED UNTIL qmesh implements ${service}.${method}`);
        return;
      }
      const differences: string[] = [];
      for (const step of section.steps) {
        const mode = step.mode ?? "exact";
        const expected = etcd.render(await runStep(step, etcd), mode);
        const actual = qmesh.render(await runStep(step, qmesh), mode);
        if (process.env.COMPAT_VERBOSE) {
          process.stderr.write(`--- ${step.name}\n${JSON.stringify(expected, null, 1)}\n`);
        }
        try {
          assert.deepStrictEqual(actual, expected);
        } catch (error) {
          differences.push(`step "${step.name}":\n${(error as Error).message}`);
        }
      }
      assert.equal(differences.length, 0, differences.join("\n\n"));
    });
  }
});

/** A step that cannot even run (its output unparseable) is a difference, not a crash. */
async function runStep(step: Step, session: Session): Promise<CtlResult> {
  try {
    return await step.run(session);
  } catch (error) {
    return { code: -2, stdout: "", stderr: `step threw: ${(error as Error).message}` };
  }
}

async function unimplemented(
  session: Session,
  { service, method }: NonNullable<Section["requires"]>,
): Promise<boolean> {
  const client = connectEtcd(session.system.endpoints[0]!, { timeoutMs: 3_000 });
  try {
    // ID 0 names no member: an implemented service answers "member not found".
    await client.call(service, method, { ID: "0" });
    return false;
  } catch (error) {
    return (error as { code?: number }).code === grpcStatus.UNIMPLEMENTED;
  } finally {
    client.close();
  }
}
