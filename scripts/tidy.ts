// Rules that a linter does not know, checked on every `npm test` (TigerBeetle's tidy.zig):
// banned APIs outside their adapters, leftover console.log, the layer rule, circular imports.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";

const ROOT = resolve(import.meta.dirname, "..");
const SOURCE = join(ROOT, "src");

interface Rule {
  readonly folder: string;
  readonly pattern: RegExp;
  readonly why: string;
}

/** The core must be pure: every source of time, randomness and I/O comes in from the caller. */
const PURE_FOLDERS = ["raft", "check"];
const BANNED: Rule[] = PURE_FOLDERS.flatMap((folder) => [
  { folder, pattern: /\bDate\.now\(|\bnew Date\(/, why: "no clock: the caller ticks" },
  { folder, pattern: /\bMath\.random\(/, why: "no global randomness: use the Random given" },
  { folder, pattern: /\b(setTimeout|setInterval|setImmediate|queueMicrotask)\(/, why: "no timers" },
  { folder, pattern: /\bperformance\.now\(|\bprocess\.hrtime/, why: "no clock" },
  {
    folder,
    pattern: /from "node:(fs|net|dgram|child_process|http|https|tls|worker_threads)/,
    why: "no I/O",
  },
  { folder, pattern: /\bprocess\./, why: "no process state" },
]);

/** DESIGN.md: storage/ owns fsync (kv/ syncs only its LMDB environment). */
const FSYNC_ALLOWED = [/^src\/storage\//, /^src\/kv\//];

/** Folders whose modules may print to the console (user-facing programs). */
const CONSOLE_ALLOWED = [
  /^src\/cli\//,
  /^src\/sim\/main\.ts$/,
  /\.bench\.ts$/,
  /^bench\//,
  /^scripts\//,
];

/** Layer rule (DESIGN.md): which folders each folder may import from. */
const ALLOWED_IMPORTS: Record<string, readonly string[]> = {
  raft: ["raft"],
  check: ["check"],
  sim: ["sim", "raft", "check"],
  storage: ["storage", "raft"],
  kv: ["kv", "storage", "raft"],
  transport: ["transport", "raft"],
  ledger: ["ledger"],
  contracts: ["contracts"],
  node: ["node", "kv", "ledger", "contracts", "transport", "storage", "raft"],
  api: ["api", "node", "kv", "ledger", "raft"],
  cli: [
    "cli",
    "api",
    "node",
    "kv",
    "ledger",
    "contracts",
    "transport",
    "storage",
    "sim",
    "raft",
    "check",
  ],
};

function listFiles(folder: string): string[] {
  const files: string[] = [];
  for (const name of readdirSync(folder)) {
    const path = join(folder, name);
    if (statSync(path).isDirectory()) files.push(...listFiles(path));
    else if (path.endsWith(".ts")) files.push(path);
  }
  return files;
}

function relativeImports(source: string): string[] {
  const imports: string[] = [];
  for (const match of source.matchAll(/(?:import|export)[^"';]*?from\s+"(\.[^"]+)"/g)) {
    imports.push(match[1]!);
  }
  return imports;
}

function topFolder(path: string): string {
  return relative(SOURCE, path).split("/")[0]!;
}

function checkFile(path: string, source: string, problems: string[]): void {
  const name = relative(ROOT, path);
  const isTest = path.endsWith(".test.ts");
  if (
    !isTest &&
    !FSYNC_ALLOWED.some((p) => p.test(name)) &&
    /(fsync|fdatasync)(Sync)?\(|\.datasync\(/.test(source)
  ) {
    problems.push(`${name}: fsync outside src/storage (DESIGN.md: storage owns fsync)`);
  }
  for (const rule of BANNED) {
    if (isTest || name.endsWith(".bench.ts") || !name.startsWith(`src/${rule.folder}/`)) continue;
    if (rule.pattern.test(source))
      problems.push(`${name}: ${rule.pattern} is banned here (${rule.why})`);
  }
  const consoleAllowed = isTest || CONSOLE_ALLOWED.some((pattern) => pattern.test(name));
  if (!consoleAllowed && /\bconsole\.(log|debug|info)\(/.test(source)) {
    problems.push(`${name}: console output outside a user-facing program; use the logger`);
  }
  const allowed = ALLOWED_IMPORTS[topFolder(path)];
  for (const target of relativeImports(source)) {
    const resolved = resolve(dirname(path), target);
    if (!resolved.startsWith(SOURCE)) continue;
    const targetFolder = topFolder(resolved);
    if (allowed !== undefined && !allowed.includes(targetFolder)) {
      problems.push(
        `${name}: imports ${target} from layer "${targetFolder}", which "${topFolder(path)}" may not use`,
      );
    }
  }
}

/** Depth-first search for a cycle in the graph of relative imports. */
function findCycle(graph: Map<string, string[]>): string[] | null {
  const state = new Map<string, "visiting" | "done">();
  const stack: string[] = [];
  const visit = (node: string): string[] | null => {
    state.set(node, "visiting");
    stack.push(node);
    for (const next of graph.get(node) ?? []) {
      const seen = state.get(next);
      if (seen === "visiting") return [...stack.slice(stack.indexOf(next)), next];
      if (seen === undefined && graph.has(next)) {
        const cycle = visit(next);
        if (cycle !== null) return cycle;
      }
    }
    stack.pop();
    state.set(node, "done");
    return null;
  };
  for (const node of graph.keys()) {
    if (state.get(node) === undefined) {
      const cycle = visit(node);
      if (cycle !== null) return cycle;
    }
  }
  return null;
}

function main(): void {
  const problems: string[] = [];
  const graph = new Map<string, string[]>();
  for (const path of listFiles(SOURCE)) {
    const source = readFileSync(path, "utf8");
    checkFile(path, source, problems);
    const importTypeFree = source.replace(/import type [^;]+;/g, "");
    graph.set(
      path,
      relativeImports(importTypeFree).map((target) => resolve(dirname(path), target)),
    );
  }
  const cycle = findCycle(graph);
  if (cycle !== null) {
    problems.push(`circular import: ${cycle.map((path) => relative(ROOT, path)).join(" -> ")}`);
  }
  if (problems.length > 0) {
    for (const problem of problems) process.stderr.write(`tidy: ${problem}\n`);
    process.stderr.write(`tidy: ${problems.length} problem(s)\n`);
    process.exit(1);
  }
  process.stdout.write(`tidy: ${graph.size} files clean\n`);
}

main();
