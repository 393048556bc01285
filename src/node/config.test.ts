import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  ConfigError,
  clusterIdOf,
  memberIdOf,
  parseInitialCluster,
  parseNodeConfig,
} from "./config.ts";

const base = {
  name: "n1",
  listenPeerUrl: "https://127.0.0.1:2380",
  listenClientUrl: "http://127.0.0.1:2379",
  certDir: "certs",
};

describe("node configuration", () => {
  it("fills defaults and resolves paths", () => {
    const config = parseNodeConfig(base);
    assert.equal(config.tickMs, 100);
    assert.equal(config.maxRequestBytes, 1.5 * 1024 * 1024);
    assert.equal(config.initialClusterState, "new");
    assert.deepEqual(config.initialCluster, [{ name: "n1", peerUrl: "https://127.0.0.1:2380" }]);
    assert.ok(config.dataDir.endsWith("/n1.qmesh"));
  });

  it("names the field that is wrong", () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ ...base, name: "" }, /^--name: is required/],
      [{ ...base, name: "bad name" }, /^--name: "bad name" is not a valid member name/],
      [{ ...base, listenClientUrl: "localhost" }, /^--listen-client-url: "localhost" is not/],
      [{ ...base, tickMs: "0" }, /^--tick-ms: must be an integer from 1/],
      [
        { ...base, initialClusterState: "old" },
        /^--initial-cluster-state: must be "new" or "existing"/,
      ],
      [
        { ...base, initialCluster: "n2=https://127.0.0.1:2390" },
        /^--initial-cluster: does not list this member "n1"/,
      ],
      [{ ...base, initialCluster: "n1=https://a:1,n1=https://b:2" }, /lists "n1" twice/],
      [{ ...base, certDir: "" }, /^--cert-dir: https:\/\/ peer URLs need certificates/],
      [{ ...base, bogus: 1 }, /^bogus: unknown setting/],
    ];
    for (const [raw, message] of cases) {
      assert.throws(
        () => parseNodeConfig(raw),
        (error: Error) => {
          assert.ok(error instanceof ConfigError);
          assert.match(error.message, message);
          return true;
        },
      );
    }
  });

  it("derives stable, distinct member ids, and a cluster id from the token", () => {
    const a = memberIdOf("n1", "https://127.0.0.1:2380", "t");
    assert.equal(a, memberIdOf("n1", "https://127.0.0.1:2380", "t"));
    assert.notEqual(a, memberIdOf("n1", "https://127.0.0.1:2381", "t"));
    assert.notEqual(a, memberIdOf("n1", "https://127.0.0.1:2380", "u"));
    assert.ok(Number.isSafeInteger(a) && a > 0);
    assert.equal(clusterIdOf("t"), clusterIdOf("t"));
    assert.notEqual(clusterIdOf("t"), clusterIdOf("u"));
    assert.deepEqual(parseInitialCluster("n1=https://127.0.0.1:1,n2=https://127.0.0.1:2"), [
      { name: "n1", peerUrl: "https://127.0.0.1:1" },
      { name: "n2", peerUrl: "https://127.0.0.1:2" },
    ]);
  });
});
