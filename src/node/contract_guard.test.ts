// The contracts adapter: rule validation at set time, verdicts on writes through a real store,
// fail-closed handling of an unreadable rule, and a rejected write's leaf on the ledger.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { createRule, encodeRule } from "../contracts/index.ts";
import {
  type ApplyResult,
  type Command,
  encodeCommand,
  type GuardedWrite,
  MvccStore,
} from "../kv/index.ts";
import { decodeLeaf, LeafKind } from "../ledger/index.ts";
import { ContractGuard, encodeRuleSpec } from "./contract_guard.ts";
import { MemberLedger } from "./member_ledger.ts";

const dirs: string[] = [];
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

const enc = new TextEncoder();
const OWNER = {
  name: "owner",
  prefix: "docs/",
  expression: "op == 'delete' || (value.json != null && value.json.owner == user)",
  message: "a document must name its writer as owner",
};
const ONCE = { name: "once", prefix: "once/", expression: "prev == null", message: "write-once" };

const ruleBytes = (spec: typeof OWNER) => encodeRule(createRule(spec));

function write(key: string, value: string | null, over: Partial<GuardedWrite> = {}): GuardedWrite {
  const bytes = value === null ? null : enc.encode(value);
  const op = value === null ? "delete" : "put";
  return {
    key: enc.encode(key),
    value: bytes,
    prev: null,
    lease: 0,
    user: "",
    revision: 9,
    op,
    ...over,
  };
}

test("validateRule: valid rules pass; bad bytes, bad CEL and a wrong name are refused", () => {
  const guard = new ContractGuard();
  assert.equal(guard.validateRule("owner", ruleBytes(OWNER)), null);
  assert.match(guard.validateRule("other", ruleBytes(OWNER))!, /named "owner", not "other"/);
  assert.match(guard.validateRule("x", enc.encode("junk"))!, /cannot decode rule/);
  // encodeRule checks only the shape, so a rule that does not compile can still be encoded.
  const bad = encodeRule({
    name: "bad",
    prefix: new Uint8Array(0),
    expression: "1 +",
    message: "",
  });
  assert.match(guard.validateRule("bad", bad)!, /invalid rule expression/);
  const notBool = encodeRule({ ...OWNER, prefix: enc.encode(""), expression: "value.size" });
  assert.match(guard.validateRule("owner", notBool)!, /invalid rule expression/);
});

test("load + check: rules in name order, the message names the rule and says why", () => {
  const guard = new ContractGuard();
  const rules = guard.load([
    { name: "once", rule: ruleBytes(ONCE) },
    { name: "owner", rule: ruleBytes(OWNER) },
  ]);
  assert.equal(rules.check(write("docs/1", '{"owner":"alice"}', { user: "alice" })), null);
  assert.equal(
    rules.check(write("docs/1", '{"owner":"bob"}', { user: "alice" })),
    'contract rule "owner" rejected the write: a document must name its writer as owner',
  );
  assert.equal(rules.check(write("docs/1", null, { prev: enc.encode("{}") })), null);
  assert.equal(rules.check(write("once/a", "v")), null);
  assert.match(rules.check(write("once/a", "w", { prev: enc.encode("v") }))!, /"once".*write-once/);
  assert.equal(rules.check(write("elsewhere", "anything")), null);
  // The same bytes again (from the cache) give the same verdicts.
  const again = guard.load([{ name: "owner", rule: ruleBytes(OWNER) }]);
  assert.match(again.check(write("docs/1", "not json"))!, /"owner"/);
});

test("an unreadable stored rule fails closed, naming itself", () => {
  const rules = new ContractGuard().load([{ name: "broken", rule: enc.encode("junk") }]);
  assert.match(rules.check(write("any/key", "v"))!, /rule "broken".*unreadable: cannot decode/);
});

test("encodeRuleSpec: a valid spec's encoding, or the validation error", () => {
  const encoded = encodeRuleSpec(OWNER);
  assert.ok("rule" in encoded);
  assert.deepEqual(encoded.rule, ruleBytes(OWNER));
  const bad = encodeRuleSpec({ ...OWNER, expression: "value.json.owner ==" });
  assert.ok("error" in bad && /invalid rule expression/.test(bad.error), JSON.stringify(bad));
  assert.ok("error" in encodeRuleSpec({ ...OWNER, name: "no spaces" }));
});

test("through a store and its ledger: a rejected write is not applied and is a rejected leaf", async () => {
  const dir = mkdtempSync(join(tmpdir(), "qmesh-contract-guard-"));
  dirs.push(dir);
  const kv = MvccStore.open(dir, { guard: new ContractGuard() });
  const ledger = new MemberLedger(kv, {
    enabled: true,
    origin: "qmesh/cluster/test",
    onEvents: () => {},
  });
  const commands: Command[] = [
    { op: "contractSet", name: "owner", rule: ruleBytes(OWNER) },
    put("docs/1", '{"owner":"alice"}', "alice"),
    put("docs/1", '{"owner":"mallory"}', "mallory-pretending"),
  ];
  const sources = commands.map((c, i) => ({
    kind: LeafKind.Kv,
    index: i + 1,
    term: 1,
    proposer: 1,
    request: encodeCommand(c),
  }));
  const leafIndexes: (number | null)[] = new Array(commands.length).fill(null);
  const results = kv.apply(
    sources.map((s) => ({ index: s.index, command: s.request })),
    0,
    ledger.batch(sources, leafIndexes),
  ) as ApplyResult[];
  assert.ok("response" in results[1]!);
  assert.ok("error" in results[2]! && results[2].error.code === "ContractRejected");
  const kvs = kv.range({ key: enc.encode("docs/1") }).kvs;
  assert.equal(new TextDecoder().decode(kvs[0]!.value), '{"owner":"alice"}');
  const rejected = decodeLeaf(ledger.tree.leaf(leafIndexes[2]!)!);
  assert.match(rejected.rejected!, /^ContractRejected: contract rule "owner" rejected the write/);
  assert.equal(decodeLeaf(ledger.tree.leaf(leafIndexes[0]!)!).rejected, null);
  await kv.close();
});

function put(key: string, value: string, user: string): Command {
  return {
    op: "put",
    key: enc.encode(key),
    value: enc.encode(value),
    lease: 0,
    prevKv: false,
    ignoreValue: false,
    ignoreLease: false,
    user,
  };
}
