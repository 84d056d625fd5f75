/**
 * The progress line: rewritten in place on stderr once a second ("\r" and
 * erase-to-end-of-line). Only for a TTY, never with --json.
 */
export class Progress {
  private timer: NodeJS.Timeout | null = null;
  private shown = false;

  constructor(readonly enabled: boolean, private readonly stream: NodeJS.WriteStream = process.stderr) {}

  static forOptions(json: boolean, quiet = false): Progress {
    return new Progress(!json && !quiet && process.stderr.isTTY === true);
  }

  /** Calls `line` every `intervalMs` and shows its text until stop(). */
  start(line: () => string, intervalMs = 1000): void {
    this.stop();
    if (!this.enabled) return;
    this.timer = setInterval(() => this.show(line()), intervalMs);
    this.timer.unref();
  }

  show(text: string): void {
    if (!this.enabled) return;
    const width = this.stream.columns ? this.stream.columns - 1 : 160;
    this.stream.write(`\r${text.length > width ? text.slice(0, width) : text}\x1b[K`);
    this.shown = true;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    if (this.shown) {
      this.stream.write('\r\x1b[K');
      this.shown = false;
    }
  }
}

/** 1234567 → "1,234,567". */
export function fmtInt(n: number): string {
  return Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '-';
}
