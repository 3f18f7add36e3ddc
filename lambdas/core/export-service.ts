import type { Clock } from '../ports/clock.ts';
import type { Ledger, RowRecord } from '../ports/ledger.ts';
import { formatCsvLine, neutraliseCsvCell } from './csv-cell.ts';
import { ReportTally, renderReportHtml } from './report/index.ts';
import { type Outcome, outcomeOf, RESULTS_COLUMNS, resultsRecord } from './results.ts';

/**
 * A campaign export's columns: the results file's, in the same order, then where each row came from.
 * A contract with finance's spreadsheets: new columns go at the end.
 */
export const EXPORT_COLUMNS = [
  ...RESULTS_COLUMNS,
  'batch_id',
  'source',
  'idempotency_key',
  'metadata',
] as const;

export type ExportColumn = (typeof EXPORT_COLUMNS)[number];

export type ExportFormat = 'csv' | 'jsonl';

export const EXPORT_FORMATS: readonly ExportFormat[] = ['csv', 'jsonl'];

export const OUTCOMES: readonly Outcome[] = ['created', 'rejected', 'invalid', 'unknown'];

/** &Open's public gift statuses (get-gift-request: status). */
export const GIFT_STATUSES = [
  'submitted',
  'redeemed',
  'dispatched',
  'delivered',
  'cancelled',
] as const;

/** What someone asks for, as they wrote it (CLI options, or the AWS request object's fields). */
export interface ExportRequest {
  campaignId?: unknown;
  from?: unknown;
  to?: unknown;
  /** Outcomes and/or gift statuses: an array, or one comma-separated string. */
  status?: unknown;
  format?: unknown;
}

/** A request once checked: exact instants, and the filters split by kind. */
export interface ExportQuery {
  campaignId: string;
  /** The interval used, both ends inclusive ISO instants; null is open-ended. */
  from: string | null;
  to: string | null;
  outcomes: Outcome[];
  giftStatuses: string[];
  format: ExportFormat;
}

export class ExportRequestError extends Error {
  override readonly name = 'ExportRequestError';
  /** Every problem found, one line each, naming the field. */
  readonly problems: string[];

  constructor(problems: string[]) {
    super(problems.join('; '));
    this.problems = problems;
  }
}

/** The summary written beside an export (and printed by the CLI): it reconciles with the file. */
export interface ExportSummary {
  campaignId: string;
  /** The exact interval used (ISO instants, inclusive); null is open-ended. */
  interval: { from: string | null; to: string | null };
  /** The filter applied; empty lists mean every row. */
  filter: { outcomes: Outcome[]; giftStatuses: string[] };
  format: ExportFormat;
  rows: number;
  byOutcome: Record<Outcome, number>;
  /** Created gifts by &Open status; `none` for rows without one. */
  byGiftStatus: Record<string, number>;
  generatedAt: string;
}

const DATE_ONLY = /^\d{4}-\d{2}-\d{2}$/;
const DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2})?$/;

/**
 * Checks a request and fixes its interval exactly. Dates are UTC days: `from` starts at 00:00:00.000
 * of its day, a date `to` ends at 23:59:59.999 of its day (inclusive of the whole day); date-times
 * without an offset are UTC. Throws an ExportRequestError listing every problem.
 */
export function exportQueryOf(request: ExportRequest): ExportQuery {
  const problems: string[] = [];
  const campaignId = typeof request.campaignId === 'string' ? request.campaignId.trim() : '';
  if (!campaignId) problems.push('campaign_id: required (the campaign to export)');
  const from = instantOf(request.from, 'from', 'start', problems);
  const to = instantOf(request.to, 'to', 'end', problems);
  if (from && to && from > to) problems.push(`from (${from}) is after to (${to})`);

  const outcomes: Outcome[] = [];
  const giftStatuses: string[] = [];
  for (const name of statusNames(request.status, problems)) {
    if ((OUTCOMES as readonly string[]).includes(name)) outcomes.push(name as Outcome);
    else if ((GIFT_STATUSES as readonly string[]).includes(name)) giftStatuses.push(name);
    else
      problems.push(
        `status: "${name}" is neither an outcome (${OUTCOMES.join(', ')}) nor a gift status (${GIFT_STATUSES.join(', ')})`,
      );
  }

  const format = request.format ?? 'csv';
  if (!(EXPORT_FORMATS as readonly unknown[]).includes(format)) {
    problems.push(`format: must be ${EXPORT_FORMATS.join(' or ')} (got ${JSON.stringify(format)})`);
  }
  if (problems.length > 0) throw new ExportRequestError(problems);
  return { campaignId, from, to, outcomes, giftStatuses, format: format as ExportFormat };
}

function instantOf(
  value: unknown,
  field: string,
  end: 'start' | 'end',
  problems: string[],
): string | null {
  if (value === undefined || value === null || value === '') return null;
  const text = typeof value === 'string' ? value.trim() : '';
  if (DATE_ONLY.test(text)) {
    const day = Date.parse(`${text}T00:00:00.000Z`);
    if (Number.isFinite(day) && new Date(day).toISOString().startsWith(text)) {
      return new Date(end === 'start' ? day : day + 86_400_000 - 1).toISOString();
    }
  } else if (DATE_TIME.test(text)) {
    const hasOffset = /(Z|[+-]\d{2}:\d{2})$/.test(text);
    const instant = Date.parse(hasOffset ? text : `${text}Z`);
    if (Number.isFinite(instant)) return new Date(instant).toISOString();
  }
  problems.push(
    `${field}: "${String(value)}" is not a date (2026-11-30) or a date-time (2026-11-30T14:00:00Z)`,
  );
  return null;
}

function statusNames(value: unknown, problems: string[]): string[] {
  if (value === undefined || value === null) return [];
  const parts = Array.isArray(value) ? value : typeof value === 'string' ? value.split(',') : null;
  if (!parts || parts.some((part) => typeof part !== 'string')) {
    problems.push('status: must be a list of names, or names separated by commas');
    return [];
  }
  return [...new Set((parts as string[]).map((part) => part.trim().toLowerCase()).filter(Boolean))];
}

/** One export line's cells, by column, before CSV neutralising. */
export function exportRecord(row: RowRecord, source: string): Record<ExportColumn, string> {
  return {
    ...resultsRecord(row),
    batch_id: row.batchId,
    source,
    idempotency_key: row.idempotencyKey ?? '',
    // A gift event's producer metadata, as one JSON object (empty for file rows).
    metadata: row.metadata ? JSON.stringify(row.metadata) : '',
  };
}

/** Excel opens a CSV as UTF-8 only when it starts with a byte order mark. */
const UTF8_BOM = '\uFEFF';
const CRLF = '\r\n';
const SOURCE_CACHE_SIZE = 1_000;
/** Larger, fewer writes without holding the whole file. */
const CHUNK_CHARS = 64 * 1024;

export interface RunningExport {
  /** The file's text, chunk by chunk; the ledger is read as it is consumed. */
  body: AsyncIterable<string>;
  /** Totals of what `body` held; complete once `body` has been read to its end. */
  summary(): ExportSummary;
  /**
   * The one-page HTML report of what `body` held (outcomes, sends over time, errors by code, rows
   * that need a person), to sit beside the export as `exportFile`; once `body` has been read.
   */
  reportHtml(exportFile: string): string;
}

/**
 * Every gift of a campaign in a date range, across all batches, as a file finance can open.
 *
 * Primary course:
 * 1. Read the campaign's rows in the interval through the ledger's campaign index, page by page.
 * 2. Keep those the filter asks for; look each batch's source up once.
 * 3. Write each as a line (CSV: BOM, CRLF, formula-safe cells; JSONL: one object a line), counting
 *    as it goes, so the summary reconciles with the file without a second pass.
 */
export class ExportService {
  readonly #ledger: Ledger;
  readonly #clock: Clock;

  constructor(deps: { ledger: Ledger; clock: Clock }) {
    this.#ledger = deps.ledger;
    this.#clock = deps.clock;
  }

  start(query: ExportQuery): RunningExport {
    const tally = new ExportTally(query);
    // Memory bounded by time buckets, error codes and capped lists, not rows: flat for a million.
    const report = new ReportTally();
    const generatedAt = new Date(this.#clock.now()).toISOString();
    const lines = this.#lines(query, tally, report);
    return {
      body: chunked(query.format === 'csv' ? csvHeader() : '', lines),
      summary: () => tally.summary(generatedAt),
      reportHtml: (exportFile) =>
        renderReportHtml(
          report.data({
            header: {
              title: `Campaign ${query.campaignId}, ${query.from ?? 'the start'} to ${query.to ?? generatedAt}`,
              batchId: null,
              source: 'every batch and gift event of the campaign in the interval',
              startedAt: query.from,
              finishedAt: query.to,
              resultsFile: exportFile,
              generatedAt,
              notes: filterNotes(query),
            },
            // An export spans batches: no one rate or pause describes it.
            rate: { learnedRps: null, ceilingRps: null, pauses: [], stopReason: null },
          }),
        ),
    };
  }

  async *#lines(
    query: ExportQuery,
    tally: ExportTally,
    report: ReportTally,
  ): AsyncIterable<string> {
    const sources = new Map<string, string>();
    const range = {
      ...(query.from ? { from: query.from } : {}),
      ...(query.to ? { to: query.to } : {}),
    };
    for await (const row of this.#ledger.listCampaignRows(query.campaignId, range)) {
      if (!matches(row, query)) continue;
      let source = sources.get(row.batchId);
      if (source === undefined) {
        // Event-driven sends may make many small batches: keep memory flat, look up again if need be.
        if (sources.size >= SOURCE_CACHE_SIZE) sources.clear();
        const batch = await this.#ledger.getBatch(row.batchId);
        source = batch?.source.description ?? '';
        sources.set(row.batchId, source);
      }
      tally.add(row);
      report.add(row);
      const record = exportRecord(row, source);
      yield query.format === 'csv'
        ? `${formatCsvLine(EXPORT_COLUMNS.map((column) => neutraliseCsvCell(record[column])))}${CRLF}`
        : `${JSON.stringify(record)}\n`;
    }
  }
}

/** What the report's reader must know of the filter: the figures count only the rows it kept. */
function filterNotes(query: ExportQuery): string[] {
  const kept = [...query.outcomes, ...query.giftStatuses];
  return kept.length > 0 ? [`Only rows that are ${kept.join(' or ')} are counted here.`] : [];
}

function csvHeader(): string {
  return `${UTF8_BOM}${formatCsvLine(EXPORT_COLUMNS)}${CRLF}`;
}

async function* chunked(first: string, lines: AsyncIterable<string>): AsyncIterable<string> {
  let chunk = first;
  for await (const line of lines) {
    chunk += line;
    if (chunk.length >= CHUNK_CHARS) {
      yield chunk;
      chunk = '';
    }
  }
  if (chunk) yield chunk;
}

function matches(row: RowRecord, query: ExportQuery): boolean {
  if (query.outcomes.length === 0 && query.giftStatuses.length === 0) return true;
  if (query.outcomes.includes(outcomeOf(row))) return true;
  return row.giftStatus !== null && query.giftStatuses.includes(row.giftStatus);
}

class ExportTally {
  readonly #query: ExportQuery;
  readonly #byOutcome: Record<Outcome, number> = {
    created: 0,
    rejected: 0,
    invalid: 0,
    unknown: 0,
  };
  readonly #byGiftStatus: Record<string, number> = {};
  #rows = 0;

  constructor(query: ExportQuery) {
    this.#query = query;
  }

  add(row: RowRecord): void {
    this.#rows += 1;
    this.#byOutcome[outcomeOf(row)] += 1;
    const status = row.giftStatus ?? 'none';
    this.#byGiftStatus[status] = (this.#byGiftStatus[status] ?? 0) + 1;
  }

  summary(generatedAt: string): ExportSummary {
    return {
      campaignId: this.#query.campaignId,
      interval: { from: this.#query.from, to: this.#query.to },
      filter: { outcomes: [...this.#query.outcomes], giftStatuses: [...this.#query.giftStatuses] },
      format: this.#query.format,
      rows: this.#rows,
      byOutcome: { ...this.#byOutcome },
      byGiftStatus: { ...this.#byGiftStatus },
      generatedAt,
    };
  }
}

/** Where an export's summary goes: beside it, `NAME.csv` → `NAME.summary.json`. */
export function summaryKeyOf(exportKey: string): string {
  return `${exportKey.replace(/\.(csv|jsonl)$/i, '')}.summary.json`;
}

/** The HTML report beside an export: `exports/NAME.csv` → `exports/NAME.html`. */
export function reportKeyOf(exportKey: string): string {
  return `${exportKey.replace(/\.(csv|jsonl)$/i, '')}.html`;
}
