import type { Clock } from '../ports/clock.ts';
import type { BatchCounts, Ledger } from '../ports/ledger.ts';
import type { SendResult } from './send-service.ts';

/** Without a Retry-After, how long a row waits before its next try, by reason. */
const DEFAULT_RETRY_DELAY_SECONDS: Record<
  Extract<SendResult, { kind: 'retry' }>['reason'],
  number
> = {
  throttled: 2,
  unavailable: 10,
  'not-sent': 5,
  // A stopped batch waits for a person: its rows look again only every 15 minutes (SQS's longest
  // delay), so a batch left stopped costs a trickle of invocations, and carries on by itself once
  // the stop is cleared. (Locally, `gift-batch resume` also re-drives them at once.)
  'configuration-stop': 900,
  'batch-stopped': 900,
  // Waiting for the fleet's rate: the wait itself is the Retry-After, this is only a fallback.
  paused: 5,
};

/** SQS delays a message by at most 15 minutes: the longest a re-queued row waits out of sight. */
export const MAX_DELAY_SECONDS = 900;

/** How long to delay a re-queued row: the Retry-After when &Open gave one, else a default. */
export function retryDelaySeconds(result: Extract<SendResult, { kind: 'retry' }>): number {
  const seconds =
    result.retryAfterMs !== null
      ? Math.ceil(result.retryAfterMs / 1000)
      : DEFAULT_RETRY_DELAY_SECONDS[result.reason];
  return Math.min(MAX_DELAY_SECONDS, Math.max(0, seconds));
}

/** Retries of a batch that stopped: its rows wait for a person, not for &Open. */
const STOPPED_REASONS: ReadonlySet<string> = new Set(['batch-stopped', 'configuration-stop']);

/**
 * Batch counters, summed over one invocation and written once per batch: the batch item is one hot
 * item, and a write per row would cap the whole fleet at what one item can take.
 *
 * Each delta follows the row's move exactly, as the ledger's conditional write made it: only the
 * writer that won a move counts it, so a row is counted once whatever the deliveries. A definite
 * answer that replaced the `unknown` a redelivery guessed (and counted) takes that guess back, and
 * an answer the ledger did not record is not counted.
 */
export class CountsByBatch {
  readonly #deltas = new Map<string, Partial<BatchCounts>>();
  /** Batches with rows re-queued to wait (a 429, maintenance, the fleet's pace): busy, not stuck. */
  readonly #waiting = new Set<string>();

  add(batchId: string, result: SendResult): void {
    const delta: Partial<BatchCounts> = this.#deltas.get(batchId) ?? {};
    const recorded = result.movedFrom !== null;
    if (result.kind === 'done' && result.state !== 'skipped' && recorded) {
      delta[result.state] = (delta[result.state] ?? 0) + 1;
      if (result.settled) delta.settled = (delta.settled ?? 0) + 1;
    }
    if (result.movedFrom === 'unknown') delta.unknown = (delta.unknown ?? 0) - 1;
    if (Object.keys(delta).length > 0) this.#deltas.set(batchId, delta);
    // A stopped batch waits for a person, and reconcile leaves stopped batches alone anyway.
    if (result.kind === 'retry' && !STOPPED_REASONS.has(result.reason)) this.#waiting.add(batchId);
  }

  /**
   * One counter write per batch with news. With `activity`, a batch whose rows only waited is
   * marked active instead, at most once a minute (see BatchActivity): a counter write already is
   * news, since it moves the batch's `updatedAt`.
   */
  async flush(ledger: Ledger, now: string, activity?: BatchActivity): Promise<void> {
    const deltas = [...this.#deltas];
    const waiting = [...this.#waiting].filter((batchId) => !this.#deltas.has(batchId));
    this.#deltas.clear();
    this.#waiting.clear();
    for (const [batchId, delta] of deltas) await ledger.addToCounts(batchId, delta, now);
    for (const batchId of waiting) {
      if (activity?.due(batchId)) await ledger.noteActivity(batchId, now);
    }
  }
}

/**
 * When one sender process last marked each batch active (`lastActivityAt`), kept across its
 * invocations (module scope in Lambda). A 429 storm re-queues rows without moving any counter; the
 * mark keeps reconcile from taking such a batch for one that lost its messages (25 minutes of quiet)
 * and re-driving every row. It costs one write per batch per minute per process, never one per row
 * (STACK.md's write budget).
 */
export class BatchActivity {
  readonly #clock: Clock;
  readonly #everyMs: number;
  readonly #markedAt = new Map<string, number>();

  constructor(clock: Clock, everyMs = 60_000) {
    this.#clock = clock;
    this.#everyMs = everyMs;
  }

  /** True, and remembered as done now, when the batch has not been marked for `everyMs`. */
  due(batchId: string): boolean {
    const nowMs = this.#clock.now();
    const last = this.#markedAt.get(batchId);
    if (last !== undefined && nowMs - last < this.#everyMs) return false;
    // A long-lived process forgets batches it has not marked for a while.
    for (const [id, at] of this.#markedAt)
      if (nowMs - at >= this.#everyMs) this.#markedAt.delete(id);
    this.#markedAt.set(batchId, nowMs);
    return true;
  }
}
