import type { Clock } from '../ports/clock.ts';
import type { BatchRecord, Ledger, RowRecord } from '../ports/ledger.ts';
import type { ObjectStore } from '../ports/object-store.ts';
import type { LimiterState, LimiterStore } from '../ports/rate-limit.ts';
import { correctCounts, RowTally } from './batch-recount.ts';
import { mayComplete } from './events/event-batch.ts';
import type { RateContext, RatePause } from './report/index.ts';
import { ReportTally, renderReportHtml } from './report/index.ts';
import { type ResultsSummary, ResultsTally, resultsCsv } from './results.ts';

export interface CompletionSettings {
  resultsBucket: string;
  /**
   * Counters are a cheap hint that may lag (a sender that died between recording a row and counting
   * it); a batch with no news for this long is checked row by row all the same.
   */
  recheckQuietBatchAfterMs: number;
  /**
   * Longer than any invocation that moves rows and adds their counts at its end can live: counters
   * that disagree with rows that all moved before now minus this are corrected (no delta is still on
   * its way); until then the batch waits. Default: the sender's 60 s time limit, doubled.
   */
  countsSettleAfterMs?: number;
  /** The configured ceiling on requests per second to &Open, drawn on the report; null: none. */
  ceilingRps?: number | null;
}

export interface CompletedBatch {
  batchId: string;
  csvKey: string;
  summaryKey: string;
  reportKey: string;
  summary: ResultsSummary;
}

export const resultsKeys = (
  batchId: string,
): { csvKey: string; summaryKey: string; reportKey: string } => ({
  csvKey: `results/${batchId}.csv`,
  summaryKey: `results/${batchId}.json`,
  reportKey: `results/${batchId}.html`,
});

/** The sender's 60 s time limit, doubled (lib/pipeline-settings.ts keeps the two in step). */
const DEFAULT_COUNTS_SETTLE_AFTER_MS = 2 * 60_000;

/** A Retry-After longer than this is not believable as one pause: its start is not drawn. */
const LONGEST_BELIEVABLE_PAUSE_MS = 15 * 60_000;

/**
 * Writes the results of every batch whose rows all have their final outcome.
 *
 * Primary course:
 * 1. Take the active batches whose counters say every row is decided and settled (or that have been
 *    quiet for a while), leaving a day's event batch open until its day is over.
 * 2. Confirm it row by row in the ledger: decided, and no created row still waiting for its URL.
 *    Its counters must say what the rows say: when they do not, they are corrected from the rows
 *    once no delta can still be on its way (batch-recount.ts); status and exports read them.
 * 3. Stream the results CSV to the results bucket, tallying its JSON summary and its HTML report in
 *    the same pass over the rows; write those two beside it, then mark the batch complete.
 */
export class CompletionService {
  readonly #ledger: Ledger;
  readonly #objects: ObjectStore;
  readonly #clock: Clock;
  readonly #settings: CompletionSettings;
  readonly #limiter: LimiterStore | null;

  constructor(deps: {
    ledger: Ledger;
    objects: ObjectStore;
    clock: Clock;
    settings: CompletionSettings;
    /** The fleet's shared rate state, for the report's rate line and pause; optional. */
    limiter?: LimiterStore;
  }) {
    this.#ledger = deps.ledger;
    this.#objects = deps.objects;
    this.#clock = deps.clock;
    this.#settings = deps.settings;
    this.#limiter = deps.limiter ?? null;
  }

  async completeFinishedBatches(): Promise<CompletedBatch[]> {
    const active = await this.#ledger.listBatches({ active: true, limit: 1_000 });
    const completed: CompletedBatch[] = [];
    for (const batch of active) {
      if (batch.phase !== 'sending' || !this.#worthChecking(batch)) continue;
      // A day's event batch takes new rows until the day is over.
      if (!mayComplete(batch.batchId, this.#clock.now())) continue;
      if (!(await this.#finalAndCounted(batch.batchId))) continue;
      completed.push(await this.writeResults(batch));
    }
    return completed;
  }

  /** Writes (or rewrites) a batch's results from the ledger and marks it complete. */
  async writeResults(batch: BatchRecord): Promise<CompletedBatch> {
    const { csvKey, summaryKey, reportKey } = resultsKeys(batch.batchId);
    const tally = new ResultsTally();
    const report = new ReportTally();
    await this.#objects.write(
      this.#settings.resultsBucket,
      csvKey,
      resultsCsv(report.count(tally.count(this.#ledger.listRows(batch.batchId)))),
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
    const page = await this.#page(batch, report, {
      resultsFile: csvKey.slice(csvKey.lastIndexOf('/') + 1),
      finishedAt: writtenAt,
      generatedAt: writtenAt,
    });
    await this.#objects.write(
      this.#settings.resultsBucket,
      reportKey,
      page,
      'text/html; charset=utf-8',
    );
    await this.#ledger.setPhase(
      batch.batchId,
      'complete',
      { completedAt: writtenAt, resultsKey: csvKey },
      writtenAt,
    );
    return { batchId: batch.batchId, csvKey, summaryKey, reportKey, summary };
  }

  /**
   * The report page of a completed batch, naming its results file `resultsFile`: for a copy of the
   * results kept under another name (`gift-batch run --out`), whose page must name the file actually
   * beside it, not the bucket's `<batch>.csv`. One more pass over the rows.
   */
  async reportHtml(batch: BatchRecord, resultsFile: string): Promise<string> {
    const report = new ReportTally();
    for await (const row of this.#ledger.listRows(batch.batchId)) report.add(row);
    return this.#page(batch, report, {
      resultsFile,
      finishedAt: batch.completedAt ?? this.#isoNow(),
      generatedAt: this.#isoNow(),
    });
  }

  async #page(
    batch: BatchRecord,
    report: ReportTally,
    page: { resultsFile: string; finishedAt: string; generatedAt: string },
  ): Promise<string> {
    return renderReportHtml(
      report.data({
        header: {
          title: `Batch ${batch.batchId}`,
          batchId: batch.batchId,
          source: batch.source.description,
          startedAt: batch.createdAt,
          finishedAt: page.finishedAt,
          resultsFile: page.resultsFile,
          generatedAt: page.generatedAt,
          notes: batch.fileError ? [batch.fileError] : [],
        },
        rate: await this.#rateContext(batch),
      }),
    );
  }

  /** What the report draws of the fleet's rate: its learned rate, the ceiling, the latest pause. */
  async #rateContext(batch: BatchRecord): Promise<RateContext> {
    const state = this.#limiter ? await this.#limiter.read() : null;
    const pause = state ? latestPause(state, Date.parse(batch.createdAt)) : null;
    return {
      learnedRps: state ? state.rate : null,
      // Slow start with no ceiling: no throttle seen yet, the rate only grew.
      stillSearching: state !== null && state.phase === 'slow-start',
      ceilingRps: this.#settings.ceilingRps ?? null,
      pauses: pause ? [pause] : [],
      stopReason: batch.stopReason,
    };
  }

  #worthChecking(batch: BatchRecord): boolean {
    const { counts } = batch;
    const decided = counts.created + counts.rejected + counts.unknown;
    const countersSayDone = decided >= counts.valid && counts.settled >= counts.created;
    const quietFor = this.#clock.now() - Date.parse(batch.updatedAt);
    return countersSayDone || quietFor >= this.#settings.recheckQuietBatchAfterMs;
  }

  /** Every row final, and the batch's counters saying so (corrected from the rows if need be). */
  async #finalAndCounted(batchId: string): Promise<boolean> {
    // Read before the rows: the correction's compare-and-set.
    const before = await this.#ledger.getBatch(batchId);
    if (!before) return false;
    const tally = new RowTally();
    for await (const row of this.#ledger.listRows(batchId)) {
      if (!isFinal(row)) return false;
      tally.add(row);
    }
    const settledBefore =
      this.#clock.now() - (this.#settings.countsSettleAfterMs ?? DEFAULT_COUNTS_SETTLE_AFTER_MS);
    const counts = await correctCounts(this.#ledger, batchId, before.counts, tally, settledBefore);
    return counts === 'agreed' || counts === 'corrected';
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

/**
 * The fleet's latest pause, when it ended after the batch began. The limiter keeps only that one:
 * when it ended (`pausedUntil`), and when the throttle episode began (`throttledAt`, a 429's send
 * instant) — which dates this pause only when it is recent enough to be the same one.
 */
function latestPause(state: LimiterState, batchStartMs: number): RatePause | null {
  if (state.pausedUntil <= 0 || state.pausedUntil < batchStartMs) return null;
  const began =
    state.throttledAt > 0 &&
    state.throttledAt <= state.pausedUntil &&
    state.pausedUntil - state.throttledAt <= LONGEST_BELIEVABLE_PAUSE_MS;
  return {
    from: began ? new Date(state.throttledAt).toISOString() : null,
    until: new Date(state.pausedUntil).toISOString(),
    reason: state.pauseReason ?? '&Open asked the fleet to wait (Retry-After)',
  };
}
