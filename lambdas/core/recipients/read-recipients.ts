import { type CanonicalColumn, type HeaderMapping, mapHeader } from './columns.ts';
import { type CsvDelimiter, CsvTokenizer, readCsvRecords } from './csv-reader.ts';
import { type TextEncodingName, TextSniffer } from './decode.ts';
import { DuplicateFinder } from './duplicates.ts';
import { RecipientFileError, type RowError } from './errors.ts';
import { readTextLines } from './jsonl-reader.ts';
import { type CheckedRow, checkCsvRow, checkJsonRow, type RecipientRow } from './validate.ts';

export type RecipientFormat = 'csv' | 'jsonl';

export interface ReadRecipientsOptions {
  /** The file's name or key: `.jsonl`/`.ndjson` → JSON Lines, `.csv`/`.tsv`/`.txt` → CSV. */
  fileName?: string;
  /** Overrides the name; without either, a file whose first non-space character is `{` is JSONL. */
  format?: RecipientFormat;
  /** Campaign for rows whose campaign_id is blank (`--campaign`, or from the upload key). */
  defaultCampaignId?: string | null;
  /** A longer field (CSV) or line (JSONL) is fatal. Default 1 MiB. */
  maxFieldBytes?: number;
  /** More data rows than this is fatal (the whole file is refused). Default: no limit. */
  maxRows?: number | null;
}

export type FileWarningCode = 'unknown_column' | 'repeated_column' | 'unknown_key' | 'no_rows';

export interface FileWarning {
  code: FileWarningCode;
  message: string;
  /** The column as written (CSV) or key path (JSONL) the warning is about. */
  column: string | null;
}

export interface RecipientFileSummary {
  format: RecipientFormat | null;
  encoding: TextEncodingName;
  bom: boolean;
  delimiter: CsvDelimiter | null;
  /** The header cells as written (CSV). */
  header: string[];
  /** Canonical column → header as written (CSV). */
  columns: Partial<Record<CanonicalColumn, string>>;
  warnings: FileWarning[];
  rows: number;
  valid: number;
  invalid: number;
  /** Row errors counted by code. */
  errorsByCode: Record<string, number>;
  /** True once the whole file was read without a fatal error. */
  finished: boolean;
}

/** The rows of a recipient file, streamed, plus what was learnt about the file on the way. */
export interface RecipientFile extends AsyncIterable<RecipientRow> {
  summary(): RecipientFileSummary;
}

export const DEFAULT_MAX_FIELD_BYTES = 1024 * 1024;
/** The most data rows one file may hold unless raised (`--max-rows`, `MAX_ROWS_PER_FILE`). */
export const DEFAULT_MAX_ROWS_PER_FILE = 100_000;

/** Why a file over the row limit is refused whole, and the two ways out. */
export function tooManyRowsMessage(maxRows: number): string {
  return (
    `the file has more than ${maxRows.toLocaleString('en-US')} data rows (the limit per file); ` +
    'split it, or raise the limit with --max-rows / MAX_ROWS_PER_FILE'
  );
}
const MAX_KEY_WARNINGS = 50;

/**
 * Reads a recipient file (CSV or JSON Lines) from a byte stream and yields each data row checked
 * against the schema, in file order, holding one chunk and one row at a time.
 *
 * 1. Decode the bytes, detecting the encoding (decode.ts).
 * 2. Choose the format: option, file name, else sniff the first non-space character.
 * 3. CSV: the first non-blank record is the header; map it, warn about unknown columns, fail when a
 *    required column is missing. JSONL: each non-blank line is one object.
 * 4. Check each row on its own (validate.ts), then against earlier rows for duplicates.
 *
 * Fatal problems throw `RecipientFileError`; rows yielded before stay yielded.
 */
export function readRecipients(
  source: AsyncIterable<Uint8Array>,
  options: ReadRecipientsOptions = {},
): RecipientFile {
  return new RecipientFileReader(source, options);
}

class RecipientFileReader implements RecipientFile {
  readonly #source: AsyncIterable<Uint8Array>;
  readonly #sniffer = new TextSniffer();
  readonly #defaultCampaignId: string | null;
  readonly #maxFieldBytes: number;
  readonly #maxRows: number | null;
  readonly #fileName: string | undefined;
  readonly #format: RecipientFormat | undefined;
  readonly #duplicates = new DuplicateFinder();
  readonly #warnedKeys = new Set<string>();
  #summary: Omit<RecipientFileSummary, 'encoding' | 'bom'> = {
    format: null,
    delimiter: null,
    header: [],
    columns: {},
    warnings: [],
    rows: 0,
    valid: 0,
    invalid: 0,
    errorsByCode: {},
    finished: false,
  };
  #started = false;

  constructor(source: AsyncIterable<Uint8Array>, options: ReadRecipientsOptions) {
    this.#source = source;
    const campaign = options.defaultCampaignId?.trim();
    this.#defaultCampaignId = campaign ? campaign : null;
    this.#maxFieldBytes = options.maxFieldBytes ?? DEFAULT_MAX_FIELD_BYTES;
    this.#maxRows = options.maxRows ?? null;
    this.#fileName = options.fileName;
    this.#format = options.format;
  }

  summary(): RecipientFileSummary {
    const { encoding, bom } = this.#sniffer.detected;
    return structuredClone({ ...this.#summary, encoding, bom });
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<RecipientRow> {
    if (this.#started) throw new Error('a recipient file can be read only once');
    this.#started = true;

    const texts = this.#sniffer.decode(this.#source)[Symbol.asyncIterator]();
    const head: string[] = [];
    let firstChar: string | null = null;
    while (firstChar === null) {
      const next = await texts.next();
      if (next.done) break;
      head.push(next.value);
      firstChar = /\S/.exec(next.value)?.[0] ?? null;
    }
    if (!this.#sniffer.sawBytes) {
      throw new RecipientFileError('empty', 'the file is empty (0 bytes)');
    }
    const format =
      this.#format ?? formatFromFileName(this.#fileName) ?? (firstChar === '{' ? 'jsonl' : 'csv');
    this.#summary.format = format;
    if (firstChar === null) {
      throw format === 'csv'
        ? new RecipientFileError('no_header', 'the file has no header line (only blank lines)')
        : new RecipientFileError('empty', 'the file holds only blank lines');
    }
    const all = concatTexts(head, texts);
    yield* format === 'csv' ? this.#csvRows(all) : this.#jsonRows(all);
    if (this.#summary.rows === 0) {
      this.#warn(
        'no_rows',
        format === 'csv' ? 'the file has a header but no data rows' : 'the file has no rows',
        null,
      );
    }
    this.#summary.finished = true;
  }

  async *#csvRows(texts: AsyncIterable<string>): AsyncGenerator<RecipientRow> {
    const tokenizer = new CsvTokenizer({ maxFieldBytes: this.#maxFieldBytes });
    let header: HeaderMapping | null = null;
    try {
      for await (const record of readCsvRecords(texts, tokenizer)) {
        if (record.fields.every((cell) => cell.trim() === '')) continue;
        if (header === null) {
          this.#summary.delimiter = tokenizer.delimiter;
          header = this.#readHeader(record.fields, record.line);
          continue;
        }
        const line = record.line;
        const row = this.#nextRow();
        const checked = checkCsvRow(record.fields, header, this.#defaultCampaignId);
        const written = header.written;
        yield this.#finish(checked, row, line, (key) => written[key] ?? null);
      }
    } catch (error) {
      throw withLine(error, tokenizer.line);
    }
    this.#summary.delimiter = tokenizer.delimiter;
    if (header === null) {
      throw new RecipientFileError('no_header', 'the file has no header line (only blank lines)');
    }
  }

  async *#jsonRows(texts: AsyncIterable<string>): AsyncGenerator<RecipientRow> {
    let lastLine = 1;
    try {
      for await (const { text, line } of readTextLines(texts, this.#maxFieldBytes)) {
        lastLine = line;
        const row = this.#nextRow();
        const checked = checkJsonRow(text, this.#defaultCampaignId);
        for (const key of checked.unknownKeys ?? []) {
          if (this.#warnedKeys.has(key) || this.#warnedKeys.size >= MAX_KEY_WARNINGS) continue;
          this.#warnedKeys.add(key);
          this.#warn(
            'unknown_key',
            `unknown key "${key}" is ignored (first seen on line ${line})`,
            key,
          );
        }
        yield this.#finish(checked, row, line, (key) =>
          key === 'email' ? 'recipient.email' : 'external_id',
        );
      }
    } catch (error) {
      throw withLine(error, lastLine);
    }
  }

  #readHeader(cells: string[], line: number): HeaderMapping {
    const header = mapHeader(cells);
    this.#summary.header = cells.map((cell) => cell.trim());
    this.#summary.columns = { ...header.written };
    const required: CanonicalColumn[] = ['first_name', 'last_name'];
    if (this.#defaultCampaignId === null) required.unshift('campaign_id');
    const missing = required.filter((column) => header.written[column] === undefined);
    if (missing.length > 0) {
      const had = this.#summary.header.filter((cell) => cell !== '');
      const listed = had.slice(0, 20).map((cell) => `"${cell}"`);
      if (had.length > 20) listed.push('…');
      const campaignHint = missing.includes('campaign_id') ? ' (or give a default campaign)' : '';
      throw new RecipientFileError(
        'missing_columns',
        `required column${missing.length > 1 ? 's' : ''} missing: ${missing.join(', ')}${campaignHint}; ` +
          `the header has ${listed.length > 0 ? listed.join(', ') : 'no named columns'}`,
        { line },
      );
    }
    for (const written of header.unknown) {
      this.#warn('unknown_column', `unknown column "${written}" is ignored`, written);
    }
    for (const repeat of header.repeated) {
      this.#warn(
        'repeated_column',
        `column "${repeat.written}" also means ${repeat.column}; using "${repeat.kept}", ignoring "${repeat.written}"`,
        repeat.written,
      );
    }
    return header;
  }

  #nextRow(): number {
    const row = this.#summary.rows + 1;
    if (this.#maxRows !== null && row > this.#maxRows) {
      // No line: the file is refused as a whole, not from this row on.
      throw new RecipientFileError('too_many_rows', tooManyRowsMessage(this.#maxRows));
    }
    this.#summary.rows = row;
    return row;
  }

  /** Places the row's errors on its line, adds a duplicate error, counts, shapes the output. */
  #finish(
    checked: CheckedRow,
    row: number,
    line: number,
    columnOf: (key: 'email' | 'external_id') => string | null,
  ): RecipientRow {
    const errors: RowError[] = checked.errors.map((error) => ({ ...error, line }));
    const { campaign_id: campaignId, external_id: externalId, email } = checked.source;
    if (campaignId !== '') {
      const earlier = this.#duplicates.find(campaignId, externalId, email);
      if (earlier !== null) {
        errors.push({
          code: 'duplicate',
          param: earlier.key === 'email' ? 'recipient.email' : 'external_id',
          message: `repeats row ${earlier.row} (line ${earlier.line}): same campaign and ${earlier.key === 'email' ? 'email' : 'external_id'}`,
          line,
          column: columnOf(earlier.key),
        });
      } else if (errors.length === 0) {
        // Only rows that will be sent count as "earlier": a corrected copy of a broken row is fine.
        this.#duplicates.add(campaignId, externalId, email, { row, line });
      }
    }
    const id = externalId === '' ? null : externalId;
    if (errors.length === 0 && checked.body !== null) {
      this.#summary.valid++;
      const result = { valid: true, body: checked.body } as const;
      return { row, line, externalId: id, source: checked.source, result };
    }
    this.#summary.invalid++;
    for (const error of errors) {
      this.#summary.errorsByCode[error.code] = (this.#summary.errorsByCode[error.code] ?? 0) + 1;
    }
    const result = { valid: false, errors } as const;
    return { row, line, externalId: id, source: checked.source, result };
  }

  #warn(code: FileWarningCode, message: string, column: string | null): void {
    this.#summary.warnings.push({ code, message, column });
  }
}

export function formatFromFileName(fileName: string | undefined): RecipientFormat | null {
  const extension = /\.([a-z0-9]+)$/i.exec(fileName ?? '')?.[1]?.toLowerCase();
  if (extension === 'jsonl' || extension === 'ndjson') return 'jsonl';
  if (extension === 'csv' || extension === 'tsv' || extension === 'txt') return 'csv';
  return null;
}

async function* concatTexts(
  head: readonly string[],
  rest: AsyncIterator<string>,
): AsyncGenerator<string> {
  yield* head;
  for (let next = await rest.next(); !next.done; next = await rest.next()) yield next.value;
}

/** Decoding errors are found below the line count: give them the line reading had reached. */
function withLine(error: unknown, line: number): unknown {
  if (
    error instanceof RecipientFileError &&
    error.line === null &&
    error.code === 'invalid_encoding'
  ) {
    return new RecipientFileError(error.code, error.message, { line, cause: error.cause });
  }
  return error;
}
