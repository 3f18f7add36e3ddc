import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DynamoDbLedger } from '../../lambdas/adapters/dynamodb-ledger.ts';
import { eventBatchSource } from '../../lambdas/core/events/event-batch.ts';
import type { NewRow } from '../../lambdas/ports/ledger.ts';
import { type LedgerTable, startLedgerTable } from '../support/ledger-on-dynamodb-local.ts';

const NOW = '2026-11-22T10:00:00.000Z';

function eventRow(batchId: string, row: number, key: string): NewRow {
  return {
    batchId,
    row,
    line: 0,
    state: 'pending',
    echo: { externalId: 'x', campaignId: 'cmp-1', firstName: 'A', lastName: 'S', email: null },
    body: { campaign_id: 'cmp-1', recipient: { first_name: 'A', last_name: 'S' } },
    errors: [],
    idempotencyKey: key,
    metadata: { crm: '17' },
  };
}

describe('DynamoDbLedger: event rows on DynamoDB Local', () => {
  let table: LedgerTable;
  let ledger: DynamoDbLedger;

  beforeAll(async () => {
    table = await startLedgerTable();
    ledger = table.ledger();
  });

  afterAll(async () => {
    await table?.stop();
  });

  it('creates the day’s batch in phase sending and hands out each row number once', async () => {
    // Prepare
    const batch = { batchId: 'events-2026-11-01', createdAt: NOW };
    const source = eventBatchSource(batch.batchId);

    // Act
    const numbers = await Promise.all(
      Array.from({ length: 20 }, () => ledger.nextEventRow({ ...batch, source })),
    );

    // Assess
    expect([...numbers].sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    const record = await ledger.getBatch(batch.batchId);
    expect(record).toMatchObject({
      phase: 'sending',
      source: { description: 'events of 2026-11-01 (UTC)' },
      counts: { rows: 0, valid: 0, created: 0 },
      createdAt: NOW,
    });
    const listed = await ledger.listBatches({ active: true });
    expect(listed.map((b) => b.batchId)).toContain(batch.batchId);
  });

  it('writes an event row with its key item and counters, once per key', async () => {
    // Prepare
    const batchId = 'events-2026-11-02';
    const source = eventBatchSource(batchId);
    const first = await ledger.nextEventRow({ batchId, source, createdAt: NOW });
    const second = await ledger.nextEventRow({ batchId, source, createdAt: NOW });
    const claim = { key: 'k-1', payloadHash: 'h1', conflict: false };

    // Act
    const won = await ledger.putEventRow(eventRow(batchId, first, 'k-1'), claim, NOW);
    const lost = await ledger.putEventRow(eventRow(batchId, second, 'k-1'), claim, NOW);

    // Assess
    expect([won, lost]).toEqual([true, false]);
    expect(await ledger.getRow(batchId, second)).toBeNull();
    expect(await ledger.getRow(batchId, first)).toMatchObject({
      state: 'pending',
      idempotencyKey: 'k-1',
      metadata: { crm: '17' },
    });
    expect(await ledger.findIdempotencyKey('k-1')).toEqual({
      key: 'k-1',
      payloadHash: 'h1',
      batchId,
      row: first,
      createdAt: NOW,
    });
    expect((await ledger.getBatch(batchId))?.counts).toMatchObject({ rows: 1, valid: 1 });
  });

  it('records a conflicting payload once per (key, payload), beside the key’s own item', async () => {
    // Prepare
    const batchId = 'events-2026-11-03';
    const source = eventBatchSource(batchId);
    const next = () => ledger.nextEventRow({ batchId, source, createdAt: NOW });
    await ledger.putEventRow(
      eventRow(batchId, await next(), 'k-2'),
      { key: 'k-2', payloadHash: 'h1', conflict: false },
      NOW,
    );
    const conflictRow = { ...eventRow(batchId, await next(), 'k-2'), state: 'invalid' as const };
    const conflict = { key: 'k-2', payloadHash: 'h2', conflict: true };

    // Act
    const firstTime = await ledger.putEventRow(conflictRow, conflict, NOW);
    const again = await ledger.putEventRow({ ...conflictRow, row: await next() }, conflict, NOW);

    // Assess
    expect([firstTime, again]).toEqual([true, false]);
    expect((await ledger.findIdempotencyKey('k-2'))?.payloadHash).toBe('h1');
    expect((await ledger.getBatch(batchId))?.counts).toMatchObject({
      rows: 2,
      valid: 1,
      invalid: 1,
    });
  });

  it('gives file rows a null idempotency key and metadata', async () => {
    // Prepare
    await ledger.createBatch({
      batchId: 'file-1',
      source: { description: 's3://u/k', bucket: 'u', key: 'k', versionOrEtag: 'e' },
      createdAt: NOW,
    });
    const { idempotencyKey: _k, metadata: _m, ...fileRow } = eventRow('file-1', 1, 'unused');

    // Act
    await ledger.putRows([fileRow]);

    // Assess
    expect(await ledger.getRow('file-1', 1)).toMatchObject({
      idempotencyKey: null,
      metadata: null,
    });
  });
});
