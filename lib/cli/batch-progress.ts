// The progress line of `layerlens batch` on a terminal: done/total, rate and ETA, redrawn in place at
// most 10 times a second. Off (draws nothing) when stderr is not a terminal or --quiet is given.
import type { Writer } from './io.js';

function duration(s: number): string {
  if (!Number.isFinite(s)) return '--:--';
  const t = Math.round(s);
  const h = Math.floor(t / 3600);
  const m = Math.floor((t % 3600) / 60);
  const sec = String(t % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${sec}` : `${m}:${sec}`;
}

export class BatchProgress {
  readonly #out: Writer | undefined;
  readonly #total: number | undefined;
  readonly #start = Date.now();
  #lastDraw = 0;
  #drawn = false;

  constructor(out: Writer | undefined, total: number | undefined) {
    this.#out = out;
    this.#total = total;
  }

  /** The line for `done` prompts at time `now` (exposed for tests). */
  render(done: number, now = Date.now()): string {
    const elapsed = Math.max((now - this.#start) / 1000, 1e-3);
    const rate = done / elapsed;
    const total = this.#total;
    let line: string;
    if (total !== undefined && total > 0) {
      const frac = Math.min(done / total, 1);
      const filled = Math.round(frac * 20);
      line = `batch ${String(Math.floor(frac * 100)).padStart(3)}% [${'#'.repeat(filled)}${'.'.repeat(20 - filled)}] ${done}/${total} prompts  ${rate.toFixed(1)}/s  ETA ${duration(rate > 0 ? (total - done) / rate : Infinity)}`;
    } else line = `batch ${done} prompts  ${rate.toFixed(1)}/s`;
    const cols = this.#out?.columns;
    return cols && cols > 10 && line.length >= cols ? line.slice(0, cols - 1) : line;
  }

  update(done: number, force = false): void {
    if (!this.#out) return;
    const now = Date.now();
    if (!force && now - this.#lastDraw < 100) return;
    this.#lastDraw = now;
    this.#drawn = true;
    this.#out.write('\r' + this.render(done, now) + '\x1b[K');
  }

  /** Clears the line, so the report that follows starts at column 0. */
  clear(): void {
    if (this.#out && this.#drawn) this.#out.write('\r\x1b[K');
  }
}
