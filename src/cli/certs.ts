// `qmesh certs`: a development CA and one certificate per member, for TLS between members.
import { resolve } from "node:path";
import { type Command, CommanderError } from "commander";
import { createClusterCertificates, MEMBER_NAME } from "../transport/index.ts";

export function addCertsCommand(program: Command): void {
  program
    .command("certs <names...>")
    .description("create a development CA and member certificates (existing files are kept)")
    .option("--dir <path>", "where to write ca.crt, ca.key, <name>.crt and <name>.key", "certs")
    .action(async (names: string[], options: { dir: string }) => {
      const bad = names.find((name) => !MEMBER_NAME.test(name));
      if (bad !== undefined)
        throw new CommanderError(2, "qmesh.name", `"${bad}" is not a valid member name`);
      const dir = resolve(options.dir);
      await createClusterCertificates(dir, names);
      process.stdout.write(`certificates for ${names.join(", ")} in ${dir} (CA: ${dir}/ca.crt)\n`);
    });
}
