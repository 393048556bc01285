// TLS on the client port with etcd's flags (--cert-file, --key-file, --trusted-ca-file,
// --client-cert-auth) and certificates from `qmesh certs`: etcdctl with a client certificate is
// served, a client without one is refused, and bad files stop the member with a clear message.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { request as httpsRequest } from "node:https";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { BIN, freePorts, TestCluster } from "./harness.ts";

function run(command: string, args: readonly string[]) {
  const result = spawnSync(command, args, {
    encoding: "utf8",
    timeout: 20_000,
    env: { ...process.env, ETCDCTL_API: "3" },
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe("client port TLS with etcd's flags", { timeout: 90_000 }, () => {
  const cluster = new TestCluster();
  const file = (name: string) => join(cluster.certDir, name);
  let endpoint = "";
  before(async () => {
    const [spec] = await cluster.define(["n1"]);
    // A client certificate from `qmesh certs`, signed by the same development CA.
    const certs = run(process.execPath, [BIN, "certs", "client", "--dir", cluster.certDir]);
    assert.equal(certs.code, 0, certs.stderr);
    endpoint = spec!.clientUrl.replace("http:", "https:");
    cluster.specs.set("n1", { ...spec!, clientUrl: endpoint });
    await cluster.start("n1", ["n1"], "new", [
      "--cert-file",
      file("n1.crt"),
      "--key-file",
      file("n1.key"),
      "--trusted-ca-file",
      file("ca.crt"),
      "--client-cert-auth",
    ]);
  });
  after(() => cluster.destroy());

  const etcdctl = (args: readonly string[]) =>
    run("etcdctl", [
      `--endpoints=${endpoint}`,
      "--dial-timeout=3s",
      "--command-timeout=5s",
      `--cacert=${file("ca.crt")}`,
      ...args,
    ]);

  it("serves etcdctl with a client certificate", () => {
    const withCert = [`--cert=${file("client.crt")}`, `--key=${file("client.key")}`];
    const put = etcdctl([...withCert, "put", "x", "secret"]);
    assert.equal(put.code, 0, put.stderr);
    const get = etcdctl([...withCert, "get", "x"]);
    assert.equal(get.code, 0, get.stderr);
    assert.equal(get.stdout, "x\nsecret\n");
  });

  it("refuses a client without a certificate", async () => {
    const get = etcdctl(["get", "x"]);
    assert.notEqual(get.code, 0);
    assert.doesNotMatch(get.stdout, /secret/);
    // An HTTPS client that trusts the CA but presents no certificate is cut off in the
    // handshake, while the same client with a certificate is answered.
    const ask = (withCert: boolean) =>
      new Promise<number>((resolve, reject) => {
        const request = httpsRequest(`${endpoint}/v3/kv/range`, {
          method: "POST",
          ca: readFileSync(file("ca.crt")),
          ...(withCert
            ? { cert: readFileSync(file("client.crt")), key: readFileSync(file("client.key")) }
            : {}),
          timeout: 5_000,
        });
        request.on("response", (response) => {
          response.resume();
          resolve(response.statusCode ?? 0);
        });
        request.on("error", reject);
        request.end(JSON.stringify({ key: Buffer.from("x").toString("base64") }));
      });
    assert.equal(await ask(true), 200);
    await assert.rejects(ask(false), /certificate required|socket hang up|ECONNRESET/);
  });

  it("stops at startup, naming the flag, when a file is missing or the key is not the cert's", async () => {
    const [client, peer] = await freePorts(2);
    const start = (extra: readonly string[]) =>
      run(process.execPath, [
        BIN,
        "start",
        "--name",
        "n9",
        "--data-dir",
        join(cluster.dir, "n9"),
        "--listen-peer-urls",
        `http://127.0.0.1:${peer}`,
        "--listen-client-urls",
        `https://127.0.0.1:${client}`,
        ...extra,
      ]);
    const noFiles = start([]);
    assert.equal(noFiles.code, 2);
    assert.match(
      noFiles.stderr,
      /--cert-file: client URL https:\/\/.* pass --cert-file and --key-file/,
    );
    const missing = start(["--cert-file", file("nope.crt"), "--key-file", file("n1.key")]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /--cert-file: .*nope\.crt does not exist/);
    const mismatch = start(["--cert-file", file("n1.crt"), "--key-file", file("client.key")]);
    assert.equal(mismatch.code, 1);
    assert.match(mismatch.stderr, /--key-file: .*client\.key is not the key of .*n1\.crt/);
  });
});
