import type { Clock } from '../ports/clock.ts';
import type { BatchCounts, BatchPhase, BatchRecord, Ledger, RowRecord } from '../ports/ledger.ts';
import type { LimiterStore } from '../ports/rate-limit.ts';

/**
 * Where a batch stands: what `gift-batch status --json` prints. Field names are stable; new fields
 * are added, never renamed.
 */
export interface BatchStatus {
  batchId: string;
  /** The file (`s3://bucket/key`) or `event`. */
  source: string;
  startedAt: string;
  phase: BatchPhase;
  counts: BatchCounts;
  /** Valid rows with an outcome from &Open (created, rejected or unknown). */
  decided: number;
  /** Decided rows out of valid rows, 0–100, one decimal; 100 for a batch with no valid row. */
  progressPercent: number;
  /** Created rows still waiting for their redemption URL. */
  waitingForUrl: number;
  /** Rows decided per minute since the batch started (to its end once complete); null before any. */
  rateRowsPerMinute: number | null;
  /** When the rows left would be decided at that rate; null when not sending or no rate yet. */
  etaAt: string | null;
  /** The fleet's pause (a Retry-After from &Open), while it lasts, for batches still sending. */
  paused: { until: string; reason: string } | null;
  /** Why the batch stopped (a refused key, a wrong URL): nothing more is sent until it is resumed. */
  stopped: { reason: string } | null;
  /** The file could not be read whole: the line a person can act on. */
  fileError: string | null;
  completedAt: string | null;
  resultsKey: string | null;
  /**
   * A batch held for a person (`awaiting-approval`: nothing is sent until someone approves it) or
   * just approved (`approved`: the poller's next run starts sending). Null in every other phase.
   */
  approval: BatchApproval | null;
}

export interface BatchApproval {
  state: 'awaiting' | 'approved';
  /** Why it was held: over the size limit, preflight findings. */
  reason: string | null;
  /** What the splitter's preflight found (the first findings, one line each), when it ran. */
  preflightFindings: string[];
  /** How many findings there were in all (the lines above may be fewer). */
  preflightFindingsTotal: number;
  /** The command that approves it (`gift-batch approve …`); null once approved. */
  approveCommand: string | null;
}

export interface ErrorCodeGroup {
  /** `local_validation`, `validation_error`, … */
  type: string;
  code: string;
  rows: number;
  /** Up to three rows with this code. */
  examples: { row: number; externalId: string | null; param: string | null; message: string }[];
}

export interface UnknownRow {
  row: number;
  externalId: string | null;
  /** `unknown`, or `sending` for a row of a batch no longer running (its sender never answered). */
  state: string;
  reason: string;
  requestId: string | null;
}

export interface WaitingRow {
  row: number;
  externalId: string | null;
  giftRequestId: string | null;
  giftStatus: string | null;
  createdAt: string | null;
}

/** One batch in detail: `gift-batch status BATCH --json`. */
export interface BatchDetail extends BatchStatus {
  /** Rejected and invalid rows by error code, most frequent first. */
  errorsByCode: ErrorCodeGroup[];
  /** Rows that need a person to check with &Open before anything is sent again. */
  unknownRows: UnknownRow[];
  /** Created rows whose redemption URL has not arrived yet. */
  waitingRows: WaitingRow[];
}

export interface StatusList {
  generatedAt: string;
  batches: BatchStatus[];
}

const EXAMPLES_PER_CODE = 3;

/**
 * Where batches stand, for operations, from the ledger and the fleet's shared rate state.
 *
 * Primary course (list):
 * 1. Read the batches, newest first, and the fleet's limiter state once.
 * 2. Derive each one's progress, rate and ETA from its counters, and whether it is paused or stopped.
 *
 * Primary course (detail):
 * 1. Derive the batch's status as above.
 * 2. Read its rows once, in input order: group errors by code (with examples), list the unknown rows
 *    and the created rows still waiting for a URL.
 */
export class StatusService {
  readonly #ledger: Ledger;
  readonly #limiter: LimiterStore | null;
  readonly #clock: Clock;
  readonly #approveCommand: (batchId: string) => string;

  constructor(deps: {
    ledger: Ledger;
    limiter?: LimiterStore | null;
    clock: Clock;
    /** The command a person approves a held batch with, where they read the status. */
    approveCommand?: (batchId: string) => string;
  }) {
    this.#ledger = deps.ledger;
    this.#limiter = deps.limiter ?? null;
    this.#clock = deps.clock;
    this.#approveCommand = deps.approveCommand ?? ((batchId) => `gift-batch approve ${batchId}`);
  }

  async list(options: { limit?: number } = {}): Promise<StatusList> {
    const [batches, pause] = await Promise.all([
      this.#ledger.listBatches({ limit: options.limit ?? 20 }),
      this.#pause(),
    ]);
    return {
      generatedAt: this.#iso(this.#clock.now()),
      batches: batches.map((batch) => this.#statusOf(batch, pause)),
    };
  }

  /** Null when the ledger has no such batch. */
  async detail(batchId: string): Promise<BatchDetail | null> {
    const [batch, pause] = await Promise.all([this.#ledger.getBatch(batchId), this.#pause()]);
    if (!batch) return null;
    const status = this.#statusOf(batch, pause);
    const groups = new Map<string, ErrorCodeGroup>();
    const unknownRows: UnknownRow[] = [];
    const waitingRows: WaitingRow[] = [];
    const running = batch.phase === 'splitting' || batch.phase === 'sending';
    for await (const row of this.#ledger.listRows(batchId)) {
      if (row.state === 'rejected' || row.state === 'invalid') addErrors(groups, row);
      // A row left in `sending` by a batch no longer running may have reached &Open; a `pending`
      // one was never sent (a stopped batch sends it once resumed), so it needs no one to check.
      else if (row.state === 'unknown' || (!running && row.state === 'sending'))
        unknownRows.push(unknownRowOf(row));
      else if (row.state === 'created' && !row.redemptionUrl && row.pollDueAt !== null)
        waitingRows.push({
          row: row.row,
          externalId: row.echo.externalId,
          giftRequestId: row.giftRequestId,
          giftStatus: row.giftStatus,
          createdAt: row.giftCreatedAt,
        });
    }
    const errorsByCode = [...groups.values()].sort(
      (a, b) => b.rows - a.rows || a.code.localeCompare(b.code),
    );
    return { ...status, errorsByCode, unknownRows, waitingRows };
  }

  async #pause(): Promise<{ until: number; reason: string } | null> {
    const state = await this.#limiter?.read();
    if (!state || state.pausedUntil <= this.#clock.now()) return null;
    return { until: state.pausedUntil, reason: state.pauseReason ?? '&Open asked to wait' };
  }

  #statusOf(batch: BatchRecord, pause: { until: number; reason: string } | null): BatchStatus {
    const { counts } = batch;
    const decided = counts.created + counts.rejected + counts.unknown;
    const nowMs = this.#clock.now();
    const startedMs = Date.parse(batch.createdAt);
    const endMs = batch.completedAt ? Date.parse(batch.completedAt) : nowMs;
    const minutes = (endMs - startedMs) / 60_000;
    const rate = decided > 0 && minutes > 0 ? decided / minutes : null;
    const left = Math.max(0, counts.valid - decided);
    const sending = batch.phase === 'sending';
    return {
      batchId: batch.batchId,
      source: batch.source.description,
      startedAt: batch.createdAt,
      phase: batch.phase,
      counts: { ...counts },
      decided,
      progressPercent:
        counts.valid > 0 ? Math.floor((decided / counts.valid) * 1000) / 10 : phaseDone(batch),
      waitingForUrl: Math.max(0, counts.created - counts.settled),
      rateRowsPerMinute: rate === null ? null : Math.round(rate * 10) / 10,
      etaAt:
        sending && rate !== null && left > 0
          ? this.#iso(nowMs + Math.max(0, (pause?.until ?? nowMs) - nowMs) + (left / rate) * 60_000)
          : null,
      paused:
        pause && (sending || batch.phase === 'splitting')
          ? { until: this.#iso(pause.until), reason: pause.reason }
          : null,
      stopped:
        batch.phase === 'stopped' ? { reason: batch.stopReason ?? 'no reason recorded' } : null,
      fileError: batch.fileError,
      completedAt: batch.completedAt,
      resultsKey: batch.resultsKey,
      approval: this.#approvalOf(batch),
    };
  }

  #approvalOf(batch: BatchRecord): BatchApproval | null {
    if (batch.phase !== 'awaiting-approval' && batch.phase !== 'approved') return null;
    const waiting = batch.phase === 'awaiting-approval';
    return {
      state: waiting ? 'awaiting' : 'approved',
      reason: batch.approvalReason ?? null,
      preflightFindings: [...(batch.preflight?.messages ?? [])],
      preflightFindingsTotal: batch.preflight?.findings ?? 0,
      approveCommand: waiting ? this.#approveCommand(batch.batchId) : null,
    };
  }

  #iso(ms: number): string {
    return new Date(ms).toISOString();
  }
}

/** A batch with no valid row is done once split (every row was invalid). */
function phaseDone(batch: BatchRecord): number {
  return batch.phase === 'splitting' ? 0 : 100;
}

function addErrors(groups: Map<string, ErrorCodeGroup>, row: RowRecord): void {
  const counted = new Set<string>();
  for (const error of row.errors) {
    const key = `${error.type}\u0000${error.code}`;
    if (counted.has(key)) continue; // a row counts once per code, however many params it failed
    counted.add(key);
    let group = groups.get(key);
    if (!group) {
      group = { type: error.type, code: error.code, rows: 0, examples: [] };
      groups.set(key, group);
    }
    group.rows += 1;
    if (group.examples.length < EXAMPLES_PER_CODE) {
      group.examples.push({
        row: row.row,
        externalId: row.echo.externalId,
        param: error.param,
        message: error.message,
      });
    }
  }
}

function unknownRowOf(row: RowRecord): UnknownRow {
  return {
    row: row.row,
    externalId: row.echo.externalId,
    state: row.state,
    reason:
      row.state === 'unknown'
        ? (row.unknownReason ?? 'no decisive answer from &Open')
        : `still ${row.state} when the batch ended`,
    requestId: row.requestId,
  };
}
