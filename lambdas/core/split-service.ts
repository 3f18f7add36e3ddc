import type { Clock } from '../ports/clock.ts';
import type {
  BatchPreflight,
  Ledger,
  NewRow,
  RowError,
  SplitCheckpoint,
  SplitTotals,
} from '../ports/ledger.ts';
import type { ObjectStore } from '../ports/object-store.ts';
import type { SendMessage, SendQueue } from '../ports/send-queue.ts';
import type { SplitContinuation, SplitContinuations } from '../ports/split-continuations.ts';
import { batchIdForObject } from './batch-id.ts';
import type { PreflightReport, PreflightService } from './preflight-service.ts';
import {
  campaignFromUploadKey,
  type RecipientFile,
  RecipientFileError,
  type RecipientFileSummary,
  type RecipientRow,
  readRecipients,
} from './recipients/index.ts';

export interface SplitSettings {
  /** Campaign for rows without one (the CLI's `--campaign`); the upload key may also name one. */
  defaultCampaignId: string | null;
  /** A file with more data rows is refused whole: none of its rows is recorded or sent. */
  maxRows: number;
  /** Rows written to the ledger and queued together. */
  chunkSize: number;
  /**
   * A batch with more rows than this waits for a person's approval (APPROVAL_ROWS_OVER); null: no
   * size limit. A batch whose preflight found problems waits too, when a preflight is given.
   */
  approvalRowsOver?: number | null;
  /**
   * Hand the split over to a new invocation once less time than this is left: enough for one more
   * chunk and the hand-over itself.
   */
  handOverWhenRemainingMs: number;
}

/** Findings kept on the batch, one line each (the full report is for the CLI). */
const PREFLIGHT_MESSAGES_KEPT = 20;

/** The invocation's clock: how long it may still run (Lambda's `getRemainingTimeInMillis`). */
export interface InvocationBudget {
  remainingMs(): number;
}

/** No limit: for callers that are not a Lambda invocation (a bench's reference run, tests). */
export const UNLIMITED_BUDGET: InvocationBudget = { remainingMs: () => Number.POSITIVE_INFINITY };

export interface UploadedObject {
  bucket: string;
  key: string;
  versionId: string | null;
  eTag: string | null;
}

export type SplitResult =
  /** A duplicate S3 event, or a continuation already claimed or overtaken: nothing done. */
  | { kind: 'duplicate'; batchId: string }
  | { kind: 'gone'; batchId: string }
  /** Time ran short: the rows before `nextRow` are recorded and queued, a new invocation carries on. */
  | { kind: 'continued'; batchId: string; nextRow: number; rows: number }
  | {
      kind: 'split';
      batchId: string;
      rows: number;
      valid: number;
      invalid: number;
      fileError: string | null;
      summary: RecipientFileSummary;
      /** Why the batch waits for approval instead of sending (absent: it sends). */
      awaitingApproval?: string | null;
    };

/** Where one invocation starts in the file, and under which checkpoint sequence. */
interface Start {
  batchId: string;
  object: { bucket: string; key: string };
  checkpoint: SplitCheckpoint | null;
  sequence: number;
  /** Queue the valid rows from here up to the checkpoint again (a resume after a crash). */
  requeueFrom: number | null;
  /** Whether the batch waits for approval, decided once by the first invocation. */
  gate: ApprovalGate;
}

/** The first invocation's verdict: the preflight it kept, and why the batch waits (null: it sends). */
export interface ApprovalGate {
  preflight: BatchPreflight | null;
  awaitApproval: string | null;
}

const NO_GATE: ApprovalGate = { preflight: null, awaitApproval: null };

/**
 * Turns an uploaded recipient file into a batch, over as many invocations as it takes.
 *
 * Primary course:
 * 1. Derive the batch id from the object's identity and create the batch; a duplicate event for the
 *    same object finds it and stops here (also while a continuation of it is in flight).
 * 2. With a preflight (AWS) or an approval size limit, a first pass checks the file against the
 *    campaigns and counts its rows: a batch with findings or over the size limit is recorded but
 *    not queued, and waits in `awaiting-approval` for a person (the decision rides on the
 *    checkpoint, so every invocation of a long split keeps it).
 * 3. A file big enough to hold more rows than the limit is counted first (parsed, nothing written):
 *    over the limit, it is refused whole, and not one of its rows is recorded or sent.
 * 4. Stream the file through the reader: every row is validated as it comes, never the whole file
 *    in memory.
 * 5. For each chunk: write its rows to the ledger (valid ones `pending` with their exact body,
 *    invalid ones with every error), save the checkpoint, then queue the valid ones.
 * 6. When the invocation's time runs short, hand the split over: the continuation re-reads the file
 *    from the start (cheap, and it keeps the in-file duplicate check exact) and records only the rows
 *    from the checkpoint on.
 * 7. Close the split with the totals, and the reason when the file turned unreadable part-way.
 *
 * Never twice: the order put → checkpoint → queue means the split itself queues a row only once a
 * checkpoint covers it. What a crash can leave undone is the queueing of the last chunk before the
 * checkpoint: a resume after a crash queues that chunk again, and a duplicate message is harmless
 * (the claim lets one delivery through). The chunk the dead invocation was writing past its
 * checkpoint may be in the ledger too, and a reconcile (which goes by the ledger, not the
 * checkpoint) may have queued and sent its rows since: a resume writes that chunk's rows only where
 * none is, so no row a sender has moved on goes back to `pending`. Every later row is new, and is
 * written with an unconditional batch write, the cheapest there is.
 */
export class SplitService {
  readonly #ledger: Ledger;
  readonly #objects: ObjectStore;
  readonly #queue: SendQueue;
  readonly #continuations: SplitContinuations;
  readonly #clock: Clock;
  readonly #settings: SplitSettings;

  readonly #preflight: PreflightService | null;

  constructor(deps: {
    ledger: Ledger;
    objects: ObjectStore;
    queue: SendQueue;
    continuations: SplitContinuations;
    clock: Clock;
    settings: SplitSettings;
    /** Checks each new file against the campaigns first; findings hold the batch for approval. */
    preflight?: PreflightService | null;
  }) {
    this.#preflight = deps.preflight ?? null;
    this.#ledger = deps.ledger;
    this.#objects = deps.objects;
    this.#queue = deps.queue;
    this.#continuations = deps.continuations;
    this.#clock = deps.clock;
    this.#settings = deps.settings;
  }

  /** An uploaded object's first invocation (its S3 event). */
  async split(
    object: UploadedObject,
    budget: InvocationBudget = UNLIMITED_BUDGET,
  ): Promise<SplitResult> {
    const batchId = await batchIdForObject(object);
    const created = await this.#ledger.createBatch({
      batchId,
      source: {
        description: `s3://${object.bucket}/${object.key}`,
        bucket: object.bucket,
        key: object.key,
        versionOrEtag: object.versionId ?? object.eTag,
      },
      createdAt: this.#isoNow(),
    });
    if (!created) return { kind: 'duplicate', batchId };
    const gate = await this.#approvalGate(object);
    return this.#splitFrom(
      { batchId, object, checkpoint: null, sequence: 0, requeueFrom: null, gate },
      budget,
    );
  }

  /**
   * A later invocation: claims the continuation (compare-and-set on the checkpoint's sequence, so a
   * message delivered twice does nothing the second time), then carries on from the checkpoint.
   */
  async continueSplit(
    continuation: SplitContinuation,
    budget: InvocationBudget = UNLIMITED_BUDGET,
  ): Promise<SplitResult> {
    const { batchId } = continuation;
    const batch = await this.#ledger.getBatch(batchId);
    const checkpoint = batch?.splitCheckpoint ?? null;
    const sequence = checkpoint?.sequence ?? 0;
    // A batch a sender stopped part-way (a refused key) is still split to its end; it sends nothing.
    const stillSplitting =
      batch?.phase === 'splitting' ||
      (batch?.phase === 'stopped' && batch.splitCompletedAt === null);
    if (!batch || !stillSplitting || sequence !== continuation.sequence) {
      return { kind: 'duplicate', batchId };
    }
    const { bucket, key } = batch.source;
    if (bucket === null || key === null) {
      throw new Error(`batch ${batchId} is splitting but names no uploaded object`);
    }
    const claimed: SplitCheckpoint = {
      ...(checkpoint ?? firstCheckpoint()),
      sequence: sequence + 1,
      savedAt: this.#clock.now(),
      // Should this invocation die after writing its first chunk, the next resume knows its size.
      chunkRows: this.#largestChunk(checkpoint),
    };
    if (!(await this.#ledger.saveSplitCheckpoint(batchId, sequence, claimed))) {
      return { kind: 'duplicate', batchId };
    }
    return this.#splitFrom(
      {
        batchId,
        object: { bucket, key },
        checkpoint: claimed,
        sequence: claimed.sequence,
        // A batch awaiting approval queues nothing, not even on a resume.
        requeueFrom:
          continuation.requeueLastChunk && !claimed.gate?.awaitApproval
            ? claimed.lastChunkFrom
            : null,
        gate: claimed.gate ?? NO_GATE,
      },
      budget,
    );
  }

  async #splitFrom(start: Start, budget: InvocationBudget): Promise<SplitResult> {
    const { batchId, object, checkpoint } = start;
    const totals: SplitTotals = { ...(checkpoint?.totals ?? NO_ROWS) };
    let stored = await this.#objects.open(object.bucket, object.key);
    if (!stored) {
      const reason =
        checkpoint === null
          ? `the file s3://${object.bucket}/${object.key} was deleted before it could be read`
          : `the file s3://${object.bucket}/${object.key} was deleted while it was being read; ` +
            `the ${totals.rows} rows before it are kept`;
      await this.#ledger.completeSplit(batchId, totals, reason);
      return { kind: 'gone', batchId };
    }
    if (checkpoint?.objectETag && stored.eTag && stored.eTag !== checkpoint.objectETag) {
      const reason =
        `the file s3://${object.bucket}/${object.key} was replaced while it was being read; ` +
        `the ${totals.rows} rows read before are kept (upload the rest as a new file)`;
      await this.#ledger.completeSplit(batchId, totals, reason);
      return { kind: 'gone', batchId };
    }
    const objectETag = checkpoint?.objectETag ?? stored.eTag;
    if (checkpoint === null && couldExceedRowLimit(stored.size, this.#settings.maxRows)) {
      const refusal = await this.#countRows(this.#reader(object.key, stored.body));
      if (refusal) {
        await this.#ledger.completeSplit(batchId, NO_ROWS, refusal.message);
        return {
          kind: 'split',
          batchId,
          ...NO_ROWS,
          fileError: refusal.message,
          summary: refusal.summary,
        };
      }
      stored = await this.#objects.open(object.bucket, object.key);
      if (!stored) {
        const reason = `the file s3://${object.bucket}/${object.key} was deleted before it could be read`;
        await this.#ledger.completeSplit(batchId, totals, reason);
        return { kind: 'gone', batchId };
      }
    }

    const nextRow = checkpoint?.nextRow ?? 1;
    const chunkRows = this.#largestChunk(checkpoint);
    const progress: Progress = {
      batchId,
      totals,
      sequence: start.sequence,
      objectETag,
      gate: start.gate,
      chunkRows,
      // A resume: the chunk being written when the last invocation died may be there already.
      mayExistBelow: checkpoint === null ? 0 : nextRow + chunkRows,
    };
    const file = this.#reader(object.key, stored.body);
    let fileError: string | null = null;
    let chunk: RecipientRow[] = [];
    let requeue: SendMessage[] = [];
    try {
      for await (const row of file) {
        if (row.row < nextRow) {
          // Recorded by an earlier invocation: read again only to know the duplicates.
          if (start.requeueFrom !== null && row.row >= start.requeueFrom && row.result.valid) {
            requeue.push({ batchId, row: row.row });
          }
          continue;
        }
        if (requeue.length > 0) {
          await this.#queue.enqueue(requeue);
          requeue = [];
        }
        // Decided as a new chunk begins, so a file that ends on a chunk needs no extra invocation;
        // and only after one chunk of progress, so even a starved invocation moves the split on.
        const timeShort = budget.remainingMs() < this.#settings.handOverWhenRemainingMs;
        if (chunk.length === 0 && progress.sequence > start.sequence && timeShort) {
          return this.#handOver(progress, row.row);
        }
        chunk.push(row);
        if (chunk.length < this.#settings.chunkSize) continue;
        await this.#record(progress, chunk);
        chunk = [];
      }
    } catch (error) {
      if (!(error instanceof RecipientFileError)) throw error;
      fileError = error.message;
    }
    if (requeue.length > 0) await this.#queue.enqueue(requeue);
    // Rows read before a fatal problem were accepted: they are recorded and sent all the same.
    await this.#record(progress, chunk);
    if (fileError === null && totals.rows === 0) {
      // A header and nothing under it is a file a person must fix, not a batch of nothing.
      fileError =
        file.summary().warnings.find((warning) => warning.code === 'no_rows')?.message ?? null;
    }
    await this.#ledger.completeSplit(batchId, totals, fileError, start.gate);
    return {
      kind: 'split',
      batchId,
      ...totals,
      fileError,
      summary: file.summary(),
      awaitingApproval: start.gate.awaitApproval,
    };
  }

  async #handOver(progress: Progress, nextRow: number): Promise<SplitResult> {
    const { batchId, sequence, totals } = progress;
    await this.#continuations.handOver({ batchId, sequence, requeueLastChunk: false });
    return { kind: 'continued', batchId, nextRow, rows: totals.rows };
  }

  #reader(key: string, body: AsyncIterable<Uint8Array>): RecipientFile {
    return readRecipients(body, {
      fileName: key,
      defaultCampaignId: this.#settings.defaultCampaignId ?? campaignFromUploadKey(key),
      maxRows: this.#settings.maxRows,
    });
  }

  /**
   * The counting pass: parses the whole file, writes nothing. Only the row limit refuses here; any
   * other problem is met again by the pass that records rows, which keeps the rows before it.
   */
  async #countRows(
    file: RecipientFile,
  ): Promise<{ message: string; summary: RecipientFileSummary } | null> {
    try {
      for await (const _row of file) {
        // Counting only: the reader throws at the first row past the limit.
      }
    } catch (error) {
      if (error instanceof RecipientFileError && error.code === 'too_many_rows') {
        return { message: error.message, summary: file.summary() };
      }
      if (!(error instanceof RecipientFileError)) throw error;
    }
    return null;
  }

  /**
   * Whether the batch must wait for a person: the preflight's findings (when there is a preflight)
   * and the row count against the approval limit, from one pass over the file that writes nothing.
   */
  async #approvalGate(object: UploadedObject): Promise<ApprovalGate> {
    const rowsOver = this.#settings.approvalRowsOver ?? null;
    if (this.#preflight === null && rowsOver === null)
      return { preflight: null, awaitApproval: null };
    // Gone already: the split meets it and says so.
    const stored = await this.#objects.open(object.bucket, object.key);
    if (!stored) return { preflight: null, awaitApproval: null };
    const file = this.#reader(object.key, stored.body);
    let rows = 0;
    let preflight: BatchPreflight | null = null;
    if (this.#preflight !== null) {
      const report = await this.#preflight.check(file);
      rows = report.rows;
      preflight = batchPreflightOf(report, this.#isoNow());
    } else {
      try {
        for await (const _row of file) rows += 1;
      } catch (error) {
        if (!(error instanceof RecipientFileError)) throw error;
      }
    }
    const reasons: string[] = [];
    if (rowsOver !== null && rows > rowsOver) {
      reasons.push(`${rows} rows, over the approval limit of ${rowsOver}`);
    }
    if (preflight !== null && preflight.findings > 0) {
      reasons.push(
        `the preflight found ${preflight.findings} problem${preflight.findings === 1 ? '' : 's'}`,
      );
    }
    return { preflight, awaitApproval: reasons.length > 0 ? reasons.join('; ') : null };
  }

  /** put → checkpoint → queue (see the class comment for why in this order). */
  async #record(progress: Progress, rows: RecipientRow[]): Promise<void> {
    const first = rows[0];
    const last = rows.at(-1);
    if (!first || !last) return;
    const { batchId, totals } = progress;
    const ledgerRows = rows.map((row) => toLedgerRow(batchId, row));
    const mayExist = ledgerRows.filter((row) => row.row < progress.mayExistBelow);
    const fresh = ledgerRows.filter((row) => row.row >= progress.mayExistBelow);
    if (mayExist.length > 0) await this.#ledger.putRowsIfAbsent(mayExist);
    if (fresh.length > 0) await this.#ledger.putRows(fresh);
    for (const row of ledgerRows) {
      totals.rows += 1;
      totals[row.state === 'pending' ? 'valid' : 'invalid'] += 1;
    }
    const checkpoint: SplitCheckpoint = {
      nextRow: last.row + 1,
      lastChunkFrom: first.row,
      totals: { ...totals },
      sequence: progress.sequence + 1,
      savedAt: this.#clock.now(),
      objectETag: progress.objectETag,
      gate: progress.gate,
      chunkRows: progress.chunkRows,
    };
    if (!(await this.#ledger.saveSplitCheckpoint(batchId, progress.sequence, checkpoint))) {
      // Only a second splitter on the same batch could have moved it: stop before queueing anything.
      throw new SplitSupersededError(batchId, progress.sequence);
    }
    progress.sequence = checkpoint.sequence;
    // A batch awaiting approval is recorded, never queued: the queue is transport, so nothing
    // can be sent until approval re-drives its pending rows.
    if (progress.gate.awaitApproval !== null) return;
    await this.#queue.enqueue(
      ledgerRows.filter((row) => row.state === 'pending').map((row) => ({ batchId, row: row.row })),
    );
  }

  /** The most rows any invocation of this split writes in one chunk: its own, or an earlier one's. */
  #largestChunk(checkpoint: SplitCheckpoint | null): number {
    return Math.max(checkpoint?.chunkRows ?? 0, this.#settings.chunkSize);
  }

  #isoNow(): string {
    return new Date(this.#clock.now()).toISOString();
  }
}

/** What one invocation carries from chunk to chunk. */
interface Progress {
  batchId: string;
  totals: SplitTotals;
  sequence: number;
  objectETag: string | null;
  gate: ApprovalGate;
  /** The most rows any invocation of this split writes in one chunk (saved on the checkpoint). */
  chunkRows: number;
  /** Rows below this one may be in the ledger already (a resume): written only where absent. */
  mayExistBelow: number;
}

/** The checkpoint moved under this invocation: another splitter owns the batch now. */
export class SplitSupersededError extends Error {
  override readonly name = 'SplitSupersededError';

  constructor(batchId: string, sequence: number) {
    super(
      `batch ${batchId}: the split checkpoint moved past ${sequence} under this invocation; it stops without queueing`,
    );
  }
}

/** Where a split starts: nothing recorded yet. */
export function firstCheckpoint(): SplitCheckpoint {
  return {
    nextRow: 1,
    lastChunkFrom: 1,
    totals: { ...NO_ROWS },
    sequence: 0,
    savedAt: 0,
    objectETag: null,
  };
}

const NO_ROWS = { rows: 0, valid: 0, invalid: 0 } as const;

/** The summary of a preflight the batch keeps: counts by kind and the first findings' lines. */
export function batchPreflightOf(report: PreflightReport, checkedAt: string): BatchPreflight {
  const byKind: Record<string, number> = {};
  for (const finding of report.findings) byKind[finding.kind] = (byKind[finding.kind] ?? 0) + 1;
  return {
    checkedAt,
    campaigns: report.campaigns.length,
    findings: report.findings.length,
    byKind,
    messages: report.findings.slice(0, PREFLIGHT_MESSAGES_KEPT).map((finding) => finding.message),
  };
}

/**
 * The fewest bytes a data row can take: one visible character and a line break (blank lines are not
 * rows). A smaller object cannot exceed the limit, so it needs no counting pass.
 */
const MIN_BYTES_PER_ROW = 2;

export function couldExceedRowLimit(sizeBytes: number, maxRows: number): boolean {
  return sizeBytes > maxRows * MIN_BYTES_PER_ROW;
}

/** Local validation errors read like &Open's, with where in the file they are. */
export const LOCAL_VALIDATION_ERROR_TYPE = 'local_validation_error';

export function toLedgerRow(batchId: string, row: RecipientRow): NewRow {
  const blankToNull = (value: string): string | null => (value === '' ? null : value);
  const base = {
    batchId,
    row: row.row,
    line: row.line,
    echo: {
      externalId: row.externalId,
      campaignId: blankToNull(row.source.campaign_id),
      firstName: blankToNull(row.source.first_name),
      lastName: blankToNull(row.source.last_name),
      email: blankToNull(row.source.email),
    },
  };
  if (row.result.valid) {
    return { ...base, state: 'pending', body: row.result.body, errors: [] };
  }
  return {
    ...base,
    state: 'invalid',
    body: null,
    errors: row.result.errors.map(
      (error): RowError => ({
        type: LOCAL_VALIDATION_ERROR_TYPE,
        code: error.code,
        param: error.param,
        message: `line ${error.line}${error.column ? `, column "${error.column}"` : ''}: ${error.message}`,
      }),
    ),
  };
}
