/**
 * Writing CSV that spreadsheets open safely. Cells are kept verbatim everywhere else (a name like
 * "=Smith" is data and is sent as is); only when we write a CSV for people to open is a cell that a
 * spreadsheet would run as a formula defused.
 */

const FORMULA_START = /^[=+\-@\t\r]/;
const NEEDS_QUOTES = /[",\r\n]/;

/**
 * Prefixes `'` to a cell starting with `=`, `+`, `-`, `@`, TAB or CR (OWASP's CSV injection list), so
 * Excel and Sheets show it as text instead of evaluating it. Other cells come back unchanged.
 */
export function neutraliseCsvCell(value: string): string {
  return FORMULA_START.test(value) ? `'${value}` : value;
}

/**
 * One CSV line (without its line break) as RFC 4180 needs: cells holding a quote, a comma, CR or LF
 * are quoted, their quotes doubled; others are written bare. Does not neutralise: pass cells through
 * `neutraliseCsvCell` first where people will open the file.
 */
export function formatCsvLine(cells: readonly string[]): string {
  return cells
    .map((cell) => (NEEDS_QUOTES.test(cell) ? `"${cell.replaceAll('"', '""')}"` : cell))
    .join(',');
}
