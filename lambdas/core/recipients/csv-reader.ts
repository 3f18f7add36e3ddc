import { RecipientFileError } from './errors.ts';

export type CsvDelimiter = ',' | ';' | '\t';

/** One CSV record: its cells (unquoted, not trimmed) and the physical line it starts on. */
export interface CsvRecord {
  fields: string[];
  line: number;
}

export interface CsvTokenizerOptions {
  /** Fixed delimiter; detected from the header line when absent. */
  delimiter?: CsvDelimiter;
  /** A longer field stops the read (the field is never buffered whole). */
  maxFieldBytes: number;
}

/** The header is held whole to find its delimiter; a small field limit must not refuse it. */
const MAX_HEADER_BYTES = 1024 * 1024;
const QUOTE = 34;
const LF = 10;
const CR = 13;

enum State {
  FieldStart = 0,
  Unquoted = 1,
  Quoted = 2,
  /** A quote inside a quoted field: an escaped `""` or the closing quote. */
  QuoteSeen = 3,
}

/**
 * An RFC 4180 tokenizer fed text chunks of any size (down to one character), so quoted fields,
 * `""` escapes and CRLF pairs may be cut anywhere. Line breaks are CRLF, LF or a lone CR (old Mac
 * Excel); breaks inside quoted fields count towards physical line numbers. Lenient where Excel is:
 * a quote inside an unquoted field is a literal, text after a closing quote joins the field.
 *
 * Field sizes are counted in UTF-16 code units as they arrive, which bounds memory the same way
 * bytes would.
 */
export class CsvTokenizer {
  #delimiter: CsvDelimiter | null;
  #delimiterCode = 0;
  readonly #maxFieldBytes: number;
  /** Text held until the header line is complete, to detect the delimiter from it. */
  #head = '';

  #state: State = State.FieldStart;
  #field = '';
  #fieldLength = 0;
  #fields: string[] = [];
  /** The physical line being read. */
  #line = 1;
  #recordLine = 1;
  #quoteLine = 1;
  /** A CR ended the last record or line: an LF right after it belongs to the same break. */
  #afterCR = false;

  constructor(options: CsvTokenizerOptions) {
    this.#delimiter = options.delimiter ?? null;
    if (this.#delimiter !== null) this.#delimiterCode = this.#delimiter.charCodeAt(0);
    this.#maxFieldBytes = options.maxFieldBytes;
  }

  get delimiter(): CsvDelimiter | null {
    return this.#delimiter;
  }

  /** The physical line the tokenizer has reached. */
  get line(): number {
    return this.#line;
  }

  /** Tokenizes `text`, appending complete records to `out`. */
  push(text: string, out: CsvRecord[]): void {
    if (this.#delimiter !== null) {
      this.#tokenize(text, out);
      return;
    }
    this.#head += text;
    const headerLine = firstLine(this.#head);
    if (headerLine === null) {
      if (this.#head.length > Math.max(this.#maxFieldBytes, MAX_HEADER_BYTES)) {
        throw new RecipientFileError(
          'field_too_large',
          `the header line is longer than ${describeBytes(Math.max(this.#maxFieldBytes, MAX_HEADER_BYTES))}`,
          { line: 1 },
        );
      }
      return;
    }
    this.#startWith(headerLine, out);
  }

  /** Ends the input: emits the last record (no final line break needed) or throws. */
  end(out: CsvRecord[]): void {
    if (this.#delimiter === null) this.#startWith(firstLine(this.#head, true) ?? '', out);
    if (this.#state === State.Quoted) {
      throw new RecipientFileError(
        'unbalanced_quotes',
        'a quoted field opens here and is never closed (unbalanced quotes)',
        { line: this.#quoteLine },
      );
    }
    if (this.#state !== State.FieldStart || this.#fields.length > 0) this.#endRecord(out, false);
  }

  #startWith(headerLine: string, out: CsvRecord[]): void {
    this.#delimiter = detectDelimiter(headerLine);
    this.#delimiterCode = this.#delimiter.charCodeAt(0);
    const held = this.#head;
    this.#head = '';
    this.#tokenize(held, out);
  }

  #tokenize(text: string, out: CsvRecord[]): void {
    const n = text.length;
    const delimiter = this.#delimiterCode;
    let i = 0;
    while (i < n) {
      switch (this.#state) {
        case State.FieldStart: {
          const c = text.charCodeAt(i);
          if (this.#afterCR) {
            this.#afterCR = false;
            if (c === LF) {
              i++;
              break;
            }
          }
          if (c === QUOTE) {
            this.#state = State.Quoted;
            this.#quoteLine = this.#line;
            i++;
          } else {
            this.#state = State.Unquoted;
          }
          break;
        }
        case State.Unquoted: {
          let j = i;
          while (j < n) {
            const c = text.charCodeAt(j);
            if (c === delimiter || c === LF || c === CR) break;
            j++;
          }
          this.#append(text, i, j);
          if (j === n) return;
          const c = text.charCodeAt(j);
          i = j + 1;
          if (c === delimiter) this.#endField();
          else this.#endRecord(out, c === CR);
          break;
        }
        case State.Quoted: {
          let j = i;
          while (j < n) {
            const c = text.charCodeAt(j);
            if (c === QUOTE) break;
            if (c === LF) {
              if (!this.#afterCR) this.#line++;
              this.#afterCR = false;
            } else if (c === CR) {
              this.#line++;
              this.#afterCR = true;
            } else {
              this.#afterCR = false;
            }
            j++;
          }
          this.#append(text, i, j);
          if (j === n) return;
          i = j + 1;
          this.#afterCR = false;
          this.#state = State.QuoteSeen;
          break;
        }
        case State.QuoteSeen: {
          const c = text.charCodeAt(i);
          if (c === QUOTE) {
            this.#append('"', 0, 1);
            this.#state = State.Quoted;
            i++;
          } else if (c === delimiter) {
            this.#endField();
            i++;
          } else if (c === LF || c === CR) {
            this.#endRecord(out, c === CR);
            i++;
          } else {
            this.#state = State.Unquoted;
          }
          break;
        }
      }
    }
  }

  #append(text: string, from: number, to: number): void {
    if (to === from) return;
    this.#fieldLength += to - from;
    if (this.#fieldLength > this.#maxFieldBytes) {
      throw new RecipientFileError(
        'field_too_large',
        `a field is longer than ${describeBytes(this.#maxFieldBytes)}; ` +
          'is a quote missing its closing quote?',
        { line: this.#state === State.Quoted ? this.#quoteLine : this.#recordLine },
      );
    }
    this.#field += text.slice(from, to);
  }

  #endField(): void {
    this.#fields.push(this.#field);
    this.#field = '';
    this.#fieldLength = 0;
    this.#state = State.FieldStart;
  }

  #endRecord(out: CsvRecord[], endedByCR: boolean): void {
    this.#endField();
    out.push({ fields: this.#fields, line: this.#recordLine });
    this.#fields = [];
    this.#line++;
    this.#recordLine = this.#line;
    this.#afterCR = endedByCR;
  }
}

/**
 * The delimiter of a header line: whichever of `,` `;` TAB occurs most outside quotes (Excel in
 * much of Europe writes `;`; "Unicode Text" writes TAB). A single-column header reads as `,`.
 */
export function detectDelimiter(headerLine: string): CsvDelimiter {
  const counts = { ',': 0, ';': 0, '\t': 0 };
  let quoted = false;
  for (const char of headerLine) {
    if (char === '"') quoted = !quoted;
    else if (!quoted && (char === ',' || char === ';' || char === '\t')) counts[char]++;
  }
  if (counts[';'] > counts[','] && counts[';'] >= counts['\t']) return ';';
  if (counts['\t'] > counts[','] && counts['\t'] > counts[';']) return '\t';
  return ',';
}

/** The first non-blank line of `text` when complete (a break outside quotes follows it). */
function firstLine(text: string, atEnd = false): string | null {
  let quoted = false;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) quoted = !quoted;
    else if (!quoted && (c === LF || c === CR)) {
      const line = text.slice(start, i);
      if (line.trim() !== '') return line;
      start = i + 1;
    }
  }
  return atEnd ? text.slice(start) : null;
}

function describeBytes(bytes: number): string {
  if (bytes % (1024 * 1024) === 0) return `${bytes / (1024 * 1024)} MiB`;
  if (bytes % 1024 === 0) return `${bytes / 1024} KiB`;
  return `${bytes} bytes`;
}

/** The records of a CSV text stream, header first; blank lines come through as one empty field. */
export async function* readCsvRecords(
  texts: AsyncIterable<string>,
  tokenizer: CsvTokenizer,
): AsyncGenerator<CsvRecord> {
  const out: CsvRecord[] = [];
  for await (const text of texts) {
    tokenizer.push(text, out);
    for (const record of out) yield record;
    out.length = 0;
  }
  tokenizer.end(out);
  for (const record of out) yield record;
}
