import type { Tally } from '../support/fault-audit.ts';

/** What one scenario hands back to the runner (as JSON across the process boundary). */
export interface ScenarioReport {
  name: string;
  tally: Tally;
  /** Broken invariants, each naming the rows; empty when the scenario passed. */
  violations: string[];
  seconds: number;
  /** Facts worth a line under the table (faults injected, requests answered 429, …). */
  notes: string[];
}

const COLUMNS = [
  'scenario',
  'rows',
  'created',
  'rejected',
  'invalid',
  'unknown',
  'duplicates',
  'lost',
  'time',
] as const;

/** The suite's table, one line per scenario, in the order they ran. */
export function reportTable(reports: ScenarioReport[]): string {
  const lines = reports.map((report) => [
    report.violations.length > 0 ? `${report.name} ✗` : report.name,
    ...(['rows', 'created', 'rejected', 'invalid', 'unknown', 'duplicates', 'lost'] as const).map(
      (key) => String(report.tally[key]),
    ),
    `${report.seconds.toFixed(1)}s`,
  ]);
  const widths = COLUMNS.map((column, index) =>
    Math.max(column.length, ...lines.map((line) => (line[index] ?? '').length)),
  );
  const format = (cells: readonly string[]) =>
    cells
      .map((cell, index) =>
        index === 0 ? cell.padEnd(widths[index] ?? 0) : cell.padStart(widths[index] ?? 0),
      )
      .join(' | ');
  return [
    format(COLUMNS),
    widths.map((width) => '-'.repeat(width)).join('-|-'),
    ...lines.map(format),
  ].join('\n');
}
