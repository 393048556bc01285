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
  listenPeerUrls: "https://127.0.0.1:2380",
  listenClientUrls: "http://127.0.0.1:2379",
  certDir: "certs",
};
const HOUR = 60 * 60 * 1000;

function refuses(raw: Record<string, unknown>, message: RegExp): void {
  assert.throws(
    () => parseNodeConfig(raw),
    (error: Error) => {
      assert.ok(error instanceof ConfigError, String(error));
      assert.match(error.message, message);
      return true;
    },
  );
}

describe("node configuration", () => {
  it("fills etcd's defaults and resolves paths", () => {
    const config = parseNodeConfig(base);
    assert.equal(config.tickMs, 100);
    assert.equal(config.electionTicks, 10);
    assert.equal(config.maxRequestBytes, 1.5 * 1024 * 1024);
    assert.equal(config.quotaBackendBytes, 2 * 1024 ** 3);
    assert.equal(config.autoCompaction, null);
    assert.equal(config.initialClusterState, "new");
    assert.deepEqual(config.initialCluster, [{ name: "n1", peerUrl: "https://127.0.0.1:2380" }]);
    assert.equal(config.listenPeerUrl, "https://127.0.0.1:2380");
    assert.equal(config.advertisePeerUrl, "https://127.0.0.1:2380");
    assert.deepEqual(config.listenClientUrls, ["http://127.0.0.1:2379"]);
    assert.deepEqual(config.advertiseClientUrls, ["http://127.0.0.1:2379"]);
    assert.deepEqual(config.listenMetricsUrls, []);
    assert.equal(config.clientTls, null);
    assert.equal(config.peerTls, null);
    assert.ok(config.dataDir.endsWith("/n1.qmesh"));
  });

  it("takes etcd's list flags as comma-separated text or as arrays", () => {
    const config = parseNodeConfig({
      ...base,
      listenClientUrls: "http://127.0.0.1:2379, http://127.0.0.1:22379",
      advertiseClientUrls: ["http://10.0.0.1:2379"],
      listenMetricsUrls: "http://127.0.0.1:2381",
      initialAdvertisePeerUrls: "https://127.0.0.1:2380",
    });
    assert.deepEqual(config.listenClientUrls, ["http://127.0.0.1:2379", "http://127.0.0.1:22379"]);
    assert.deepEqual(config.advertiseClientUrls, ["http://10.0.0.1:2379"]);
    assert.deepEqual(config.listenMetricsUrls, ["http://127.0.0.1:2381"]);
  });

  it("listens on --listen-peer-urls and is known by --initial-advertise-peer-urls, as etcd", () => {
    const config = parseNodeConfig({
      ...base,
      listenPeerUrls: "https://0.0.0.0:2380",
      initialAdvertisePeerUrls: "https://10.0.0.1:12380",
      initialCluster: "n1=https://10.0.0.1:12380,n2=https://10.0.0.2:12380",
    });
    assert.equal(config.listenPeerUrl, "https://0.0.0.0:2380");
    assert.equal(config.advertisePeerUrl, "https://10.0.0.1:12380");
    // Without --initial-cluster the member stands alone under its advertised URL.
    const alone = parseNodeConfig({ ...base, initialAdvertisePeerUrls: "https://10.0.0.1:12380" });
    assert.deepEqual(alone.initialCluster, [{ name: "n1", peerUrl: "https://10.0.0.1:12380" }]);
  });

  it("turns --heartbeat-interval and --election-timeout into ticks as etcd does", () => {
    const config = parseNodeConfig({ ...base, heartbeatInterval: "50", electionTimeout: "525" });
    assert.equal(config.tickMs, 50);
    assert.equal(config.electionTicks, 10);
  });

  it("sets up client TLS from etcd's flags", () => {
    const config = parseNodeConfig({
      ...base,
      listenClientUrls: "https://127.0.0.1:2379",
      certFile: "server.crt",
      keyFile: "server.key",
      trustedCaFile: "ca.crt",
      clientCertAuth: true,
    });
    assert.equal(config.clientTls?.clientCertAuth, true);
    assert.ok(config.clientTls?.certFile.endsWith("/server.crt"));
    assert.ok(config.clientTls?.trustedCaFile.endsWith("/ca.crt"));
    assert.equal(
      parseNodeConfig({ ...base, certFile: "a", keyFile: "b", clientCertAuth: "false" }).clientTls
        ?.clientCertAuth,
      false,
    );
  });

  it("takes peer TLS files instead of --cert-dir", () => {
    const config = parseNodeConfig({
      ...base,
      certDir: "",
      peerCertFile: "peer.crt",
      peerKeyFile: "peer.key",
      peerTrustedCaFile: "ca.crt",
      peerClientCertAuth: "true",
    });
    assert.equal(config.certDir, "");
    assert.ok(config.peerTls?.keyFile.endsWith("/peer.key"));
  });

  it("reads etcd's auto compaction settings", () => {
    const compaction = (mode: string | undefined, retention: unknown) =>
      parseNodeConfig({ ...base, autoCompactionMode: mode, autoCompactionRetention: retention })
        .autoCompaction;
    assert.deepEqual(compaction(undefined, "1"), { mode: "periodic", retentionMs: HOUR });
    assert.deepEqual(compaction("periodic", 2), { mode: "periodic", retentionMs: 2 * HOUR });
    assert.deepEqual(compaction("periodic", "30m"), { mode: "periodic", retentionMs: HOUR / 2 });
    assert.deepEqual(compaction("periodic", "1h30m"), {
      mode: "periodic",
      retentionMs: 1.5 * HOUR,
    });
    assert.deepEqual(compaction("revision", "1000"), { mode: "revision", retention: 1000 });
    assert.equal(compaction("revision", "0"), null);
  });

  it("reads etcd's quota: 0 is the default, negative is none", () => {
    assert.equal(parseNodeConfig({ ...base, quotaBackendBytes: "0" }).quotaBackendBytes, 2 ** 31);
    assert.equal(
      parseNodeConfig({ ...base, quotaBackendBytes: "-1" }).quotaBackendBytes,
      Number.MAX_SAFE_INTEGER,
    );
    assert.equal(
      parseNodeConfig({ ...base, quotaBackendBytes: "8589934592" }).quotaBackendBytes,
      2 ** 33,
    );
  });

  it("names the flag that is wrong and says what to do", () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ ...base, name: "" }, /^--name: is required/],
      [{ ...base, name: "bad name" }, /^--name: "bad name" is not a valid member name/],
      [{ ...base, listenClientUrls: "localhost" }, /^--listen-client-urls: "localhost" is not/],
      [{ ...base, listenClientUrls: undefined }, /^--listen-client-urls: is required/],
      [
        { ...base, listenClientUrls: "http://127.0.0.1:1,http://127.0.0.1:1" },
        /^--listen-client-urls: lists a URL twice/,
      ],
      [{ ...base, advertiseClientUrls: "ftp://a:1" }, /^--advertise-client-urls: "ftp:\/\/a:1"/],
      [{ ...base, listenMetricsUrls: "https://127.0.0.1:1" }, /^--listen-metrics-urls: .* http:/],
      [
        { ...base, listenPeerUrls: "https://127.0.0.1:2380,https://127.0.0.1:2480" },
        /^--listen-peer-urls: qmesh listens on exactly one peer URL, got 2 .*keep one/,
      ],
      [
        { ...base, initialAdvertisePeerUrls: "http://10.0.0.1:2380" },
        /^--initial-advertise-peer-urls: http:\/\/10.0.0.1:2380 is http:\/\/ but --listen-peer-urls https:\/\/127.0.0.1:2380 is https:\/\/: give both the same scheme/,
      ],
      [
        { ...base, initialAdvertisePeerUrls: "https://10.0.0.1:2380,https://10.0.0.2:2380" },
        /^--initial-advertise-peer-urls: qmesh advertises exactly one peer URL, got 2 .*keep one/,
      ],
      [
        {
          ...base,
          initialAdvertisePeerUrls: "https://10.0.0.1:2380",
          initialCluster: "n1=https://127.0.0.1:2380",
        },
        /^--initial-cluster: lists n1=https:\/\/127.0.0.1:2380 but this member advertises https:\/\/10.0.0.1:2380 .*make them the same/,
      ],
      [{ ...base, heartbeatInterval: "0" }, /^--heartbeat-interval: must be an integer from 1/],
      [{ ...base, heartbeatInterval: "fast" }, /^--heartbeat-interval: must be an integer/],
      [
        { ...base, heartbeatInterval: "100", electionTimeout: "400" },
        /^--election-timeout: 400 ms must be at least 5 times --heartbeat-interval \(100 ms\).*raise it to 500/,
      ],
      [
        { ...base, electionTimeout: "60000" },
        /^--election-timeout: must be an integer from 1 to 50000/,
      ],
      [{ ...base, snapshotCount: "0" }, /^--snapshot-count: must be an integer from 1/],
      [{ ...base, maxRequestBytes: "1e12" }, /^--max-request-bytes: must be an integer/],
      [
        { ...base, quotaBackendBytes: "2GB" },
        /^--quota-backend-bytes: must be an integer number of bytes \(0: the default 2 GiB/,
      ],
      [
        { ...base, autoCompactionMode: "hourly" },
        /^--auto-compaction-mode: must be "periodic" or "revision"/,
      ],
      [
        { ...base, autoCompactionRetention: "abc" },
        /^--auto-compaction-retention: "abc" is not a retention period: give hours/,
      ],
      [{ ...base, autoCompactionRetention: "-1" }, /^--auto-compaction-retention: "-1" is not/],
      [{ ...base, autoCompactionRetention: "10ms" }, /^--auto-compaction-retention: .*at least 1s/],
      [
        { ...base, autoCompactionMode: "revision", autoCompactionRetention: "1h" },
        /^--auto-compaction-retention: "1h": in revision mode it is the number of revisions/,
      ],
      [{ ...base, logLevel: "loud" }, /^--log-level: must be debug, info, warn, error/],
      [
        { ...base, listenClientUrls: "https://127.0.0.1:2379" },
        /^--cert-file: client URL https:\/\/127.0.0.1:2379 is https:\/\/ .*pass --cert-file and --key-file/,
      ],
      [
        { ...base, listenClientUrls: "https://127.0.0.1:2379", certFile: "a.crt" },
        /^--key-file: client URL .* pass --cert-file and --key-file/,
      ],
      [{ ...base, keyFile: "a.key" }, /^--cert-file: is required with --key-file/],
      [
        { ...base, clientCertAuth: true },
        /^--client-cert-auth: needs client TLS: pass --cert-file/,
      ],
      [
        { ...base, certFile: "a", keyFile: "b", clientCertAuth: "true" },
        /^--client-cert-auth: needs --trusted-ca-file/,
      ],
      [{ ...base, clientCertAuth: "yes" }, /^--client-cert-auth: must be true or false/],
      [
        { ...base, peerCertFile: "p.crt", peerKeyFile: "p.key", peerTrustedCaFile: "ca.crt" },
        /^--cert-dir: give either --cert-dir or --peer-cert-file/,
      ],
      [
        { ...base, certDir: "", peerCertFile: "p.crt", peerKeyFile: "p.key" },
        /^--peer-trusted-ca-file: is required with the other --peer-\* TLS files/,
      ],
      [
        {
          ...base,
          listenPeerUrls: "http://127.0.0.1:2380",
          certDir: "",
          peerCertFile: "p.crt",
        },
        /^--peer-cert-file: peer TLS files need https:\/\/ peer URLs/,
      ],
      [
        { ...base, peerClientCertAuth: "false" },
        /^--peer-client-cert-auth: qmesh always authenticates peers/,
      ],
      [
        { ...base, initialClusterState: "old" },
        /^--initial-cluster-state: must be "new" or "existing"/,
      ],
      [
        { ...base, initialCluster: "n2=https://127.0.0.1:2390" },
        /^--initial-cluster: does not list this member "n1"; add n1=https:\/\/127.0.0.1:2380/,
      ],
      [{ ...base, initialCluster: "n1=https://a:1,n1=https://b:2" }, /lists "n1" twice/],
      [
        { ...base, certDir: "" },
        /^--cert-dir: https:\/\/ peer URLs need certificates: pass --cert-dir .* or --peer-cert-file/,
      ],
      [{ ...base, bogus: 1 }, /^bogus: unknown setting/],
      // The old singular qmesh names are gone.
      [{ ...base, listenClientUrl: "http://127.0.0.1:1" }, /^listenClientUrl: unknown setting/],
      [{ ...base, tickMs: 50 }, /^tickMs: unknown setting/],
    ];
    for (const [raw, message] of cases) refuses(raw, message);
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
