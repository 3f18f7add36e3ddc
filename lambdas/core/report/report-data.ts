import type { Outcome } from '../results.ts';

/**
 * Everything the one-page HTML report shows, as plain JSON-safe data: the tally builds it in one
 * pass over the rows, the renderer turns it into a page. It never holds a redemption URL (a bearer
 * link to a gift); the CSV is the only file that does.
 */
export interface ReportData {
  header: ReportHeader;
  counts: ReportCounts;
  sends: SendsOverTime;
  rate: RateContext;
  /** Errors grouped by type, code and param, most frequent first. */
  errors: ErrorGroup[];
  attention: RowsNeedingAPerson;
}

export interface ReportHeader {
  /** What the page is about, e.g. "Batch staff-4f1c…" or an export's campaign and period. */
  title: string;
  batchId: string | null;
  /** Where the rows came from (`s3://bucket/uploads/staff.csv`, `event`, …). */
  source: string | null;
  /** ISO instants: when the batch began, and when its results were written. */
  startedAt: string | null;
  finishedAt: string | null;
  /** The results file this page sits beside, e.g. `staff-4f1c….csv`. */
  resultsFile: string;
  generatedAt: string;
  /** Things a reader must know first (the file could not be read to its end, …). */
  notes: string[];
}

export interface ReportCounts {
  rows: number;
  byOutcome: Record<Outcome, number>;
  /** Created gifts by &Open's status (`submitted`, `redeemed`, …). */
  byStatus: Record<string, number>;
  /** Created gifts whose redemption URL had arrived. */
  withRedemptionUrl: number;
}

/** Decided sends per time bucket (by the instant each row's outcome was recorded). */
export interface SendsOverTime {
  bucketMs: number;
  buckets: SendBucket[];
  /**
   * Unknown rows a later delivery found in flight (their sender stopped mid-request): when their
   * request went out was never recorded, so they are drawn at the instant they were marked unknown,
   * which is after it. Counted apart so the page can say so.
   */
  foundInFlight: number;
  /** Rows with an outcome but no instant to draw them at (still sending when the results were written). */
  undated: number;
}

export interface SendBucket {
  /** ISO instant the bucket starts. */
  start: string;
  created: number;
  rejected: number;
  /** Unknown rows with a send instant (the answer that made them unknown was recorded). */
  unknown: number;
  /** Unknown rows found in flight, by the instant they were marked unknown (see SendsOverTime). */
  foundInFlight: number;
}

/** The fleet's view of &Open's rate limit: passed in, the tally cannot know it. */
export interface RateContext {
  /** The fleet's learned send rate (requests/s) when the report was made; null when unknown. */
  learnedRps: number | null;
  /**
   * True while the fleet has not met &Open's limit yet (no throttle seen, no ceiling): its rate is
   * still climbing, so the limit is somewhere above it.
   */
  stillSearching?: boolean;
  /** A configured ceiling (`--max-rps`, ANDOPEN_MAX_RPS); null when none. */
  ceilingRps: number | null;
  /** Pauses the fleet took on &Open's Retry-After (the limiter keeps the latest). */
  pauses: RatePause[];
  /** Why the batch stopped on a configuration error, if it did. */
  stopReason: string | null;
}

export interface RatePause {
  /** ISO instant, when known; the limiter records only when the pause ends for maintenance. */
  from: string | null;
  until: string;
  reason: string;
}

export interface ErrorGroup {
  type: string;
  code: string;
  param: string | null;
  count: number;
  exampleMessage: string;
  /** The first rows with this error (data row numbers), at most `ERROR_EXAMPLE_ROWS`. */
  rows: number[];
}

/** A capped list: the first `rows`, and how many there were in all. */
export interface CappedList<T> {
  total: number;
  rows: T[];
}

export interface PersonRow {
  row: number;
  externalId: string | null;
  name: string;
  email: string | null;
  /** The Request-Id of the answer that decided the row (quote it to &Open support). */
  requestId: string | null;
}

export interface UnknownRow extends PersonRow {
  reason: string;
}

export interface ErrorRow extends PersonRow {
  codes: string;
  messages: string;
}

export interface MissingUrlRow extends PersonRow {
  giftRequestId: string | null;
  status: string | null;
}

export interface RowsNeedingAPerson {
  unknown: CappedList<UnknownRow>;
  missingUrl: CappedList<MissingUrlRow>;
  rejected: CappedList<ErrorRow>;
  invalid: CappedList<ErrorRow>;
}
