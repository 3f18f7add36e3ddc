import { type Clock, systemClock } from '../ports/clock.ts';
import type { BatchRecord, Ledger, RowRecord } from '../ports/ledger.ts';
import type { SendQueue } from '../ports/send-queue.ts';
import { correctCounts, type RecountOutcome, RowTally } from './batch-recount.ts';

/** Messages queued together when re-driving a batch. */
const REDRIVE_CHUNK = 100;

export interface ReconcileSettings {
  /**
   * A batch with no ledger progress for this long may have lost messages. It must exceed the longest
   * time a live message can be out of sight (visibility timeout + the longest re-queue delay), so that
   * a batch that is only waiting is left alone.
   */
  quietAfterMs: number;
  /**
   * A row `sending` for longer than this has no live sender (the sender's time limit + a margin):
   * only then is it re-driven, so a sender still waiting for &Open is never raced. For the same
   * reason, a row that moved longer ago than this has no counter delta still on its way.
   */
  sendingStaleAfterMs: number;
}

/**
 * The defaults the poller uses when the environment says nothing (see lambdas/config.ts); the stack
 * sets the same from lib/pipeline-settings.ts, where the reasons are.
 */
export const DEFAULT_RECONCILE_SETTINGS: ReconcileSettings = {
  quietAfterMs: 25 * 60_000,
  sendingStaleAfterMs: 2 * 60_000,
};

export interface BatchRedrive {
  batchId: string;
  /** Rows queued again: `pending` ones, and `sending` ones whose sender is gone. */
  queued: number;
  /** What the recount of its counters found (see batch-recount.ts); null: none was asked. */
  counts: RecountOutcome | null;
}

/**
 * The ledger is the source of truth; the queue is only transport. A row still `pending` (or left in
 * `sending` by a sender that died) whose message is gone — an interrupted local run, an expired or
 * dead-lettered message — is queued again. Queuing a row that still has a message is harmless: the
 * claim lets only one delivery send it, and a row found in `sending` becomes `unknown`, never a
 * second POST. The same pass recounts the batch's counters from its rows: a run killed (or an
 * invocation timed out) after deciding rows and before adding them to the counters leaves them short.
 *
 * Primary course (locally, at the start of every run and as `gift-batch reconcile`):
 * 1. Walk the rows of every batch still sending, in order, tallying them.
 * 2. Correct the batch's counters from the tally (the writers of the earlier run are gone).
 * 3. Queue every row not yet decided, in chunks.
 *
 * Primary course (in AWS, on the poller's schedule, where senders may be alive):
 * 1. Take the batches still sending that have been quiet (no ledger progress, no sender activity,
 *    no reconcile) for longer than a message can legitimately be out of sight.
 * 2. Record the reconcile on the batch first; a batch another poller just took is left to it.
 * 3. Walk its rows; correct its counters if no row moved while a sender could still be alive.
 * 4. Queue its `pending` rows, and its `sending` rows only once their sender must be gone.
 */
export class ReconcileService {
  readonly #ledger: Ledger;
  readonly #queue: SendQueue;
  readonly #clock: Clock;
  readonly #settings: ReconcileSettings;

  constructor(deps: {
    ledger: Ledger;
    queue: SendQueue;
    clock?: Clock;
    settings?: ReconcileSettings;
  }) {
    this.#ledger = deps.ledger;
    this.#queue = deps.queue;
    this.#clock = deps.clock ?? systemClock;
    this.#settings = deps.settings ?? DEFAULT_RECONCILE_SETTINGS;
  }

  /**
   * Re-drives the undecided rows of one batch; returns how many were queued. With
   * `sendingClaimedBefore` (ms), a `sending` row is queued only if it was claimed before then. With
   * `countsMovedBefore` (ms), the batch's counters are recounted from its rows when every row moved
   * before then (see batch-recount.ts).
   */
  async redriveBatch(
    batchId: string,
    options: { sendingClaimedBefore?: number; countsMovedBefore?: number } = {},
  ): Promise<number> {
    return (await this.#redrive(batchId, options)).queued;
  }

  /**
   * Re-drives every batch still sending, at once; returns the rows queued per batch. Only for a
   * place where no sender of an earlier process can still be alive (one machine, at start):
   * `countsMovedBefore` is then when this process began, so the counters are recounted from rows
   * the earlier process left.
   */
  async redriveActiveBatches(
    options: { countsMovedBefore?: number } = {},
  ): Promise<Map<string, number>> {
    const queued = new Map<string, number>();
    for (const batch of await this.#ledger.listBatches({ active: true, limit: 1_000 })) {
      if (batch.phase !== 'sending') continue;
      queued.set(batch.batchId, (await this.#redrive(batch.batchId, options)).queued);
    }
    return queued;
  }

  /** Re-drives the batches that have been quiet for too long, each at most once per quiet period. */
  async redriveQuietBatches(): Promise<BatchRedrive[]> {
    const nowMs = this.#clock.now();
    const redriven: BatchRedrive[] = [];
    for (const batch of await this.#ledger.listBatches({ active: true, limit: 1_000 })) {
      // Splitting batches belong to their splitter; stopped ones wait for a person.
      if (batch.phase !== 'sending' || !this.#isQuiet(batch, nowMs)) continue;
      const now = new Date(nowMs).toISOString();
      if (!(await this.#ledger.markReconciled(batch.batchId, batch.lastReconciledAt, now)))
        continue;
      const senderGoneBefore = nowMs - this.#settings.sendingStaleAfterMs;
      redriven.push(
        await this.#redrive(batch.batchId, {
          sendingClaimedBefore: senderGoneBefore,
          countsMovedBefore: senderGoneBefore,
        }),
      );
    }
    return redriven;
  }

  async #redrive(
    batchId: string,
    options: { sendingClaimedBefore?: number; countsMovedBefore?: number },
  ): Promise<BatchRedrive> {
    const { countsMovedBefore } = options;
    // The counters as they were before any row is read: the recount's compare-and-set.
    const before = countsMovedBefore === undefined ? null : await this.#ledger.getBatch(batchId);
    const tally = new RowTally();
    // Row numbers only (8 bytes each): the queue is fed after the counters are settled.
    const undecided: number[] = [];
    for await (const row of this.#ledger.listRows(batchId)) {
      tally.add(row);
      if (isUndecided(row, options.sendingClaimedBefore)) undecided.push(row.row);
    }
    // Counters first: a row queued now can be decided (and its delta land) at once, which would
    // refuse the recount's compare-and-set.
    const counts =
      before && countsMovedBefore !== undefined
        ? await correctCounts(this.#ledger, batchId, before.counts, tally, countsMovedBefore)
        : null;
    for (let start = 0; start < undecided.length; start += REDRIVE_CHUNK) {
      const chunk = undecided.slice(start, start + REDRIVE_CHUNK);
      await this.#queue.enqueue(chunk.map((row) => ({ batchId, row })));
    }
    return { batchId, queued: undecided.length, counts };
  }

  /** No progress, no sender activity and no reconcile for a whole quiet period. */
  #isQuiet(batch: BatchRecord, nowMs: number): boolean {
    // A row re-queued for a 429 moves no counter: the senders' activity mark says the batch is
    // being worked on all the same, so a long throttle is not taken for lost messages.
    const lastNews = Math.max(
      Date.parse(batch.updatedAt),
      batch.lastReconciledAt ? Date.parse(batch.lastReconciledAt) : 0,
      batch.lastActivityAt ? Date.parse(batch.lastActivityAt) : 0,
    );
    return nowMs - lastNews >= this.#settings.quietAfterMs;
  }
}

function isUndecided(row: RowRecord, sendingClaimedBefore: number | undefined): boolean {
  if (row.state === 'pending') return true;
  if (row.state !== 'sending') return false;
  if (sendingClaimedBefore === undefined) return true;
  // A row's updatedAt is its claim time for as long as it stays `sending`.
  return Date.parse(row.updatedAt) < sendingClaimedBefore;
}
