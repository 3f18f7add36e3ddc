import type { Clock } from '../ports/clock.ts';
import type { BatchPhase, Ledger, RowRecord, RowState } from '../ports/ledger.ts';
import type { SendQueue } from '../ports/send-queue.ts';

/** What a release did, row by row. */
export interface RetryUnknownReport {
  batchId: string;
  /** The batch's phase when the release began. */
  phaseBefore: BatchPhase;
  /** Rows moved `unknown → pending` and queued again, in row order. */
  released: number[];
  /** Rows asked for that were not `unknown` (already decided, or still undecided), with their state. */
  notUnknown: { row: number; state: RowState }[];
  /** Rows asked for that the batch does not have. */
  notFound: number[];
  /** A completed batch was put back to `sending`, so it completes again and rewrites its results. */
  reopened: boolean;
}

/**
 * Sends `unknown` rows again, after a person checked with &Open that no gift was created for them.
 * &Open has no idempotency key and no search: this is the only way an `unknown` row is ever re-sent,
 * and a row whose gift did exist will be sent twice.
 *
 * Primary course:
 * 1. Read the batch; take the rows asked for, or every `unknown` row of the batch.
 * 2. Move each `unknown → pending` conditionally, keeping its earlier reason and Request-Id.
 * 3. Take the released rows off the batch's `unknown` count (their new outcome counts when decided).
 * 4. Put a completed batch back to `sending`, so it completes again and rewrites its results.
 * 5. Queue the released rows.
 */
export class RetryUnknownService {
  readonly #ledger: Ledger;
  readonly #queue: SendQueue;
  readonly #clock: Clock;

  constructor(deps: { ledger: Ledger; queue: SendQueue; clock: Clock }) {
    this.#ledger = deps.ledger;
    this.#queue = deps.queue;
    this.#clock = deps.clock;
  }

  /** The batch's `unknown` rows, in row order (for a person to check before releasing them). */
  async unknownRows(batchId: string): Promise<RowRecord[]> {
    const rows: RowRecord[] = [];
    for await (const row of this.#ledger.listRows(batchId)) {
      if (row.state === 'unknown') rows.push(row);
    }
    return rows;
  }

  /** Releases `rows` (default: every unknown row); null when the batch is not in the ledger. */
  async release(batchId: string, rows?: number[]): Promise<RetryUnknownReport | null> {
    const batch = await this.#ledger.getBatch(batchId);
    if (!batch) return null;
    const wanted = rows
      ? [...new Set(rows)].sort((a, b) => a - b)
      : (await this.unknownRows(batchId)).map((row) => row.row);

    const report: RetryUnknownReport = {
      batchId,
      phaseBefore: batch.phase,
      released: [],
      notUnknown: [],
      notFound: [],
      reopened: false,
    };
    for (const row of wanted) {
      const result = await this.#ledger.releaseUnknown(batchId, row, this.#isoNow());
      if (result.released) report.released.push(row);
      else if (result.state === 'missing') report.notFound.push(row);
      else report.notUnknown.push({ row, state: result.state });
    }
    if (report.released.length === 0) return report;

    const now = this.#isoNow();
    await this.#ledger.addToCounts(batchId, { unknown: -report.released.length }, now);
    if (batch.phase === 'complete') {
      await this.#ledger.setPhase(batchId, 'sending', {}, now);
      report.reopened = true;
    }
    await this.#queue.enqueue(report.released.map((row) => ({ batchId, row })));
    return report;
  }

  #isoNow(): string {
    return new Date(this.#clock.now()).toISOString();
  }
}
