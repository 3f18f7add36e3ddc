import type { RowRecord } from '../../ports/ledger.ts';
import { type Outcome, outcomeOf } from '../results.ts';
import type {
  CappedList,
  ErrorGroup,
  ErrorRow,
  MissingUrlRow,
  PersonRow,
  RateContext,
  ReportData,
  ReportHeader,
  UnknownRow,
} from './report-data.ts';
import { TimeBuckets } from './time-buckets.ts';

/** Rows listed by name in each "needs a person" list; the rest are counted (the CSV has them all). */
export const LISTED_ROWS = 200;
/** Example rows named for each error code. */
export const ERROR_EXAMPLE_ROWS = 10;

type SentOutcome = Exclude<Outcome, 'invalid'>;
/** What the chart draws: sends by outcome, and unknown rows found in flight (see SendsOverTime). */
type DrawnSend = SentOutcome | 'foundInFlight';
const DRAWN_SENDS: readonly DrawnSend[] = ['created', 'rejected', 'unknown', 'foundInFlight'];

/**
 * Builds the report's data from rows as they stream past, in one pass: memory is bounded by the
 * time buckets, the distinct error codes and the capped lists, never by the number of rows.
 * Feed it with `count(rows)` (a pass-through, so it rides along the results CSV's own pass) or
 * `add(row)`. It copies no redemption URL: the page must never hold one.
 */
export class ReportTally {
  readonly #listed: number;
  readonly #byOutcome: Record<Outcome, number> = {
    created: 0,
    rejected: 0,
    invalid: 0,
    unknown: 0,
  };
  readonly #byStatus: Record<string, number> = {};
  readonly #errors = new Map<string, ErrorGroup>();
  readonly #sends: TimeBuckets<DrawnSend>;
  #rows = 0;
  #withUrl = 0;
  #foundInFlight = 0;
  #undated = 0;
  readonly #unknown = emptyList<UnknownRow>();
  readonly #missingUrl = emptyList<MissingUrlRow>();
  readonly #rejected = emptyList<ErrorRow>();
  readonly #invalid = emptyList<ErrorRow>();

  constructor(options: { listedRows?: number; maxBuckets?: number } = {}) {
    this.#listed = options.listedRows ?? LISTED_ROWS;
    this.#sends = new TimeBuckets(DRAWN_SENDS, options.maxBuckets);
  }

  /** Passes rows through while tallying them. */
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
    if (outcome !== 'invalid') this.#addSend(row, outcome);
    switch (outcome) {
      case 'created':
        this.#addCreated(row);
        break;
      case 'unknown':
        this.#push(this.#unknown, () => ({ ...person(row), reason: unknownReason(row) }));
        break;
      case 'rejected':
        this.#addErrors(row);
        this.#push(this.#rejected, () => errorRow(row));
        break;
      case 'invalid':
        this.#addErrors(row);
        this.#push(this.#invalid, () => errorRow(row));
        break;
    }
  }

  /** The report's data, with what only the caller knows: the header and the rate limit's view. */
  data(context: { header: ReportHeader; rate: RateContext }): ReportData {
    return {
      header: context.header,
      counts: {
        rows: this.#rows,
        byOutcome: { ...this.#byOutcome },
        byStatus: { ...this.#byStatus },
        withRedemptionUrl: this.#withUrl,
      },
      sends: {
        bucketMs: this.#sends.widthMs,
        buckets: this.#sends.buckets().map(({ startMs, counts }) => ({
          start: new Date(startMs).toISOString(),
          ...counts,
        })),
        foundInFlight: this.#foundInFlight,
        undated: this.#undated,
      },
      rate: context.rate,
      errors: [...this.#errors.values()]
        .map((group) => ({ ...group, rows: [...group.rows] }))
        .sort((a, b) => b.count - a.count || a.code.localeCompare(b.code)),
      attention: {
        unknown: copyList(this.#unknown),
        missingUrl: copyList(this.#missingUrl),
        rejected: copyList(this.#rejected),
        invalid: copyList(this.#invalid),
      },
    };
  }

  #addSend(row: RowRecord, outcome: SentOutcome): void {
    const sentAt = row.sentAt ? Date.parse(row.sentAt) : Number.NaN;
    if (Number.isFinite(sentAt)) {
      this.#sends.add(sentAt, outcome);
      return;
    }
    // A row a redelivery found in `sending` and marked unknown has no send instant: its request
    // went out some time before the mark, which is the last thing done to it (updatedAt). Drawing it
    // there, apart and labelled, keeps it on the timeline without claiming when it was sent.
    const markedAt = row.state === 'unknown' ? Date.parse(row.updatedAt) : Number.NaN;
    if (Number.isFinite(markedAt)) {
      this.#sends.add(markedAt, 'foundInFlight');
      this.#foundInFlight += 1;
    } else this.#undated += 1;
  }

  #addCreated(row: RowRecord): void {
    const status = row.giftStatus ?? 'no status';
    this.#byStatus[status] = (this.#byStatus[status] ?? 0) + 1;
    if (row.redemptionUrl) {
      this.#withUrl += 1;
      return;
    }
    this.#push(this.#missingUrl, () => ({
      ...person(row),
      giftRequestId: row.giftRequestId,
      status: row.giftStatus,
    }));
  }

  #addErrors(row: RowRecord): void {
    for (const error of row.errors) {
      const key = JSON.stringify([error.type, error.code, error.param]);
      let group = this.#errors.get(key);
      if (!group) {
        group = {
          type: error.type,
          code: error.code,
          param: error.param,
          count: 0,
          exampleMessage: error.message,
          rows: [],
        };
        this.#errors.set(key, group);
      }
      group.count += 1;
      if (group.rows.length < ERROR_EXAMPLE_ROWS && group.rows.at(-1) !== row.row) {
        group.rows.push(row.row);
      }
    }
  }

  /** Lists the row while the list has room (built only then), counts it always. */
  #push<T>(list: CappedList<T>, make: () => T): void {
    list.total += 1;
    if (list.rows.length < this.#listed) list.rows.push(make());
  }
}

function emptyList<T>(): CappedList<T> {
  return { total: 0, rows: [] };
}

function copyList<T>(list: CappedList<T>): CappedList<T> {
  return { total: list.total, rows: [...list.rows] };
}

function person(row: RowRecord): PersonRow {
  const name = [row.echo.firstName, row.echo.lastName].filter(Boolean).join(' ');
  return {
    row: row.row,
    externalId: row.echo.externalId,
    name,
    email: row.echo.email,
    requestId: row.requestId,
  };
}

function errorRow(row: RowRecord): ErrorRow {
  return {
    ...person(row),
    codes: row.errors.map((error) => error.code).join('; '),
    messages: row.errors.map((error) => error.message).join('; '),
  };
}

function unknownReason(row: RowRecord): string {
  if (row.state !== 'unknown') return `still ${row.state} when the results were written`;
  return row.unknownReason ?? 'no decisive answer from &Open';
}
