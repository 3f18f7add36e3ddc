import type { Clock } from '../ports/clock.ts';
import type { BatchRecord, Ledger, RowRecord } from '../ports/ledger.ts';
import type { ObjectStore } from '../ports/object-store.ts';
import { type ResultsSummary, ResultsTally, resultsCsv } from './results.ts';

export interface CompletionSettings {
  resultsBucket: string;
  /**
   * Counters are a cheap hint that may lag (a sender that died between recording a row and counting
   * it); a batch with no news for this long is checked row by row all the same.
   */
  recheckQuietBatchAfterMs: number;
}

export interface CompletedBatch {
  batchId: string;
  csvKey: string;
  summaryKey: string;
  summary: ResultsSummary;
}

export const resultsKeys = (batchId: string): { csvKey: string; summaryKey: string } => ({
  csvKey: `results/${batchId}.csv`,
  summaryKey: `results/${batchId}.json`,
});

/**
 * Writes the results of every batch whose rows all have their final outcome.
 *
 * Primary course:
 * 1. Take the active batches whose counters say every row is decided and settled (or that have been
 *    quiet for a while).
 * 2. Confirm it row by row in the ledger: decided, and no created row still waiting for its URL.
 * 3. Stream the results CSV and its JSON summary to the results bucket, then mark the batch complete.
 */
export class CompletionService {
  readonly #ledger: Ledger;
  readonly #objects: ObjectStore;
  readonly #clock: Clock;
  readonly #settings: CompletionSettings;

  constructor(deps: {
    ledger: Ledger;
    objects: ObjectStore;
    clock: Clock;
    settings: CompletionSettings;
  }) {
    this.#ledger = deps.ledger;
    this.#objects = deps.objects;
    this.#clock = deps.clock;
    this.#settings = deps.settings;
  }

  async completeFinishedBatches(): Promise<CompletedBatch[]> {
    const active = await this.#ledger.listBatches({ active: true, limit: 1_000 });
    const completed: CompletedBatch[] = [];
    for (const batch of active) {
      if (batch.phase !== 'sending' || !this.#worthChecking(batch)) continue;
      if (!(await this.#allRowsFinal(batch.batchId))) continue;
      completed.push(await this.writeResults(batch));
    }
    return completed;
  }

  /** Writes (or rewrites) a batch's results from the ledger and marks it complete. */
  async writeResults(batch: BatchRecord): Promise<CompletedBatch> {
    const { csvKey, summaryKey } = resultsKeys(batch.batchId);
    const tally = new ResultsTally();
    await this.#objects.write(
      this.#settings.resultsBucket,
      csvKey,
      resultsCsv(tally.count(this.#ledger.listRows(batch.batchId))),
      'text/csv; charset=utf-8',
    );
    const writtenAt = this.#isoNow();
    const summary = {
      ...tally.summary(batch.batchId, batch.createdAt, writtenAt),
      source: batch.source.description,
      fileError: batch.fileError,
    };
    await this.#objects.write(
      this.#settings.resultsBucket,
      summaryKey,
      `${JSON.stringify(summary, null, 2)}\n`,
      'application/json',
    );
    await this.#ledger.setPhase(
      batch.batchId,
      'complete',
      { completedAt: writtenAt, resultsKey: csvKey },
      writtenAt,
    );
    return { batchId: batch.batchId, csvKey, summaryKey, summary };
  }

  #worthChecking(batch: BatchRecord): boolean {
    const { counts } = batch;
    const decided = counts.created + counts.rejected + counts.unknown;
    const countersSayDone = decided >= counts.valid && counts.settled >= counts.created;
    const quietFor = this.#clock.now() - Date.parse(batch.updatedAt);
    return countersSayDone || quietFor >= this.#settings.recheckQuietBatchAfterMs;
  }

  async #allRowsFinal(batchId: string): Promise<boolean> {
    for await (const row of this.#ledger.listRows(batchId)) {
      if (!isFinal(row)) return false;
    }
    return true;
  }

  #isoNow(): string {
    return new Date(this.#clock.now()).toISOString();
  }
}

/** Decided, and — when created — no longer waiting for its redemption URL. */
export function isFinal(row: RowRecord): boolean {
  switch (row.state) {
    case 'invalid':
    case 'rejected':
    case 'unknown':
      return true;
    case 'created':
      return row.pollDueAt === null;
    default:
      return false;
  }
}
