import type { RowRecord } from '../ports/ledger.ts';
import { formatCsvLine, neutraliseCsvCell } from './csv-cell.ts';

/**
 * The results file's header: a contract with its users' spreadsheets and scripts (DESIGN.md, Files).
 * Keep it exactly; new columns go at the end.
 */
export const RESULTS_COLUMNS = [
  'row',
  'external_id',
  'campaign_id',
  'first_name',
  'last_name',
  'email',
  'outcome',
  'gift_request_id',
  'status',
  'redemption_url',
  'error_type',
  'error_code',
  'error_param',
  'error_message',
  'request_id',
  'created_at',
  'updated_at',
  'retried_after_unknown',
] as const;

export type ResultsColumn = (typeof RESULTS_COLUMNS)[number];

/** A row's final outcome as the results file names it. */
export type Outcome = 'created' | 'rejected' | 'invalid' | 'unknown';

/** Several errors of one row share a cell, in the same order in every error column. */
const ERROR_SEPARATOR = '; ';

/** Excel opens a CSV as UTF-8 only when it starts with a byte order mark. */
const UTF8_BOM = '\uFEFF';
const CRLF = '\r\n';

/**
 * The outcome of a row once decided. `pending` and `sending` rows have none yet: a results file is
 * written when every row has one, and a row still undecided then is reported `unknown` rather than
 * dropped, so that the file always has one line per input row.
 */
export function outcomeOf(row: RowRecord): Outcome {
  switch (row.state) {
    case 'created':
    case 'rejected':
    case 'invalid':
    case 'unknown':
      return row.state;
    default:
      return 'unknown';
  }
}

/** One results line's cells, by column, before CSV neutralising. */
export function resultsRecord(row: RowRecord): Record<ResultsColumn, string> {
  const outcome = outcomeOf(row);
  const errors =
    outcome === 'unknown'
      ? [
          {
            type: 'unknown',
            code: row.state === 'unknown' ? 'ambiguous' : `still_${row.state}`,
            param: null,
            message: unknownMessage(row),
          },
        ]
      : row.errors;
  const join = (pick: (error: (typeof errors)[number]) => string | null): string =>
    errors.map((error) => pick(error) ?? '').join(ERROR_SEPARATOR);
  return {
    row: String(row.row),
    external_id: row.echo.externalId ?? '',
    campaign_id: row.echo.campaignId ?? row.body?.campaign_id ?? '',
    first_name: row.echo.firstName ?? '',
    last_name: row.echo.lastName ?? '',
    email: row.echo.email ?? '',
    outcome,
    gift_request_id: row.giftRequestId ?? '',
    status: row.giftStatus ?? '',
    redemption_url: row.redemptionUrl ?? '',
    error_type: join((error) => error.type),
    error_code: join((error) => error.code),
    error_param: join((error) => error.param),
    error_message: join((error) => error.message),
    request_id: row.requestId ?? '',
    // &Open's own times for a gift it created; otherwise when the ledger recorded the row.
    created_at: row.giftCreatedAt ?? row.createdAt,
    updated_at: row.giftUpdatedAt ?? row.updatedAt,
    retried_after_unknown: retriedAfterUnknown(row),
  };
}

/**
 * A row a person released from `unknown` (retry-unknown) says so, with what it was unknown for: if
 * &Open turns out to have two gifts for that recipient, this is where the second one came from.
 */
function retriedAfterUnknown(row: RowRecord): string {
  if (!row.releasedFromUnknownAt) return '';
  const reason = row.previousUnknownReason ?? 'no decisive answer from &Open';
  const reference = row.previousRequestId ? ` (Request-Id ${row.previousRequestId})` : '';
  return `sent again on ${row.releasedFromUnknownAt}; it was unknown: ${reason}${reference}`;
}

function unknownMessage(row: RowRecord): string {
  if (row.state !== 'unknown')
    return `the row was still ${row.state} when the results were written`;
  const reason = row.unknownReason ?? 'no decisive answer from &Open';
  const reference = row.requestId ? ` (Request-Id ${row.requestId})` : '';
  return `${reason}${reference}. The gift may or may not exist: check with &Open before releasing it with retry-unknown.`;
}

/** The results CSV, streamed: BOM, header, one CRLF line per row, every cell formula-safe. */
export async function* resultsCsv(rows: AsyncIterable<RowRecord>): AsyncIterable<string> {
  yield `${UTF8_BOM}${formatCsvLine(RESULTS_COLUMNS)}${CRLF}`;
  let chunk = '';
  for await (const row of rows) {
    const record = resultsRecord(row);
    chunk += `${formatCsvLine(RESULTS_COLUMNS.map((column) => neutraliseCsvCell(record[column])))}${CRLF}`;
    // A few hundred lines per chunk: fewer, larger writes without holding the whole file.
    if (chunk.length >= 64 * 1024) {
      yield chunk;
      chunk = '';
    }
  }
  if (chunk) yield chunk;
}

export interface ResultsSummary {
  batchId: string;
  rows: number;
  byOutcome: Record<Outcome, number>;
  /** Created gifts whose redemption URL had arrived when the file was written. */
  withRedemptionUrl: number;
  byErrorCode: Record<string, number>;
  timings: {
    batchCreatedAt: string;
    firstGiftCreatedAt: string | null;
    lastGiftCreatedAt: string | null;
    writtenAt: string;
  };
}

/** Counts what the results file holds, as it is streamed (no second pass over the ledger). */
export class ResultsTally {
  readonly #byOutcome: Record<Outcome, number> = {
    created: 0,
    rejected: 0,
    invalid: 0,
    unknown: 0,
  };
  readonly #byErrorCode: Record<string, number> = {};
  #rows = 0;
  #withUrl = 0;
  #firstCreated: string | null = null;
  #lastCreated: string | null = null;

  /** Passes rows through while counting them. */
  async *count(rows: AsyncIterable<RowRecord>): AsyncIterable<RowRecord> {
    for await (const row of rows) {
      this.add(row);
      yield row;
    }
  }

  add(row: RowRecord): void {
    const outcome = outcomeOf(row);
    this.#rows += 1;
    this.#byOutcome[outcome] += 1;
    if (row.redemptionUrl) this.#withUrl += 1;
    for (const error of outcome === 'unknown' ? [] : row.errors) {
      this.#byErrorCode[error.code] = (this.#byErrorCode[error.code] ?? 0) + 1;
    }
    if (row.giftCreatedAt) {
      if (!this.#firstCreated || row.giftCreatedAt < this.#firstCreated)
        this.#firstCreated = row.giftCreatedAt;
      if (!this.#lastCreated || row.giftCreatedAt > this.#lastCreated)
        this.#lastCreated = row.giftCreatedAt;
    }
  }

  summary(batchId: string, batchCreatedAt: string, writtenAt: string): ResultsSummary {
    return {
      batchId,
      rows: this.#rows,
      byOutcome: { ...this.#byOutcome },
      withRedemptionUrl: this.#withUrl,
      byErrorCode: { ...this.#byErrorCode },
      timings: {
        batchCreatedAt,
        firstGiftCreatedAt: this.#firstCreated,
        lastGiftCreatedAt: this.#lastCreated,
        writtenAt,
      },
    };
  }
}
