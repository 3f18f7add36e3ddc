import { RESULTS_COLUMNS } from '../../lambdas/core/results.ts';

export type ResultsLine = Record<(typeof RESULTS_COLUMNS)[number], string>;

export class ResultsFileError extends Error {
  override readonly name = 'ResultsFileError';
}

/**
 * Parses our own results CSV (RFC 4180, CRLF, UTF-8 BOM) into records by column, independently of
 * the writer it checks. Throws when the header is not exactly the contracted one.
 */
export function parseResultsCsv(text: string): ResultsLine[] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  const body = text.replace(/^\uFEFF/, '');
  for (let i = 0; i < body.length; i += 1) {
    const char = body[i];
    if (quoted) {
      if (char === '"' && body[i + 1] === '"') {
        cell += '"';
        i += 1;
      } else if (char === '"') quoted = false;
      else cell += char;
    } else if (char === '"') quoted = true;
    else if (char === ',') {
      row.push(cell);
      cell = '';
    } else if (char === '\r' && body[i + 1] === '\n') {
      row.push(cell);
      rows.push(row);
      row = [];
      cell = '';
      i += 1;
    } else cell += char;
  }
  if (cell !== '' || row.length > 0) throw new ResultsFileError('the last line has no CRLF');
  const [header, ...data] = rows;
  if (header?.join(',') !== RESULTS_COLUMNS.join(',')) {
    throw new ResultsFileError(`unexpected header: ${header?.join(',') ?? '(none)'}`);
  }
  return data.map(
    (cells) =>
      Object.fromEntries(RESULTS_COLUMNS.map((c, i) => [c, cells[i] ?? ''])) as ResultsLine,
  );
}
