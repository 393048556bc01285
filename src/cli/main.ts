// The qmesh command line. Each issue adds its commands here.
import { readFileSync } from "node:fs";
import { Command, CommanderError } from "commander";
import { runDemo } from "../sim/demo.ts";
import { addCertsCommand } from "./certs.ts";
import { addClientCommands } from "./client/index.ts";
import { addLedgerCommands } from "./ledger.ts";
import { addStartCommand } from "./start.ts";
import { addUpCommand } from "./up.ts";

const packageJson = JSON.parse(
  readFileSync(new URL("../../package.json", import.meta.url), "utf8"),
) as { version: string };

// `qmesh demo | head` closes our stdout early: that is the reader's choice, not an error.
process.stdout.on("error", (error: NodeJS.ErrnoException) => {
  if (error.code === "EPIPE") process.exit(0);
  throw error;
});

function buildProgram(): Command {
  const program = new Command("qmesh")
    .description("qmesh: a replicated, strongly consistent key-value store")
    .version(packageJson.version)
    .showHelpAfterError("(run `qmesh --help` for the commands)")
    .exitOverride();
  program
    .command("demo")
    .description(
      "run a 3-member cluster of the real Raft core in the deterministic simulator and narrate it",
    )
    .option("--seed <n>", "simulation seed (the same seed replays the same run)", "1")
    .action((options: { seed: string }) => {
      const seed = Number(options.seed);
      if (!Number.isInteger(seed) || seed < 0) {
        throw new CommanderError(
          2,
          "qmesh.seed",
          `--seed must be a non-negative integer, got "${options.seed}"`,
        );
      }
      runDemo(seed, (line) => process.stdout.write(`${line}\n`));
    });
  addUpCommand(program);
  addStartCommand(program);
  addCertsCommand(program);
  addClientCommands(program);
  addLedgerCommands(program);
  return program;
}

try {
  await buildProgram().parseAsync(process.argv);
} catch (error) {
  if (error instanceof CommanderError) {
    if (
      error.code !== "commander.helpDisplayed" &&
      error.code !== "commander.version" &&
      error.exitCode !== 0
    ) {
      if (error.code.startsWith("qmesh.")) process.stderr.write(`qmesh: ${error.message}\n`);
      // Commander reports usage errors with 1; ours carry their own code (2 usage, 1 runtime).
      const ours = error.code.startsWith("qmesh.");
      process.exit(!ours && error.exitCode === 1 ? 2 : error.exitCode);
    }
    process.exit(0);
  }
  // Anything else is a startup or request problem the user can act on: one line, not a trace.
  process.stderr.write(`qmesh: ${(error as Error).message}\n`);
  process.exit(1);
}
