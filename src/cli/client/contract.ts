// contract set | get | list | delete | test: rules on writes (CEL). set and delete go through the
// Contracts service (root only with auth on); get, list and test read the rules' keys under
// qmesh/contracts/ with KV.Range. test evaluates a stored rule here, against a write that is
// never sent, with the same evaluator the members use.
import { type Command, CommanderError } from "commander";
import {
  createRule,
  decodeRule,
  evaluate,
  type Rule,
  rulesForKey,
  type WriteInput,
} from "../../contracts/index.ts";
import { CONTRACTS_PREFIX_TEXT, prefixEnd } from "../../kv/index.ts";
import { parseLeaseId } from "./ids.ts";
import { write } from "./output.ts";
import {
  type ConnectionFlags,
  clientAction,
  type Session,
  usageError,
  withConnectionFlags,
} from "./session.ts";

interface SetFlags extends ConnectionFlags {
  prefix: string;
  expr: string;
  message?: string;
}

interface TestFlags extends ConnectionFlags {
  value?: string;
  delete?: boolean;
  /** A value; false with --no-prev; undefined: the key's current value. */
  prev?: string | false;
  asUser?: string;
  lease?: string;
}

const ruleKey = (name: string) => Buffer.from(CONTRACTS_PREFIX_TEXT + name);
const shown = (bytes: Uint8Array) => JSON.stringify(Buffer.from(bytes).toString("utf8"));

function notFound(name: string): CommanderError {
  return new CommanderError(1, "qmesh.notfound", `no contract rule named "${name}"`);
}

function ruleJson(rule: Rule, revision: string) {
  const { name, expression, message } = rule;
  return { name, prefix: Buffer.from(rule.prefix).toString("utf8"), expression, message, revision };
}

async function readRule(session: Session, name: string) {
  const response = await session.call("KV", "Range", { key: ruleKey(name) });
  const kv = response.kvs[0];
  if (kv === undefined) throw notFound(name);
  return { rule: decodeRule(new Uint8Array(kv.value)), kv, header: response.header };
}

/** The user a test write is made as: --as-user, else the --user name, else none. */
function testUser(flags: TestFlags): string {
  if (flags.asUser !== undefined) return flags.asUser;
  const colon = flags.user?.indexOf(":") ?? -1;
  return colon > 0 ? flags.user!.slice(0, colon) : "";
}

async function testRule(
  session: Session,
  name: string,
  keyText: string,
  flags: TestFlags,
): Promise<void> {
  if ((flags.value === undefined) === (flags.delete !== true)) {
    throw usageError("give --value V for a put, or --delete for a delete (one of them)");
  }
  const { rule, header } = await readRule(session, name);
  const key = Buffer.from(keyText);
  let prev: Uint8Array | null = null;
  if (typeof flags.prev === "string") prev = Buffer.from(flags.prev);
  else if (flags.prev === undefined) {
    const current = await session.call("KV", "Range", { key });
    prev = current.kvs[0] === undefined ? null : new Uint8Array(current.kvs[0].value);
  }
  if (rulesForKey([rule], key).length === 0) {
    write(
      `allowed: rule "${name}" does not apply to key ${shown(key)} (prefix ${shown(rule.prefix)})\n`,
    );
    return;
  }
  const input: WriteInput = {
    key,
    value: flags.delete === true ? null : Buffer.from(flags.value!),
    prev,
    lease: flags.lease === undefined ? 0 : Number(BigInt(parseLeaseId(flags.lease))),
    user: testUser(flags),
    // The revision the write would get if it were the next one.
    revision: Number(header.revision) + 1,
    op: flags.delete === true ? "delete" : "put",
  };
  const verdict = evaluate(rule, input);
  if (verdict.allowed) {
    write("allowed\n");
    return;
  }
  write(`rejected: contract ${verdict.reason}\n`);
  process.exitCode = 1;
}

export function addContractCommands(program: Command): void {
  const contract = program
    .command("contract")
    .description("rules (CEL) that writes under a key prefix must satisfy");
  withConnectionFlags(contract.command("set <name>"))
    .description("create or replace a rule (checked here first, then by every member)")
    .requiredOption("--prefix <prefix>", 'the keys it applies to ("" for every key)')
    .requiredOption("--expr <cel>", "CEL expression; a write is allowed when it is true")
    .option("--message <text>", "told to a client whose write the rule rejects", "")
    .action(
      clientAction(async (session, name: string, flags: SetFlags) => {
        const spec = { name, prefix: flags.prefix, expression: flags.expr };
        try {
          createRule({ ...spec, message: flags.message ?? "" });
        } catch (error) {
          throw usageError((error as Error).message);
        }
        await session.call("Contracts", "Set", {
          ...spec,
          prefix: Buffer.from(flags.prefix),
          message: flags.message ?? "",
        });
        write("OK\n");
      }),
    );
  withConnectionFlags(contract.command("get <name>"))
    .description("print a rule")
    .action(
      clientAction(async (session, name: string, flags: ConnectionFlags) => {
        const { rule, kv } = await readRule(session, name);
        const json = ruleJson(rule, kv.mod_revision);
        if (flags.writeOut === "json") write(`${JSON.stringify(json)}\n`);
        else
          write(
            `name: ${json.name}\nprefix: ${shown(rule.prefix)}\nexpression: ${json.expression}\n` +
              `message: ${json.message}\nrevision: ${json.revision}\n`,
          );
      }),
    );
  withConnectionFlags(contract.command("list"))
    .description("every rule: name, prefix and expression, tab separated")
    .action(
      clientAction(async (session, flags: ConnectionFlags) => {
        const prefix = Buffer.from(CONTRACTS_PREFIX_TEXT);
        const response = await session.call("KV", "Range", {
          key: prefix,
          range_end: prefixEnd(prefix),
        });
        const rules = response.kvs.map((kv: { value: Buffer; mod_revision: string }) =>
          ruleJson(decodeRule(new Uint8Array(kv.value)), kv.mod_revision),
        );
        const line = (rule: ReturnType<typeof ruleJson>) =>
          `${rule.name}\t${JSON.stringify(rule.prefix)}\t${rule.expression.replace(/\s+/g, " ")}\n`;
        write(flags.writeOut === "json" ? `${JSON.stringify(rules)}\n` : rules.map(line).join(""));
      }),
    );
  withConnectionFlags(contract.command("delete <name>"))
    .description("delete a rule")
    .action(
      clientAction(async (session, name: string) => {
        const response = await session.call("Contracts", "Delete", { name });
        if (!response.deleted) throw notFound(name);
        write("OK\n");
      }),
    );
  // The key is an argument: --key is the TLS key file of every client command.
  withConnectionFlags(contract.command("test <name> <key>"))
    .description(
      "evaluate a stored rule against a write of key, without making it; exit 1 if rejected",
    )
    .option("--value <value>", "the value put")
    .option("--delete", "a delete of the key instead of a put")
    .option("--prev <value>", "the key's previous value (default: its current value)")
    .option("--no-prev", "as if the key did not exist")
    .option("--as-user <name>", "the writing user (default: the --user name, else none)")
    .option("--lease <id>", "the lease the put attaches (hex)")
    .action(
      clientAction(async (session, name: string, key: string, flags: TestFlags) =>
        testRule(session, name, key, flags),
      ),
    );
}
