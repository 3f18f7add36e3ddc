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

  add(batchId: string, result: SendResult): void {
    const delta: Partial<BatchCounts> = this.#deltas.get(batchId) ?? {};
    const recorded = result.movedFrom !== null;
    if (result.kind === 'done' && result.state !== 'skipped' && recorded) {
      delta[result.state] = (delta[result.state] ?? 0) + 1;
      if (result.settled) delta.settled = (delta.settled ?? 0) + 1;
    }
    if (result.movedFrom === 'unknown') delta.unknown = (delta.unknown ?? 0) - 1;
    if (Object.keys(delta).length > 0) this.#deltas.set(batchId, delta);
  }

  async flush(ledger: Ledger, now: string): Promise<void> {
    const deltas = [...this.#deltas];
    this.#deltas.clear();
    for (const [batchId, delta] of deltas) await ledger.addToCounts(batchId, delta, now);
  }
}
