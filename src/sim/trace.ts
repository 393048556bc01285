// The event trace: one line per event (time, member, what happened). Lines are built only when
// tracing is on; a rolling hash of them lets a test compare two runs without storing either.

export type TraceSink = (line: string) => void;

export class Trace {
  private hashHigh = 0x811c9dc5;
  private hashLow = 0x01000193;
  private lineCount = 0;

  /** @param sink where lines go (null: only hashed); `enabled` false makes every call free. */
  constructor(
    readonly enabled: boolean,
    private readonly sink: TraceSink | null = null,
  ) {}

  static disabled(): Trace {
    return new Trace(false);
  }

  /** Call as `if (trace.enabled) trace.line(...)` so that a disabled trace builds no strings. */
  line(timeUs: number, who: string, what: string): void {
    if (!this.enabled) return;
    const text = `${formatTime(timeUs)} ${who.padEnd(4)} ${what}`;
    this.lineCount++;
    this.mix(text);
    this.sink?.(text);
  }

  get lines(): number {
    return this.lineCount;
  }

  /** A 64-bit hash (two 32-bit FNV-1a style lanes) of every line so far, as 16 hex digits. */
  digest(): string {
    return (
      (this.hashHigh >>> 0).toString(16).padStart(8, "0") +
      (this.hashLow >>> 0).toString(16).padStart(8, "0")
    );
  }

  private mix(text: string): void {
    let high = this.hashHigh;
    let low = this.hashLow;
    for (let i = 0; i < text.length; i++) {
      const code = text.charCodeAt(i);
      high = Math.imul(high ^ code, 0x01000193);
      low = Math.imul(low ^ code, 0x5bd1e995) ^ (high >>> 15);
    }
    this.hashHigh = Math.imul(high ^ 10, 0x01000193);
    this.hashLow = Math.imul(low ^ 10, 0x5bd1e995);
  }
}

/** Virtual time as milliseconds with microsecond precision, fixed width for aligned traces. */
export function formatTime(timeUs: number): string {
  const milliseconds = Math.floor(timeUs / 1000);
  const micros = timeUs % 1000;
  return `${String(milliseconds).padStart(7, " ")}.${String(micros).padStart(3, "0")}ms`;
}
