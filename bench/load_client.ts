// One load-generator process: `concurrency` loops, each putting 100-byte values over a keep-alive
// HTTP connection to the given client URLs (round robin), for `seconds`. Prints one JSON line:
// acknowledged writes, errors, and every latency in microseconds.
import { Agent, request } from "node:http";

const [urlsArg, concurrencyArg, secondsArg, idArg, valueBytesArg] = process.argv.slice(2);
const urls = (urlsArg ?? "").split(",").map((u) => new URL(u));
const concurrency = Number(concurrencyArg);
const seconds = Number(secondsArg);
const clientId = idArg ?? "0";
const value = Buffer.alloc(Number(valueBytesArg ?? 100), 0x61).toString("base64");
const agent = new Agent({ keepAlive: true, maxSockets: concurrency });

function put(url: URL, key: string): Promise<number> {
  const body = `{"key":"${Buffer.from(key).toString("base64")}","value":"${value}"}`;
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: url.hostname,
        port: url.port,
        path: "/v3/kv/put",
        method: "POST",
        agent,
        headers: { "content-length": body.length },
      },
      (res) => {
        res.resume();
        res.on("end", () => resolve(res.statusCode ?? 0));
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

const latenciesUs: number[] = [];
let errors = 0;
const deadline = performance.now() + seconds * 1000;
await Promise.all(
  Array.from({ length: concurrency }, async (_, loop) => {
    const url = urls[loop % urls.length]!;
    for (let i = 0; performance.now() < deadline; i++) {
      const start = performance.now();
      try {
        const status = await put(url, `bench/${clientId}/${loop}/${i % 1000}`);
        if (status === 200) latenciesUs.push(Math.round((performance.now() - start) * 1000));
        else errors++;
      } catch {
        errors++;
      }
    }
  }),
);
agent.destroy();
process.stdout.write(
  `${JSON.stringify({ acknowledged: latenciesUs.length, errors, latenciesUs })}\n`,
);
