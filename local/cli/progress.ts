import type { BatchRecord } from '../../lambdas/ports/ledger.ts';
import type { LimiterState } from '../../lambdas/ports/rate-limit.ts';

export interface ProgressOutput {
  write(text: string): void;
  isTTY?: boolean;
}

/**
 * The batch's progress on stderr: a live line redrawn in place on a terminal; plain lines every few
 * seconds otherwise (logs, CI), so a long run shows it is alive without flooding its log.
 */
export class ProgressReporter {
  readonly #out: ProgressOutput;
  readonly #live: boolean;
  readonly #plainEveryMs: number;
  readonly #now: () => number;
  readonly #startedAt: number;
  #lastPlainAt = Number.NEGATIVE_INFINITY;
  #lastLine = '';
  #samples: { at: number; decided: number }[] = [];

  constructor(options: {
    out: ProgressOutput;
    live?: boolean;
    plainEveryMs?: number;
    now?: () => number;
  }) {
    this.#out = options.out;
    this.#live = options.live ?? Boolean(options.out.isTTY && !process.env.CI);
    this.#plainEveryMs = options.plainEveryMs ?? 5_000;
    this.#now = options.now ?? Date.now;
    this.#startedAt = this.#now();
  }

  update(batch: BatchRecord, limiter: LimiterState | null = null): void {
    const line = this.describe(batch, limiter);
    const now = this.#now();
    if (this.#live) {
      if (line !== this.#lastLine) this.#out.write(`\r\x1b[2K${line}`);
    } else if (now - this.#lastPlainAt >= this.#plainEveryMs && line !== this.#lastLine) {
      this.#out.write(`${line}\n`);
      this.#lastPlainAt = now;
    }
    this.#lastLine = line;
  }

  /** Ends the live line so that what follows starts on its own. */
  finish(): void {
    if (this.#live && this.#lastLine) this.#out.write('\n');
  }

  describe(batch: BatchRecord, limiter: LimiterState | null = null): string {
    const { counts } = batch;
    const decided = counts.created + counts.rejected + counts.unknown;
    const waitingForUrls = Math.max(0, counts.created - counts.settled);
    const parts = [
      batch.phase === 'splitting' ? 'reading the file' : `validated ${counts.rows}`,
      `sent ${decided}/${counts.valid}`,
      `created ${counts.created}`,
      `rejected ${counts.rejected}`,
      `unknown ${counts.unknown}`,
      `invalid ${counts.invalid}`,
      `waiting for URLs ${waitingForUrls}`,
    ];
    const rate = this.#rate(decided);
    if (rate !== null) {
      parts.push(`${rate.toFixed(1)} rows/s`);
      const left = counts.valid - decided;
      if (batch.phase === 'sending' && left > 0 && rate > 0) {
        parts.push(`ETA ${formatDuration((left / rate) * 1000)}`);
      }
    }
    const pausedForMs = limiter ? limiter.pausedUntil - this.#now() : 0;
    if (limiter && pausedForMs > 0) {
      parts.push(
        `paused ${formatDuration(pausedForMs)}: ${limiter.pauseReason ?? '&Open asked to wait'}`,
      );
    }
    if (batch.phase === 'stopped') {
      parts.push(`STOPPED: ${batch.stopReason ?? 'no reason recorded'}`);
    }
    return `[${formatDuration(this.#now() - this.#startedAt)}] ${parts.join(' · ')}`;
  }

  /** Rows decided per second over the last 10 seconds. */
  #rate(decided: number): number | null {
    const now = this.#now();
    this.#samples.push({ at: now, decided });
    this.#samples = this.#samples.filter((sample) => now - sample.at <= 10_000);
    const first = this.#samples[0];
    if (!first || now - first.at < 1_000) return null;
    return ((decided - first.decided) * 1000) / (now - first.at);
  }
}

export function formatDuration(ms: number): string {
  const seconds = Math.max(0, Math.round(ms / 1000));
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m${String(seconds % 60).padStart(2, '0')}s`;
  return `${Math.floor(minutes / 60)}h${String(minutes % 60).padStart(2, '0')}m`;
}
