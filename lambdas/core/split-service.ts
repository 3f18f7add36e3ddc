import type { Clock } from '../ports/clock.ts';
import type { BatchPreflight, Ledger, NewRow, RowError } from '../ports/ledger.ts';
import type { ObjectStore } from '../ports/object-store.ts';
import type { SendQueue } from '../ports/send-queue.ts';
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
}

/** Findings kept on the batch, one line each (the full report is for the CLI). */
const PREFLIGHT_MESSAGES_KEPT = 20;

export interface UploadedObject {
  bucket: string;
  key: string;
  versionId: string | null;
  eTag: string | null;
}

export type SplitResult =
  | { kind: 'duplicate'; batchId: string }
  | { kind: 'gone'; batchId: string }
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

/**
 * Turns an uploaded recipient file into a batch.
 *
 * Primary course:
 * 1. Derive the batch id from the object's identity and create the batch; a duplicate event for the
 *    same object finds it and stops here.
 * 2. With a preflight (AWS) or an approval size limit, a first pass checks the file against the
 *    campaigns and counts its rows: a batch with findings or over the size limit is recorded but
 *    not queued, and waits in `awaiting-approval` for a person.
 * 3. A file big enough to hold more rows than the limit is counted first (parsed, nothing written):
 *    over the limit, it is refused whole, and not one of its rows is recorded or sent.
 * 4. Stream the file through the reader: every row is validated as it comes, never the whole file
 *    in memory.
 * 5. Record each chunk of rows in the ledger first (valid ones `pending` with their exact body,
 *    invalid ones with every error), then queue the valid ones: a row is never on the queue without
 *    its ledger entry.
 * 6. Close the split with the totals, and the reason when the file turned unreadable part-way.
 */
export class SplitService {
  readonly #ledger: Ledger;
  readonly #objects: ObjectStore;
  readonly #queue: SendQueue;
  readonly #clock: Clock;
  readonly #settings: SplitSettings;

  readonly #preflight: PreflightService | null;

  constructor(deps: {
    ledger: Ledger;
    objects: ObjectStore;
    queue: SendQueue;
    clock: Clock;
    settings: SplitSettings;
    /** Checks each new file against the campaigns first; findings hold the batch for approval. */
    preflight?: PreflightService | null;
  }) {
    this.#preflight = deps.preflight ?? null;
    this.#ledger = deps.ledger;
    this.#objects = deps.objects;
    this.#queue = deps.queue;
    this.#clock = deps.clock;
    this.#settings = deps.settings;
  }

  async split(object: UploadedObject): Promise<SplitResult> {
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

    let stored = await this.#objects.open(object.bucket, object.key);
    if (stored && couldExceedRowLimit(stored.size, this.#settings.maxRows)) {
      const refusal = await this.#countRows(this.#reader(object, stored.body));
      if (refusal) {
        await this.#ledger.completeSplit(
          batchId,
          { rows: 0, valid: 0, invalid: 0 },
          refusal.message,
        );
        return {
          kind: 'split',
          batchId,
          ...NO_ROWS,
          fileError: refusal.message,
          summary: refusal.summary,
        };
      }
      stored = await this.#objects.open(object.bucket, object.key);
    }
    if (!stored) {
      const reason = `the file s3://${object.bucket}/${object.key} was deleted before it could be read`;
      await this.#ledger.completeSplit(batchId, { rows: 0, valid: 0, invalid: 0 }, reason);
      return { kind: 'gone', batchId };
    }

    const file = this.#reader(object, stored.body);
    const totals = { rows: 0, valid: 0, invalid: 0 };
    let fileError: string | null = null;
    let chunk: RecipientRow[] = [];
    try {
      for await (const row of file) {
        chunk.push(row);
        if (chunk.length >= this.#settings.chunkSize) {
          await this.#record(batchId, chunk, totals, gate.awaitApproval === null);
          chunk = [];
        }
      }
    } catch (error) {
      if (!(error instanceof RecipientFileError)) throw error;
      fileError = error.message;
    }
    // Rows read before a fatal problem were accepted: they are recorded and sent all the same.
    await this.#record(batchId, chunk, totals, gate.awaitApproval === null);
    await this.#ledger.completeSplit(batchId, totals, fileError, gate);
    return {
      kind: 'split',
      batchId,
      ...totals,
      fileError,
      summary: file.summary(),
      awaitingApproval: gate.awaitApproval,
    };
  }

  #reader(object: UploadedObject, body: AsyncIterable<Uint8Array>): RecipientFile {
    return readRecipients(body, {
      fileName: object.key,
      defaultCampaignId: this.#settings.defaultCampaignId ?? campaignFromUploadKey(object.key),
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
  async #approvalGate(
    object: UploadedObject,
  ): Promise<{ preflight: BatchPreflight | null; awaitApproval: string | null }> {
    const rowsOver = this.#settings.approvalRowsOver ?? null;
    if (this.#preflight === null && rowsOver === null)
      return { preflight: null, awaitApproval: null };
    // Gone already: the split meets it and says so.
    const stored = await this.#objects.open(object.bucket, object.key);
    if (!stored) return { preflight: null, awaitApproval: null };
    const file = this.#reader(object, stored.body);
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

  async #record(
    batchId: string,
    rows: RecipientRow[],
    totals: { rows: number; valid: number; invalid: number },
    queue: boolean,
  ): Promise<void> {
    if (rows.length === 0) return;
    const ledgerRows = rows.map((row) => toLedgerRow(batchId, row));
    await this.#ledger.putRows(ledgerRows);
    // A batch awaiting approval is recorded, never queued: the queue is transport, so nothing
    // can be sent until approval re-drives its pending rows.
    if (queue) {
      await this.#queue.enqueue(
        ledgerRows
          .filter((row) => row.state === 'pending')
          .map((row) => ({ batchId, row: row.row })),
      );
    }
    for (const row of ledgerRows) {
      totals.rows += 1;
      totals[row.state === 'pending' ? 'valid' : 'invalid'] += 1;
    }
  }

  #isoNow(): string {
    return new Date(this.#clock.now()).toISOString();
  }
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
