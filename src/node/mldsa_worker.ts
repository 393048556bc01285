// ML-DSA-65 on a worker thread: a signature takes ~10 ms of CPU and a verification ~3 ms, and
// every second a member signs a checkpoint and checks each voter's. On the event loop that is a
// stall every second for every request in flight (signing there showed as +15–20% p99 in
// bench:ledger); on a thread it is not.
import { Worker } from "node:worker_threads";

// CommonJS source (eval), loading noble by the URL the main thread resolved: the worker has
// neither tsx's loader nor the project as its base for bare specifiers.
const SOURCE = `
const { parentPort, workerData } = require("node:worker_threads");
import(workerData.module).then(({ ml_dsa65 }) => {
  parentPort.on("message", ({ id, message, secretKey, publicKey, signature }) => {
    try {
      if (secretKey !== undefined) {
        parentPort.postMessage({ id, signature: ml_dsa65.sign(message, secretKey) });
      } else {
        parentPort.postMessage({ id, valid: ml_dsa65.verify(signature, message, publicKey) });
      }
    } catch (error) {
      parentPort.postMessage({ id, error: String((error && error.message) || error) });
    }
  });
});
`;

interface Reply {
  readonly id: number;
  readonly signature?: Uint8Array;
  readonly valid?: boolean;
  readonly error?: string;
}

export class MlDsaWorker {
  private readonly worker: Worker;
  private next = 0;
  private readonly pending = new Map<
    number,
    { resolve: (reply: Reply) => void; reject: (error: Error) => void }
  >();

  constructor() {
    this.worker = new Worker(SOURCE, {
      eval: true,
      workerData: { module: import.meta.resolve("@noble/post-quantum/ml-dsa.js") },
    });
    // Never what keeps a stopping member alive.
    this.worker.unref();
    this.worker.on("message", (reply: Reply) => {
      const waiting = this.pending.get(reply.id);
      if (waiting === undefined) return;
      this.pending.delete(reply.id);
      if (reply.error === undefined) waiting.resolve(reply);
      else waiting.reject(new Error(`ML-DSA-65 failed: ${reply.error}`));
    });
    this.worker.on("error", (error) => this.failAll(error));
    this.worker.on("exit", (code) => this.failAll(new Error(`ML-DSA-65 worker exited (${code})`)));
  }

  async sign(message: Uint8Array, secretKey: Uint8Array): Promise<Uint8Array> {
    const reply = await this.request({ message, secretKey });
    return new Uint8Array(reply.signature!);
  }

  async verify(
    signature: Uint8Array,
    message: Uint8Array,
    publicKey: Uint8Array,
  ): Promise<boolean> {
    return (await this.request({ signature, message, publicKey })).valid === true;
  }

  private request(work: Record<string, Uint8Array>): Promise<Reply> {
    const id = this.next++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ id, ...work });
    });
  }

  async close(): Promise<void> {
    await this.worker.terminate();
  }

  private failAll(error: Error): void {
    for (const { reject } of this.pending.values()) reject(error);
    this.pending.clear();
  }
}
