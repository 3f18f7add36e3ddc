/** The one-page HTML report beside a results file (and an export): tally rows once, then render. */
export { escapeHtml } from './html.ts';
export { formatDuration, instant, renderReportHtml } from './render-report.ts';
export type * from './report-data.ts';
export { ERROR_EXAMPLE_ROWS, LISTED_ROWS, ReportTally } from './report-tally.ts';
export { BUCKET_WIDTHS_MS, TimeBuckets } from './time-buckets.ts';
