import { describe, expect, it } from 'vitest';
import { CompletionService } from '../../../lambdas/core/completion-service.ts';
import {
  ERROR_EXAMPLE_ROWS,
  formatDuration,
  type RateContext,
  type ReportData,
  type ReportHeader,
  ReportTally,
  renderReportHtml,
  TimeBuckets,
} from '../../../lambdas/core/report/index.ts';
import type { BatchRecord, RowError, RowRecord } from '../../../lambdas/ports/ledger.ts';
import type { LimiterState } from '../../../lambdas/ports/rate-limit.ts';
import { InMemoryLedger } from '../../support/in-memory-ledger.ts';
import { InMemoryObjectStore } from '../../support/in-memory-ports.ts';
import { createdAnswer, createFileBatch, newRow, recordSent } from '../../support/ledger-rows.ts';
import {
  networkReferences,
  reportChartSends,
  reportErrors,
  reportFigures,
  reportListedRows,
  reportStatuses,
} from '../../support/report-figures.ts';
import { InMemoryLimiterStore } from '../../support/simulated-fleet.ts';

const T0 = Date.parse('2026-11-22T10:00:00.000Z');
const at = (ms: number): string => new Date(T0 + ms).toISOString();

const OUT_OF_STOCK: RowError = {
  type: 'validation_error',
  code: 'out_of_stock',
  param: 'line_items[0].sku',
  message: 'HOODIE-XXL-PNK is out of stock',
};
const REQUIRED: RowError = {
  type: 'local_validation',
  code: 'required',
  param: 'recipient.last_name',
  message: 'line 5, column last_name: required',
};

function row(number: number, overrides: Partial<RowRecord> = {}): RowRecord {
  return {
    batchId: 'b1',
    row: number,
    line: number + 1,
    state: 'created',
    echo: {
      externalId: `E${number}`,
      campaignId: 'c',
      firstName: 'Ada',
      lastName: 'Lovelace',
      email: `ada${number}@example.com`,
    },
    body: null,
    errors: [],
    giftRequestId: `gr_${number}`,
    giftStatus: 'submitted',
    redemptionUrl: `https://gift.example/r/secret-${number}`,
    requestId: `req_${number}`,
    sentAt: at(number * 100),
    unknownReason: null,
    releasedFromUnknownAt: null,
    previousUnknownReason: null,
    previousRequestId: null,
    giftCreatedAt: at(number * 100),
    giftUpdatedAt: at(number * 100),
    createdAt: at(0),
    updatedAt: at(number * 100),
    pollDueAt: null,
    pollDeadlineAt: null,
    idempotencyKey: null,
    metadata: null,
    ...overrides,
  };
}

const rejected = (number: number, errors = [OUT_OF_STOCK]): RowRecord =>
  row(number, {
    state: 'rejected',
    errors,
    giftRequestId: null,
    giftStatus: null,
    redemptionUrl: null,
  });
const invalid = (number: number): RowRecord =>
  row(number, {
    state: 'invalid',
    errors: [REQUIRED],
    giftRequestId: null,
    giftStatus: null,
    redemptionUrl: null,
    requestId: null,
    sentAt: null,
  });
const unknown = (number: number, reason = '500 from &Open on POST'): RowRecord =>
  row(number, {
    state: 'unknown',
    unknownReason: reason,
    giftRequestId: null,
    giftStatus: null,
    redemptionUrl: null,
  });

const HEADER: ReportHeader = {
  title: 'Batch b1',
  batchId: 'b1',
  source: 's3://uploads/uploads/staff.csv',
  startedAt: at(0),
  finishedAt: at(135_000),
  resultsFile: 'b1.csv',
  generatedAt: at(135_000),
  notes: [],
};
const NO_RATE: RateContext = { learnedRps: null, ceilingRps: null, pauses: [], stopReason: null };

function tallied(
  rows: RowRecord[],
  options: { listedRows?: number; maxBuckets?: number } = {},
  rate: RateContext = NO_RATE,
): ReportData {
  const tally = new ReportTally(options);
  for (const each of rows) tally.add(each);
  return tally.data({ header: HEADER, rate });
}

/** A mixed batch: 6 created (one still without its link, one redeemed), 2 rejected, 1 invalid, 2 unknown. */
const MIXED: RowRecord[] = [
  row(1),
  row(2, { giftStatus: 'redeemed' }),
  rejected(3),
  invalid(4),
  row(5),
  unknown(6),
  row(7, { redemptionUrl: null }),
  rejected(8, [OUT_OF_STOCK, { ...REQUIRED, type: 'validation_error' }]),
  row(9),
  row(10),
  row(11, { state: 'sending', giftRequestId: null, redemptionUrl: null, sentAt: null }),
];

describe('ReportTally', () => {
  it('counts rows by outcome and created gifts by status, with their links', () => {
    // Act
    const data = tallied(MIXED);

    // Assess
    expect(data.counts).toEqual({
      rows: 11,
      byOutcome: { created: 6, rejected: 2, invalid: 1, unknown: 2 },
      byStatus: { submitted: 5, redeemed: 1 },
      withRedemptionUrl: 5,
    });
  });

  it('groups errors by type, code and param, most frequent first, with example rows', () => {
    // Act
    const data = tallied(MIXED);

    // Assess
    expect(data.errors.map((e) => [e.type, e.code, e.param, e.count, e.rows])).toEqual([
      ['validation_error', 'out_of_stock', 'line_items[0].sku', 2, [3, 8]],
      ['local_validation', 'required', 'recipient.last_name', 1, [4]],
      ['validation_error', 'required', 'recipient.last_name', 1, [8]],
    ]);
    expect(data.errors[0]?.exampleMessage).toBe(OUT_OF_STOCK.message);
  });

  it('names at most a few example rows per error code, and counts them all', () => {
    // Prepare
    const rows = Array.from({ length: 25 }, (_, index) => rejected(index + 1));

    // Act
    const data = tallied(rows);

    // Assess
    expect(data.errors[0]?.count).toBe(25);
    expect(data.errors[0]?.rows).toEqual(
      Array.from({ length: ERROR_EXAMPLE_ROWS }, (_, index) => index + 1),
    );
  });

  it('lists the rows that need a person: unknown, link missing, rejected, invalid', () => {
    // Act
    const { attention } = tallied(MIXED);

    // Assess
    expect(attention.unknown.rows.map((r) => [r.row, r.reason, r.requestId])).toEqual([
      [6, '500 from &Open on POST', 'req_6'],
      [11, 'still sending when the results were written', 'req_11'],
    ]);
    expect(attention.missingUrl.rows.map((r) => [r.row, r.giftRequestId, r.status])).toEqual([
      [7, 'gr_7', 'submitted'],
    ]);
    expect(attention.rejected.rows.map((r) => [r.row, r.codes])).toEqual([
      [3, 'out_of_stock'],
      [8, 'out_of_stock; required'],
    ]);
    expect(attention.invalid.rows.map((r) => [r.row, r.name, r.email])).toEqual([
      [4, 'Ada Lovelace', 'ada4@example.com'],
    ]);
  });

  it('caps each list and keeps counting past the cap', () => {
    // Prepare
    const rows = Array.from({ length: 30 }, (_, index) => unknown(index + 1));

    // Act
    const { attention } = tallied(rows, { listedRows: 5 });

    // Assess
    expect(attention.unknown.total).toBe(30);
    expect(attention.unknown.rows.map((r) => r.row)).toEqual([1, 2, 3, 4, 5]);
  });

  it('buckets decided sends by when they were recorded, not counting invalid or undated rows', () => {
    // Prepare: rows arrive in row order; their send times are not in order.
    const rows = [
      row(1, { sentAt: at(1_500) }),
      rejected(2),
      row(3, { sentAt: at(200) }),
      unknown(4),
      invalid(5),
      row(6, { sentAt: null }),
    ];

    // Act
    const { sends } = tallied(rows);

    // Assess
    expect(sends.bucketMs).toBe(1_000);
    expect(sends.buckets).toEqual([
      { start: at(0), created: 1, rejected: 1, unknown: 1, foundInFlight: 0 },
      { start: at(1_000), created: 1, rejected: 0, unknown: 0, foundInFlight: 0 },
    ]);
    expect(sends.foundInFlight).toBe(0);
    expect(sends.undated).toBe(1);
  });

  it('draws an unknown row a redelivery found in flight when it was marked, apart from sends', () => {
    // Prepare: row 2's sender died mid-request; a redelivery marked it unknown 3.5 s in. Row 3 was
    // still sending when the results were written: it has no instant at all.
    const rows = [
      row(1, { sentAt: at(200) }),
      unknown(2, 'a sender stopped while this request was in flight'),
      row(3, { state: 'sending', giftRequestId: null, redemptionUrl: null, sentAt: null }),
    ];
    rows[1] = { ...(rows[1] as RowRecord), sentAt: null, updatedAt: at(3_500) };

    // Act
    const { sends, counts } = tallied(rows);

    // Assess
    expect(counts.byOutcome.unknown).toBe(2);
    expect(sends.buckets[0]).toEqual({
      start: at(0),
      created: 1,
      rejected: 0,
      unknown: 0,
      foundInFlight: 0,
    });
    expect(sends.buckets[3]).toEqual({
      start: at(3_000),
      created: 0,
      rejected: 0,
      unknown: 0,
      foundInFlight: 1,
    });
    expect(sends.foundInFlight).toBe(1);
    expect(sends.undated).toBe(1);
  });

  it('never keeps a redemption URL', () => {
    // Act
    const data = tallied(MIXED);

    // Assess
    expect(JSON.stringify(data)).not.toContain('gift.example');
    expect(JSON.stringify(data)).not.toContain('secret-');
  });
});

describe('TimeBuckets', () => {
  it('widens its buckets as the span grows, keeping every count and at most the maximum', () => {
    // Prepare
    const buckets = new TimeBuckets(['sent'] as const, 60);
    const instants = Array.from(
      { length: 2_000 },
      (_, index) => T0 + ((index * 7_919) % 3_600_000),
    );

    // Act
    for (const instant of instants) buckets.add(instant, 'sent');
    const result = buckets.buckets();

    // Assess: an hour in at most 60 buckets is one-minute buckets, on round minutes.
    expect(buckets.widthMs).toBe(60_000);
    expect(result.length).toBeLessThanOrEqual(60);
    expect(result.reduce((total, bucket) => total + bucket.counts.sent, 0)).toBe(2_000);
    expect(result.every((bucket) => bucket.startMs % 60_000 === 0)).toBe(true);
    const inFirst = instants.filter((instant) => instant < (result[1]?.startMs ?? 0)).length;
    expect(result[0]?.counts.sent).toBe(inFirst);
  });

  it('keeps one-second buckets for a short batch, empty seconds included', () => {
    // Prepare
    const buckets = new TimeBuckets(['sent'] as const, 90);

    // Act: a minute and a half of sends, none in its 11th second.
    for (let ms = 0; ms < 80_000; ms += 50) {
      if (ms < 10_000 || ms >= 11_000) buckets.add(T0 + ms, 'sent');
    }

    // Assess
    expect(buckets.widthMs).toBe(1_000);
    expect(buckets.buckets()).toHaveLength(80);
    expect(buckets.buckets()[10]).toEqual({ startMs: T0 + 10_000, counts: { sent: 0 } });
    expect(buckets.buckets()[11]?.counts.sent).toBe(20);
  });
});

describe('renderReportHtml', () => {
  it('shows the figures with stable data attributes', () => {
    // Act
    const page = renderReportHtml(tallied(MIXED));

    // Assess
    expect(reportFigures(page)).toMatchObject({
      rows: 11,
      created: 6,
      rejected: 2,
      invalid: 1,
      unknown: 2,
      'with-redemption-url': 5,
      'error-codes': 3,
      'unknown-rows': 2,
      'missing-url-rows': 1,
      'rejected-rows': 2,
      'invalid-rows': 1,
    });
    expect(reportStatuses(page)).toEqual({ submitted: 5, redeemed: 1 });
    expect(reportErrors(page)).toEqual({
      'validation_error|out_of_stock|line_items[0].sku': 2,
      'local_validation|required|recipient.last_name': 1,
      'validation_error|required|recipient.last_name': 1,
    });
    expect(reportListedRows(page, 'unknown')).toEqual([6, 11]);
    expect(reportListedRows(page, 'missing-url')).toEqual([7]);
    expect(reportChartSends(page)).toEqual({
      created: 6,
      rejected: 2,
      unknown: 1,
      'found-in-flight': 0,
    });
    expect(page).not.toContain('found in flight');
  });

  it('labels unknown rows found in flight: their own hollow layer, legend, count and column', () => {
    // Prepare
    const foundAt = { ...unknown(12, 'a sender stopped'), sentAt: null, updatedAt: at(1_800) };

    // Act
    const page = renderReportHtml(tallied([...MIXED, foundAt]));

    // Assess
    expect(reportChartSends(page)).toEqual({
      created: 6,
      rejected: 2,
      unknown: 1,
      'found-in-flight': 1,
    });
    expect(reportFigures(page)).toMatchObject({ unknown: 3, 'found-in-flight': 1 });
    expect(page).toContain('fill="url(#fill-found-in-flight)" data-outcome="found-in-flight"');
    expect(page).toContain('<text x="20">unknown, when found in flight</text>');
    expect(page).toContain('drawn hollow at the instant they were marked unknown, which is later');
    expect(page).toContain('<th scope="col" class="num">unknown, when found in flight</th>');
    expect(reportListedRows(page, 'unknown')).toEqual([6, 11, 12]);
  });

  it('shows the header: batch, source, start, finish, duration, results file', () => {
    // Act
    const page = renderReportHtml(tallied(MIXED));

    // Assess
    expect(page).toContain('data-figure="batch-id">b1<');
    expect(page).toContain('data-figure="source">s3://uploads/uploads/staff.csv<');
    expect(page).toContain('data-figure="started-at">2026-11-22 10:00:00 UTC<');
    expect(page).toContain('data-figure="finished-at">2026-11-22 10:02:15 UTC<');
    expect(page).toContain('data-figure="duration">2 min 15 s<');
    expect(page).toContain('data-figure="results-file">b1.csv<');
  });

  it('escapes every value: a name, an error, a status cannot become markup', () => {
    // Prepare
    const hostile = '<script>alert("x")</script>';
    const rows = [
      unknown(1, `reason ${hostile}`),
      rejected(2, [{ ...OUT_OF_STOCK, code: `"><img src=x onerror=alert(1)>`, message: hostile }]),
      row(3, {
        echo: {
          externalId: hostile,
          campaignId: 'c',
          firstName: hostile,
          lastName: '&',
          email: null,
        },
        giftStatus: `x" onmouseover="alert(1)`,
        redemptionUrl: null,
      }),
    ];
    const data = tallied(rows);
    data.header.title = `Batch ${hostile}`;
    data.header.notes = [hostile];

    // Act
    const page = renderReportHtml(data);

    // Assess
    expect(page).not.toMatch(/<script/i);
    expect(page).not.toMatch(/<img/i);
    expect(page).not.toContain('onmouseover="');
    expect(page).toContain('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;');
    expect(page).toContain('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp;');
    expect(reportStatuses(page)).toEqual({ 'x" onmouseover="alert(1)': 1 });
  });

  it('holds no redemption URL and fetches nothing: no script, stylesheet, font or remote URL', () => {
    // Act
    const page = renderReportHtml(tallied(MIXED));

    // Assess
    expect(page).not.toContain('gift.example');
    expect(page).not.toMatch(/https?:\/\//);
    expect(networkReferences(page)).toEqual([]);
    expect(page).not.toMatch(/<script/i);
  });

  it('names the first rows of a long list and points to the CSV for the rest', () => {
    // Prepare
    const rows = Array.from({ length: 230 }, (_, index) => unknown(index + 1));

    // Act
    const page = renderReportHtml(tallied(rows));

    // Assess
    expect(reportListedRows(page, 'unknown')).toHaveLength(200);
    expect(reportFigures(page)['unknown-rows']).toBe(230);
    expect(page).toContain('…and 30 more — see <code>b1.csv</code>');
  });

  it('draws the learned rate, the ceiling and a pause over the bars', () => {
    // Prepare
    const rate: RateContext = {
      learnedRps: 8,
      ceilingRps: 10,
      pauses: [{ from: at(300), until: at(600), reason: '&Open rate limit (429)' }],
      stopReason: null,
    };

    // Act
    const page = renderReportHtml(tallied(MIXED, {}, rate));

    // Assess
    expect(page).toContain('data-figure="ceiling-line"');
    expect(page).toContain('ceiling 10/s');
    expect(page).toContain('learned 8/s');
    expect(page).toContain('data-figure="pause"');
    expect(page).toContain('Paused from 2026-11-22 10:00:00 UTC until 2026-11-22 10:00:00 UTC');
    expect(reportFigures(page)).toMatchObject({ 'learned-rps': 8, 'ceiling-rps': 10 });
  });

  it('says when the fleet has met no limit yet, or runs at its ceiling', () => {
    // Act
    const rising = renderReportHtml(
      tallied(MIXED, {}, { ...NO_RATE, learnedRps: 20, stillSearching: true }),
    );
    const capped = renderReportHtml(
      tallied(MIXED, {}, { ...NO_RATE, learnedRps: 10, ceilingRps: 10 }),
    );

    // Assess
    expect(rising).toContain('fleet rate, rising 20/s');
    expect(rising).toContain('still rising: &amp;Open has not throttled the fleet yet');
    expect(capped).toContain('fleet rate 10/s');
    expect(capped).toContain('at the configured ceiling');
  });

  it('marks a learned rate far above the sends instead of flattening the bars', () => {
    // Act
    const page = renderReportHtml(tallied(MIXED, {}, { ...NO_RATE, learnedRps: 640 }));

    // Assess
    expect(page).toContain('learned 640/s (off scale)');
    expect(page).not.toContain('data-figure="ceiling-line"');
  });

  it('says plainly when nothing was sent, and shows why a batch stopped', () => {
    // Act
    const page = renderReportHtml(
      tallied([invalid(1)], {}, { ...NO_RATE, stopReason: '&Open refused the API key (401)' }),
    );

    // Assess
    expect(page).toContain('No row was sent');
    expect(page).toContain('<strong>Stopped:</strong> &amp;Open refused the API key (401)');
    expect(reportFigures(page)).toMatchObject({ rows: 1, invalid: 1, 'unknown-rows': 0 });
  });
});

describe('formatDuration', () => {
  it('reads like a person would say it', () => {
    expect([350, 42_000, 185_000, 7_800_000, 273_600_000].map(formatDuration)).toEqual([
      '350 ms',
      '42 s',
      '3 min 5 s',
      '2 h 10 min',
      '3 d 4 h',
    ]);
  });
});

/**
 * Batch b1 of `rows` pending rows, split, whose row 1 got its gift (with its link) 1 s in, and the
 * completion service that writes its results, a minute in.
 */
async function batchWithGiftCreated(rows: number) {
  const ledger = new InMemoryLedger();
  await createFileBatch(ledger, 'b1', at(0));
  await ledger.putRows(Array.from({ length: rows }, (_, index) => newRow(index + 1)));
  await ledger.completeSplit('b1', { rows, valid: rows, invalid: 0 }, null);
  const created = createdAnswer({
    requestId: 'req_1',
    giftRequestId: 'gr_1',
    at: at(1_000),
    redemptionUrl: 'https://gift.example/r/1',
  });
  await recordSent(ledger, 'b1', 1, created, at(1_000));
  const objects = new InMemoryObjectStore();
  const completion = new CompletionService({
    ledger,
    objects,
    clock: { now: () => T0 + 60_000 },
    settings: { resultsBucket: 'results', recheckQuietBatchAfterMs: 0 },
  });
  return { ledger, objects, completion };
}

describe('CompletionService writes the report beside the results', () => {
  it('renders results/<batch>.html in the CSV’s pass, with the fleet’s rate and ceiling', async () => {
    // Prepare
    const ledger = new InMemoryLedger();
    await ledger.createBatch({
      batchId: 'b1',
      source: {
        description: 's3://u/uploads/staff.csv',
        bucket: 'u',
        key: 'k',
        versionOrEtag: 'e',
      },
      createdAt: at(0),
    });
    for (const each of MIXED.slice(0, 10)) ledger.rows.set(`b1#${each.row}`, each);
    const limiter = new InMemoryLimiterStore();
    limiter.state = {
      version: 1,
      phase: 'steady',
      rate: 7.5,
      pausedUntil: T0 + 900,
      pauseReason: '&Open rate limit (429): waiting for Retry-After',
      throttledAt: T0 + 400,
    } as LimiterState;
    const objects = new InMemoryObjectStore();
    const completion = new CompletionService({
      ledger,
      objects,
      clock: { now: () => T0 + 60_000 },
      limiter,
      settings: { resultsBucket: 'results', recheckQuietBatchAfterMs: 0, ceilingRps: 12 },
    });
    const batch = await ledger.getBatch('b1');
    if (!batch) throw new Error('no batch');

    // Act
    const done = await completion.writeResults(batch);

    // Assess
    expect(done.reportKey).toBe('results/b1.html');
    const page = objects.text('results', 'results/b1.html') ?? '';
    expect(objects.objects.get('results/results/b1.html')?.contentType).toBe(
      'text/html; charset=utf-8',
    );
    expect(reportFigures(page)).toMatchObject({
      rows: 10,
      created: 6,
      rejected: 2,
      invalid: 1,
      unknown: 1,
      'learned-rps': 7.5,
      'ceiling-rps': 12,
    });
    expect(page).toContain('Paused from 2026-11-22 10:00:00 UTC until 2026-11-22 10:00:00 UTC');
    expect(page).toContain('data-figure="results-file">b1.csv<');
    expect(page).not.toContain('gift.example');
  });

  it('makes the page again for a copy of the results under another name, naming that file', async () => {
    // Prepare: a completed batch whose results the user keeps as staff-results.csv (run --out).
    const { ledger, completion } = await batchWithGiftCreated(1);
    await completion.writeResults((await ledger.getBatch('b1')) as BatchRecord);
    const batch = await ledger.getBatch('b1');
    if (!batch) throw new Error('no batch');

    // Act
    const page = await completion.reportHtml(batch, 'staff-results.csv');

    // Assess
    expect(page).toContain('data-figure="results-file">staff-results.csv<');
    expect(page).not.toContain('b1.csv');
    expect(page).toContain('data-figure="finished-at">2026-11-22 10:01:00 UTC<');
    expect(reportFigures(page)).toMatchObject({ rows: 1, created: 1 });
    expect(page).not.toContain('gift.example');
  });

  it('draws a row a redelivery marked unknown at the instant it was marked', async () => {
    // Prepare: row 1 created; row 2 claimed, its sender gone; a redelivery finds it 5 s later.
    const { ledger, objects, completion } = await batchWithGiftCreated(2);
    await ledger.claimRow('b1', 2, at(1_200));
    await ledger.markUnknown('b1', 2, 'a sender stopped mid-request', at(6_200));
    const batch = await ledger.getBatch('b1');
    if (!batch) throw new Error('no batch');

    // Act
    await completion.writeResults(batch);

    // Assess
    const page = objects.text('results', 'results/b1.html') ?? '';
    expect(reportFigures(page)).toMatchObject({ unknown: 1, 'found-in-flight': 1 });
    expect(reportChartSends(page)).toEqual({
      created: 1,
      rejected: 0,
      unknown: 0,
      'found-in-flight': 1,
    });
    expect(page).toMatch(
      /data-bucket-start="2026-11-22T10:00:06.000Z"><rect [^>]*data-outcome="found-in-flight" data-count="1"/,
    );
  });
});
