import type { BatchCounts, Ledger, RowRecord, SendCounts } from '../ports/ledger.ts';

/**
 * What a batch's rows say its send counters should be, tallied in one pass over the rows, with the
 * instant the rows last moved.
 */
export class RowTally {
  readonly counts: SendCounts = { created: 0, rejected: 0, unknown: 0, settled: 0 };
  #newestMoveMs = Number.NEGATIVE_INFINITY;

  add(row: RowRecord): void {
    // Invalid rows never move after the split, which counted them.
    if (row.state === 'invalid') return;
    this.#newestMoveMs = Math.max(this.#newestMoveMs, Date.parse(row.updatedAt));
    if (row.state === 'created') {
      this.counts.created += 1;
      // Settled: the URL arrived, or the wait for it ended (the poller no longer follows the row).
      if (row.pollDueAt === null) this.counts.settled += 1;
    } else if (row.state === 'rejected' || row.state === 'unknown') {
      this.counts[row.state] += 1;
    }
  }

  /** When a row last moved (claimed, decided, released, URL arrived); -Infinity for none. */
  get newestMoveMs(): number {
    return this.#newestMoveMs;
  }
}

/**
 * What became of a recount: the counters already `agreed` with the rows, were `corrected`, could
 * not be corrected yet because a row moved too recently (`unsettled`: a delta may still be on its
 * way), or another write changed the counters meanwhile (`raced`: try again later).
 */
export type RecountOutcome = 'agreed' | 'corrected' | 'unsettled' | 'raced';

/**
 * Makes the batch's send counters say what its rows say.
 *
 * Why this is safe beside live writers, who add their deltas with ADD: a writer counts a row's move
 * in memory and adds it once, at the end of its invocation, so a move can be in the rows but not yet
 * in the counters. A recount that SET the counters then would count that move twice once the late
 * delta lands. Hence two guards:
 * 1. `movedBeforeMs`: every row (the tally's newest move) must have moved before an instant after
 *    which no writer that moved it can still be alive: the caller's longest invocation (in AWS, now
 *    minus the sender's lifetime with a margin), or the start of this process (a local run: the
 *    writers of an earlier, killed run are gone). A row that moves during the scan either was read
 *    before its move (the tally has its earlier state and its delta applies on top: right), or after
 *    (its newest move is too recent: nothing is written).
 * 2. Compare-and-set: `seen` are the counters read before the scan; a delta that lands between that
 *    read and this write changes them, and the write is refused.
 * No per-batch version is needed, and no writer has to read anything before it adds.
 */
export async function correctCounts(
  ledger: Ledger,
  batchId: string,
  seen: BatchCounts,
  tally: RowTally,
  movedBeforeMs: number,
): Promise<RecountOutcome> {
  if (countsAgree(seen, tally.counts)) return 'agreed';
  if (tally.newestMoveMs >= movedBeforeMs) return 'unsettled';
  return (await ledger.correctCounts(batchId, seen, tally.counts)) ? 'corrected' : 'raced';
}

export function countsAgree(counts: SendCounts, tallied: SendCounts): boolean {
  return (
    counts.created === tallied.created &&
    counts.rejected === tallied.rejected &&
    counts.unknown === tallied.unknown &&
    counts.settled === tallied.settled
  );
}
