import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DynamoDbLedger } from '../../lambdas/adapters/dynamodb-ledger.ts';
import type { NewRow, RowRecord } from '../../lambdas/ports/ledger.ts';
import { type LedgerTable, startLedgerTable } from '../support/ledger-on-dynamodb-local.ts';

function row(batchId: string, number: number, campaignId: string | null): NewRow {
  return {
    batchId,
    row: number,
    line: number + 1,
    state: campaignId ? 'pending' : 'invalid',
    echo: { externalId: `ext-${number}`, campaignId, firstName: 'A', lastName: 'B', email: null },
    body: campaignId
      ? { campaign_id: campaignId, recipient: { first_name: 'A', last_name: 'B' } }
      : null,
    errors: [],
  };
}

async function all(rows: AsyncIterable<RowRecord>): Promise<RowRecord[]> {
  const out: RowRecord[] = [];
  for await (const record of rows) out.push(record);
  return out;
}

describe('DynamoDbLedger.listCampaignRows on DynamoDB Local', () => {
  let table: LedgerTable;
  let ledger: DynamoDbLedger;
  /** Rows are recorded at the instant this clock says; each batch below moves it. */
  let nowMs = 0;

  beforeAll(async () => {
    table = await startLedgerTable();
    // Pages of 7: a campaign of 25 rows takes four pages.
    ledger = table.ledger({ clock: { now: () => nowMs }, campaignPageSize: 7 });
    nowMs = Date.parse('2026-10-31T23:59:59.999Z');
    await ledger.putRows([row('b-oct', 1, 'cmp'), row('b-oct', 2, 'other')]);
    nowMs = Date.parse('2026-11-01T00:00:00.000Z');
    await ledger.putRows(Array.from({ length: 12 }, (_, i) => row('b-nov1', i + 1, 'cmp')));
    nowMs = Date.parse('2026-11-30T23:59:59.999Z');
    await ledger.putRows([
      ...Array.from({ length: 11 }, (_, i) => row('b-nov30', i + 1, 'cmp')),
      row('b-nov30', 12, null),
    ]);
    nowMs = Date.parse('2026-12-01T00:00:00.000Z');
    await ledger.putRows([row('b-dec', 1, 'cmp')]);
  });

  afterAll(async () => {
    await table?.stop();
  });

  it('reads every row of the campaign across batches and pages, oldest first', async () => {
    // Act
    const rows = await all(ledger.listCampaignRows('cmp'));

    // Assess
    expect(rows).toHaveLength(25);
    expect(rows.map((record) => record.batchId)).toEqual([
      'b-oct',
      ...Array(12).fill('b-nov1'),
      ...Array(11).fill('b-nov30'),
      'b-dec',
    ]);
    expect(rows.slice(1, 13).map((record) => record.row)).toEqual(
      Array.from({ length: 12 }, (_, i) => i + 1),
    );
    expect(rows[0]?.idempotencyKey).toBeNull();
  });

  it('keeps both ends of the interval, to the millisecond', async () => {
    // Act
    const november = await all(
      ledger.listCampaignRows('cmp', {
        from: '2026-11-01T00:00:00.000Z',
        to: '2026-11-30T23:59:59.999Z',
      }),
    );
    const fromOnly = await all(
      ledger.listCampaignRows('cmp', { from: '2026-11-30T23:59:59.999Z' }),
    );
    const toOnly = await all(ledger.listCampaignRows('cmp', { to: '2026-10-31T23:59:59.999Z' }));

    // Assess
    expect(november).toHaveLength(23);
    expect(new Set(november.map((record) => record.batchId))).toEqual(
      new Set(['b-nov1', 'b-nov30']),
    );
    expect(fromOnly.map((record) => record.batchId)).toEqual([
      ...Array(11).fill('b-nov30'),
      'b-dec',
    ]);
    expect(toOnly.map((record) => `${record.batchId}/${record.row}`)).toEqual(['b-oct/1']);
  });

  it('keeps an event row’s idempotency key', async () => {
    // Prepare
    nowMs = Date.parse('2026-12-02T00:00:00.000Z');
    await ledger.putRows([{ ...row('evt', 1, 'cmp-events'), idempotencyKey: 'order-42' }]);

    // Act
    const rows = await all(ledger.listCampaignRows('cmp-events'));

    // Assess
    expect(rows.map((record) => record.idempotencyKey)).toEqual(['order-42']);
  });
});
