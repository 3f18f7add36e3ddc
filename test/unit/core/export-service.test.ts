import { describe, expect, it } from 'vitest';
import {
  EXPORT_COLUMNS,
  ExportRequestError,
  ExportService,
  exportQueryOf,
} from '../../../lambdas/core/export-service.ts';
import { RESULTS_COLUMNS } from '../../../lambdas/core/results.ts';
import type { NewRow } from '../../../lambdas/ports/ledger.ts';
import { InMemoryLedger } from '../../support/in-memory-ledger.ts';

const CLOCK = { now: () => Date.parse('2026-11-22T12:00:00.000Z') };

function newRow(batchId: string, row: number, overrides: Partial<NewRow> = {}): NewRow {
  return {
    batchId,
    row,
    line: row + 1,
    state: 'pending',
    echo: { externalId: `E${row}`, campaignId: 'camp', firstName: 'A', lastName: 'B', email: null },
    body: { campaign_id: 'camp', recipient: { first_name: 'A', last_name: 'B' } },
    errors: [],
    ...overrides,
  };
}

/**
 * Two batches of one campaign (rows recorded on 1, 15 and 30 November) and a row of another
 * campaign; one created and delivered, one rejected, one unknown.
 */
async function campaignLedger(): Promise<InMemoryLedger> {
  const ledger = new InMemoryLedger();
  for (const [batchId, description] of [
    ['b1', 's3://uploads/uploads/nov.csv'],
    ['b2', 'event'],
  ] as const) {
    await ledger.createBatch({
      batchId,
      source: { description, bucket: null, key: null, versionOrEtag: null },
      createdAt: '2026-11-01T00:00:00.000Z',
    });
  }
  await ledger.putRows([
    newRow('b1', 1, { echo: { ...newRow('b1', 1).echo, firstName: '=HYPERLINK("x")' } }),
    newRow('b1', 2),
    newRow('b2', 1, { idempotencyKey: 'evt-42', metadata: { trigger: 'signup' } }),
    newRow('b2', 2, {
      echo: { ...newRow('b2', 2).echo, campaignId: 'other' },
      body: { campaign_id: 'other', recipient: { first_name: 'A', last_name: 'B' } },
    }),
  ]);
  const recordedAt: Record<string, string> = {
    'b1#1': '2026-11-01T00:00:00.000Z',
    'b1#2': '2026-11-15T09:30:00.000Z',
    'b2#1': '2026-11-30T23:59:59.000Z',
    'b2#2': '2026-11-15T09:30:00.000Z',
  };
  for (const [key, at] of Object.entries(recordedAt)) {
    const row = ledger.rows.get(key);
    if (row) row.createdAt = at;
  }
  const now = '2026-11-30T23:59:59.000Z';
  await ledger.claimRow('b1', 1, now);
  await ledger.recordSend(
    'b1',
    1,
    {
      state: 'created',
      requestId: 'req_1',
      giftRequestId: 'gr_1',
      giftStatus: 'delivered',
      redemptionUrl: 'https://r/1',
      giftCreatedAt: '2026-11-01T00:00:01.000Z',
      giftUpdatedAt: '2026-11-02T00:00:00.000Z',
      pollDueAt: null,
      pollDeadlineAt: null,
    },
    now,
  );
  await ledger.claimRow('b1', 2, now);
  await ledger.recordSend(
    'b1',
    2,
    {
      state: 'rejected',
      requestId: 'req_2',
      errors: [{ type: 'validation_error', code: 'invalid_email', param: 'email', message: 'bad' }],
    },
    now,
  );
  await ledger.claimRow('b2', 1, now);
  await ledger.recordSend('b2', 1, { state: 'unknown', requestId: null, reason: 'timeout' }, now);
  return ledger;
}

async function exported(ledger: InMemoryLedger, request: Parameters<typeof exportQueryOf>[0]) {
  const running = new ExportService({ ledger, clock: CLOCK }).start(exportQueryOf(request));
  let text = '';
  for await (const chunk of running.body) text += chunk;
  return { text, summary: running.summary() };
}

function csvLines(text: string): string[] {
  return text
    .replace(/^\uFEFF/, '')
    .split('\r\n')
    .filter(Boolean);
}

describe('exportQueryOf', () => {
  it('takes a date "to" as the whole day and states the exact instants', () => {
    // Prepare / Act
    const query = exportQueryOf({ campaignId: 'camp', from: '2026-11-01', to: '2026-11-30' });

    // Assess
    expect(query.from).toBe('2026-11-01T00:00:00.000Z');
    expect(query.to).toBe('2026-11-30T23:59:59.999Z');
    expect(query.format).toBe('csv');
  });

  it('reads date-times with and without an offset (UTC when none)', () => {
    // Prepare / Act
    const query = exportQueryOf({
      campaignId: 'camp',
      from: '2026-11-01T10:00',
      to: '2026-11-01T12:00:00+02:00',
    });

    // Assess
    expect(query.from).toBe('2026-11-01T10:00:00.000Z');
    expect(query.to).toBe('2026-11-01T10:00:00.000Z');
  });

  it('splits --status into outcomes and gift statuses', () => {
    // Prepare / Act
    const query = exportQueryOf({ campaignId: 'camp', status: 'created, Delivered,unknown' });

    // Assess
    expect(query.outcomes).toEqual(['created', 'unknown']);
    expect(query.giftStatuses).toEqual(['delivered']);
  });

  it('lists every problem of a bad request, naming the field', () => {
    // Prepare / Act
    let error: unknown;
    try {
      exportQueryOf({
        from: '2026-02-30',
        to: 'yesterday',
        status: ['created', 'lost'],
        format: 'xlsx',
      });
    } catch (caught) {
      error = caught;
    }

    // Assess
    expect(error).toBeInstanceOf(ExportRequestError);
    const problems = (error as ExportRequestError).problems;
    expect(problems).toHaveLength(5);
    expect(problems[0]).toMatch(/^campaign_id: required/);
    expect(problems[1]).toMatch(/^from: "2026-02-30" is not a date/);
    expect(problems[2]).toMatch(/^to: "yesterday"/);
    expect(problems[3]).toMatch(/^status: "lost"/);
    expect(problems[4]).toMatch(/^format: must be csv or jsonl/);
  });

  it('refuses an interval that ends before it starts', () => {
    // Prepare / Act / Assess
    expect(() =>
      exportQueryOf({ campaignId: 'camp', from: '2026-12-01', to: '2026-11-01' }),
    ).toThrow(/from \(2026-12-01T00:00:00.000Z\) is after to/);
  });
});

describe('ExportService', () => {
  it('writes every row of the campaign across batches, results columns first, then where it came from', async () => {
    // Prepare
    const ledger = await campaignLedger();

    // Act
    const { text, summary } = await exported(ledger, { campaignId: 'camp' });

    // Assess
    expect(text.startsWith('\uFEFF')).toBe(true);
    const lines = csvLines(text);
    expect(lines[0]).toBe(EXPORT_COLUMNS.join(','));
    expect(EXPORT_COLUMNS.slice(0, RESULTS_COLUMNS.length)).toEqual([...RESULTS_COLUMNS]);
    expect(EXPORT_COLUMNS.slice(RESULTS_COLUMNS.length)).toEqual([
      'batch_id',
      'source',
      'idempotency_key',
      'metadata',
    ]);
    expect(lines).toHaveLength(4);
    expect(lines[1]).toMatch(/^1,E1,camp,"'=HYPERLINK\(""x""\)",B,/);
    expect(lines[1]).toMatch(
      /,created,gr_1,delivered,https:\/\/r\/1,.*,b1,s3:\/\/uploads\/uploads\/nov.csv,,$/,
    );
    expect(lines[2]).toMatch(/,rejected,,,,validation_error,invalid_email,email,bad,req_2,/);
    expect(lines[3]).toMatch(/,unknown,.*,b2,event,evt-42,"\{""trigger"":""signup""\}"$/);
    expect(summary.rows).toBe(3);
    expect(summary.byOutcome).toEqual({ created: 1, rejected: 1, invalid: 0, unknown: 1 });
    expect(summary.byGiftStatus).toEqual({ delivered: 1, none: 2 });
    expect(summary.generatedAt).toBe('2026-11-22T12:00:00.000Z');
  });

  it('keeps only the rows recorded within the interval, both ends inclusive', async () => {
    // Prepare
    const ledger = await campaignLedger();

    // Act
    const { text, summary } = await exported(ledger, {
      campaignId: 'camp',
      from: '2026-11-15T09:30:00Z',
      to: '2026-11-30',
    });

    // Assess
    expect(
      csvLines(text)
        .slice(1)
        .map((line) => line.split(',')[0]),
    ).toEqual(['2', '1']);
    expect(summary.interval).toEqual({
      from: '2026-11-15T09:30:00.000Z',
      to: '2026-11-30T23:59:59.999Z',
    });
  });

  it('filters by outcome or gift status', async () => {
    // Prepare
    const ledger = await campaignLedger();

    // Act
    const byStatus = await exported(ledger, { campaignId: 'camp', status: 'delivered,unknown' });
    const byOutcome = await exported(ledger, { campaignId: 'camp', status: ['rejected'] });

    // Assess
    expect(byStatus.summary.byOutcome).toEqual({ created: 1, rejected: 0, invalid: 0, unknown: 1 });
    expect(byStatus.summary.filter).toEqual({ outcomes: ['unknown'], giftStatuses: ['delivered'] });
    expect(csvLines(byOutcome.text)).toHaveLength(2);
    expect(byOutcome.summary.rows).toBe(1);
  });

  it('writes JSON lines with the same fields, unneutralised, one object a line', async () => {
    // Prepare
    const ledger = await campaignLedger();

    // Act
    const { text } = await exported(ledger, { campaignId: 'camp', format: 'jsonl' });

    // Assess
    const lines = text.split('\n').filter(Boolean);
    expect(text.startsWith('\uFEFF')).toBe(false);
    expect(lines).toHaveLength(3);
    const first = JSON.parse(lines[0] ?? '{}') as Record<string, string>;
    expect(Object.keys(first)).toEqual([...EXPORT_COLUMNS]);
    expect(first.first_name).toBe('=HYPERLINK("x")');
    expect(JSON.parse(lines[2] ?? '{}').idempotency_key).toBe('evt-42');
    expect(JSON.parse(JSON.parse(lines[2] ?? '{}').metadata)).toEqual({ trigger: 'signup' });
  });

  it('writes only the header for a campaign with no rows', async () => {
    // Prepare
    const ledger = await campaignLedger();

    // Act
    const { text, summary } = await exported(ledger, { campaignId: 'nobody' });

    // Assess
    expect(csvLines(text)).toEqual([EXPORT_COLUMNS.join(',')]);
    expect(summary.rows).toBe(0);
  });
});
