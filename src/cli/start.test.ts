import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { ConfigError } from "../node/config.ts";
import { gatherSettings } from "./start.ts";

describe("qmesh start settings", () => {
  const dir = mkdtempSync(join(tmpdir(), "qmesh-cli-"));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("takes a flag over the environment over the config file", () => {
    const file = join(dir, "config.json");
    writeFileSync(
      file,
      JSON.stringify({ name: "from-file", heartbeatInterval: 50, snapshotCount: 7 }),
    );
    const settings = gatherSettings(
      { config: file, name: "from-flag" },
      { QMESH_NAME: "from-env", QMESH_HEARTBEAT_INTERVAL: "20" },
    );
    assert.equal(settings.name, "from-flag");
    assert.equal(settings.heartbeatInterval, "20");
    assert.equal(settings.snapshotCount, 7);
  });

  it("names the config file that cannot be used", () => {
    const broken = join(dir, "broken.json");
    writeFileSync(broken, "{ name: ");
    assert.throws(
      () => gatherSettings({ config: broken }, {}),
      (error: Error) =>
        error instanceof ConfigError && /broken\.json is not a JSON object/.test(error.message),
    );
    assert.throws(
      () => gatherSettings({ config: join(dir, "missing.json") }, {}),
      /--config: cannot read .*missing\.json/,
    );
  });
});
