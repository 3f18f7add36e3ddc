import { createReadStream } from 'node:fs';
import { Command, InvalidArgumentError } from 'commander';
import { maxRowsPerFile } from '../../../lambdas/config.ts';
import {
  DEFAULT_MAX_ROWS_PER_FILE,
  RecipientFileError,
  type RecipientFileSummary,
  type RowError,
  readRecipients,
} from '../../../lambdas/core/recipients/index.ts';

export interface ValidateOptions {
  /** Campaign for rows whose campaign_id is blank. */
  campaign?: string;
  json?: boolean;
  /** How many row errors to print; the rest are only counted. */
  maxErrors?: number;
  /** A file with more data rows is refused whole, as the pipeline would refuse it. */
  maxRows?: number;
}

/** Where the command writes; process.stdout/stderr in real use, buffers in tests. */
export interface ValidateOutput {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
}

export const EXIT_ALL_VALID = 0;
export const EXIT_SOME_INVALID = 1;
export const EXIT_UNREADABLE = 2;

const DEFAULT_MAX_ERRORS = 20;

interface ShownError extends RowError {
  row: number;
}

/**
 * `gift-batch validate FILE`: reads the file as the pipeline will, without sending anything.
 * Streams the file and keeps only counts and the first errors, so any size runs in flat memory.
 * Returns the exit code: 0 every row valid, 1 some invalid, 2 the file cannot be read at all.
 */
export async function runValidate(
  file: string,
  options: ValidateOptions = {},
  output: ValidateOutput = { stdout: process.stdout, stderr: process.stderr },
): Promise<number> {
  const maxErrors = options.maxErrors ?? DEFAULT_MAX_ERRORS;
  let maxRows: number;
  try {
    maxRows = options.maxRows ?? maxRowsPerFile();
  } catch (error) {
    // A bad MAX_ROWS_PER_FILE is a usage mistake, exit 2 like a bad --max-rows.
    output.stderr.write(`gift-batch validate: ${(error as Error).message}\n`);
    return 2;
  }
  const recipients = readRecipients(createReadStream(file, { highWaterMark: 64 * 1024 }), {
    fileName: file,
    defaultCampaignId: options.campaign ?? null,
    maxRows,
  });
  const shown: ShownError[] = [];
  let totalErrors = 0;
  try {
    for await (const { row, result } of recipients) {
      if (result.valid) continue;
      totalErrors += result.errors.length;
      for (const error of result.errors) {
        if (shown.length < maxErrors) shown.push({ row, ...error });
      }
    }
  } catch (error) {
    const reason = describeFailure(error);
    if (options.json) {
      const fatal = {
        code: error instanceof RecipientFileError ? error.code : 'unreadable',
        line: error instanceof RecipientFileError ? error.line : null,
        message: reason,
      };
      output.stdout.write(`${JSON.stringify({ file, ok: false, fatal }, null, 2)}\n`);
    }
    output.stderr.write(`gift-batch validate: ${file}: ${reason}\n`);
    return EXIT_UNREADABLE;
  }

  const summary = recipients.summary();
  if (options.json) {
    output.stdout.write(
      `${JSON.stringify(jsonReport(file, summary, shown, totalErrors), null, 2)}\n`,
    );
  } else {
    output.stdout.write(textReport(file, summary, shown, totalErrors));
  }
  return summary.invalid === 0 ? EXIT_ALL_VALID : EXIT_SOME_INVALID;
}

/** `line 12, column "Country Code" (shipping_address.country_code): invalid_format: must be …` */
export function formatRowError(error: RowError): string {
  let place = `line ${error.line}`;
  // In JSON Lines the column is the JSON path, which the param already says.
  if (error.column !== null && error.column !== error.param) place += `, column "${error.column}"`;
  if (error.param !== null) place += ` (${error.param})`;
  return `${place}: ${error.code}: ${error.message}`;
}

function textReport(
  file: string,
  summary: RecipientFileSummary,
  shown: readonly ShownError[],
  totalErrors: number,
): string {
  const lines: string[] = [];
  const about = [summary.format === 'jsonl' ? 'JSON Lines' : 'CSV', describeEncoding(summary)];
  if (summary.delimiter !== null) about.push(`delimiter ${describeDelimiter(summary.delimiter)}`);
  lines.push(`${file}: ${about.join(', ')}`);
  lines.push(`${plural(summary.rows, 'row')}: ${summary.valid} valid, ${summary.invalid} invalid`);
  const byCode = Object.entries(summary.errorsByCode)
    .sort(([, a], [, b]) => b - a)
    .map(([code, count]) => `${code} ${count}`);
  if (byCode.length > 0) lines.push(`errors by code: ${byCode.join(', ')}`);
  for (const warning of summary.warnings) lines.push(`warning: ${warning.message}`);
  if (shown.length > 0) {
    lines.push('');
    for (const error of shown) lines.push(formatRowError(error));
  }
  if (totalErrors > shown.length) {
    lines.push(
      `… ${plural(totalErrors - shown.length, 'more error')} not shown (--max-errors N shows more)`,
    );
  }
  return `${lines.join('\n')}\n`;
}

function jsonReport(
  file: string,
  summary: RecipientFileSummary,
  shown: readonly ShownError[],
  totalErrors: number,
) {
  return {
    file,
    ok: summary.invalid === 0,
    format: summary.format,
    encoding: summary.encoding,
    bom: summary.bom,
    delimiter: summary.delimiter,
    rows: summary.rows,
    valid: summary.valid,
    invalid: summary.invalid,
    errorsByCode: summary.errorsByCode,
    warnings: summary.warnings,
    errors: shown.map(({ row, line, column, param, code, message }) => ({
      row,
      line,
      column,
      param,
      code,
      message,
    })),
    errorsShown: shown.length,
    errorsTotal: totalErrors,
  };
}

/** One line a person can act on; never a stack trace. */
function describeFailure(error: unknown): string {
  if (error instanceof RecipientFileError) return error.message;
  const code = (error as { code?: unknown } | null)?.code;
  if (code === 'ENOENT') return 'no such file';
  if (code === 'EISDIR') return 'is a directory, not a file';
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  const message = error instanceof Error ? error.message : String(error);
  return `cannot be read: ${message.split('\n')[0]}`;
}

function describeEncoding({ encoding, bom }: RecipientFileSummary): string {
  const names = {
    'utf-8': 'UTF-8',
    'windows-1252': 'Windows-1252',
    'utf-16le': 'UTF-16LE',
    'utf-16be': 'UTF-16BE',
  };
  return `${names[encoding]}${bom ? ' with BOM' : ''}`;
}

function describeDelimiter(delimiter: string): string {
  return delimiter === '\t' ? 'tab' : `"${delimiter}"`;
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}

function parseMaxRows(value: string): number {
  if (!/^[1-9]\d*$/.test(value)) throw new InvalidArgumentError('must be a whole number ≥ 1.');
  return Number(value);
}

function parseMaxErrors(value: string): number {
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError('must be a whole number, 0 or more.');
  return Number(value);
}

export function validateCommand(): Command {
  return (
    new Command('validate')
      .description('Check a recipient file (CSV or JSON Lines) without sending anything.')
      .argument('<file>', 'recipient file: .csv (comma, semicolon or tab) or .jsonl')
      .option('--campaign <id>', 'campaign for rows whose campaign_id is blank')
      .option('--json', 'print one JSON document instead of text')
      .option(
        '--max-errors <n>',
        `how many row errors to print (default ${DEFAULT_MAX_ERRORS})`,
        parseMaxErrors,
      )
      .option(
        '--max-rows <n>',
        `refuse a file with more data rows than this, as the pipeline does (default ${DEFAULT_MAX_ROWS_PER_FILE.toLocaleString('en-US')}; MAX_ROWS_PER_FILE)`,
        parseMaxRows,
      )
      .addHelpText(
        'after',
        `
Checks every row as &Open 2026-05 would (required fields, direct-send address and items,
uppercase country codes, quantity of at least 1, sku or variant_id) plus duplicates within
the file, and prints a summary and the first errors, each with its line and column:

  line 12, column "Country Code" (shipping_address.country_code): invalid_format: must be an
  ISO 3166-1 alpha-2 code in uppercase, e.g. "IE" (got "ie")

CSV files may be UTF-8 (with or without BOM) or Windows-1252 as Excel saves them, with a
header row; headers such as "First Name", "Surname", "E-mail", "Postcode" are recognised.
Unknown columns are ignored with a warning.

Exit codes:
  0  every row is valid
  1  some rows are invalid
  2  the file cannot be read (missing, binary, empty, no header, required column missing,
     field over 1 MiB, unbalanced quotes), or it has more data rows than --max-rows
     (the pipeline refuses such a file whole: split it, or raise the limit)

Examples:
  $ gift-batch validate examples/recipients.csv
  $ gift-batch validate team.csv --campaign 11111111-1111-4111-8111-111111111111
  $ gift-batch validate examples/recipients.jsonl --json --max-errors 100
`,
      )
      // Usage mistakes exit 2 like an unreadable file: 1 means "the file has invalid rows".
      .exitOverride((error) => process.exit(error.exitCode === 0 ? 0 : EXIT_UNREADABLE))
      .action(async (file: string, options: ValidateOptions) => {
        process.exitCode = await runValidate(file, options);
      })
  );
}
