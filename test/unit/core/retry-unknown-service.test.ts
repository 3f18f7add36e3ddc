import { describe, expect, it } from 'vitest';
import { resultsRecord } from '../../../lambdas/core/results.ts';
import { RetryUnknownService } from '../../../lambdas/core/retry-unknown-service.ts';
import type { NewRow } from '../../../lambdas/ports/ledger.ts';
import { InMemoryLedger } from '../../support/in-memory-ledger.ts';
import { RecordingSendQueue } from '../../support/in-memory-ports.ts';

const T0 = Date.parse('2026-11-22T10:00:00.000Z');
const iso = (ms: number): string => new Date(ms).toISOString();

function pendingRow(row: number): NewRow {
  return {
    batchId: 'b',
    row,
    line: row + 1,
    state: 'pending',
    echo: {
      externalId: `E${row}`,
      campaignId: 'cmp-1',
      firstName: 'A',
      lastName: 'B',
      email: null,
    },
    body: { campaign_id: 'cmp-1', recipient: { first_name: 'A', last_name: 'B' } },
    errors: [],
  };
}

/**
 * A batch of four rows as a sender left it: 1 unknown (timeout, Request-Id known), 2 created,
 * 3 unknown (a sender that died: no Request-Id), 4 rejected.
 */
async function decidedBatch(ledger: InMemoryLedger): Promise<void> {
  const at = iso(T0 - 3_600_000);
  await ledger.createBatch({
    batchId: 'b',
    source: { description: 'test', bucket: null, key: null, versionOrEtag: null },
    createdAt: at,
  });
  await ledger.putRows([1, 2, 3, 4].map(pendingRow));
  await ledger.completeSplit('b', { rows: 4, valid: 4, invalid: 0 }, null);
  for (const row of [1, 2, 3, 4]) await ledger.claimRow('b', row, at);
  await ledger.recordSend(
    'b',
    1,
    { state: 'unknown', requestId: 'req_504', reason: 'HTTP 504 on POST' },
    at,
  );
  await ledger.recordSend(
    'b',
    2,
    {
      state: 'created',
      requestId: 'req_201',
      giftRequestId: 'gift-2',
      giftStatus: 'submitted',
      redemptionUrl: 'https://r/2',
      giftCreatedAt: at,
      giftUpdatedAt: at,
      pollDueAt: null,
      pollDeadlineAt: null,
    },
    at,
  );
  await ledger.markUnknown('b', 3, 'a sender stopped mid-request', at);
  await ledger.recordSend('b', 4, { state: 'rejected', requestId: 'req_422', errors: [] }, at);
  await ledger.addToCounts('b', { created: 1, rejected: 1, unknown: 2, settled: 1 }, at);
}

function setUp() {
  const ledger = new InMemoryLedger();
  const queue = new RecordingSendQueue();
  const service = new RetryUnknownService({ ledger, queue, clock: { now: () => T0 } });
  const queuedRows = () => queue.sent.map(({ message }) => message.row);
  return { ledger, queue, service, queuedRows };
}

describe('RetryUnknownService', () => {
  it('releases every unknown row of the batch when no rows are named, keeping what happened', async () => {
    // Prepare
    const { ledger, service, queuedRows } = setUp();
    await decidedBatch(ledger);

    // Act
    const report = await service.release('b');

    // Assess
    expect(report).toMatchObject({ released: [1, 3], notUnknown: [], notFound: [] });
    expect(queuedRows()).toEqual([1, 3]);
    const row1 = await ledger.getRow('b', 1);
    expect(row1).toMatchObject({
      state: 'pending',
      unknownReason: null,
      requestId: null,
      previousUnknownReason: 'HTTP 504 on POST',
      previousRequestId: 'req_504',
      releasedFromUnknownAt: iso(T0),
    });
    expect(await ledger.getRow('b', 3)).toMatchObject({
      state: 'pending',
      previousUnknownReason: 'a sender stopped mid-request',
      previousRequestId: null,
    });
    expect((await ledger.getBatch('b'))?.counts.unknown).toBe(0);
  });

  it('says in the results that a row was sent again after unknown, and why it was unknown', async () => {
    // Prepare
    const { ledger, service } = setUp();
    await decidedBatch(ledger);

    // Act
    await service.release('b', [1]);

    // Assess
    const released = await ledger.getRow('b', 1);
    const untouched = await ledger.getRow('b', 3);
    if (!released || !untouched) throw new Error('rows missing');
    expect(resultsRecord(released).retried_after_unknown).toBe(
      `sent again on ${iso(T0)}; it was unknown: HTTP 504 on POST (Request-Id req_504)`,
    );
    expect(resultsRecord(untouched).retried_after_unknown).toBe('');
  });

  it('releases only the named rows and says why the others were not released', async () => {
    // Prepare
    const { ledger, service, queuedRows } = setUp();
    await decidedBatch(ledger);

    // Act
    const report = await service.release('b', [3, 2, 9, 3, 4]);

    // Assess
    expect(report).toMatchObject({
      released: [3],
      notUnknown: [
        { row: 2, state: 'created' },
        { row: 4, state: 'rejected' },
      ],
      notFound: [9],
    });
    expect(queuedRows()).toEqual([3]);
    expect((await ledger.getRow('b', 1))?.state).toBe('unknown');
    expect((await ledger.getRow('b', 2))?.state).toBe('created');
    expect((await ledger.getBatch('b'))?.counts.unknown).toBe(1);
  });

  it('puts a completed batch back to sending, so that it completes again with new results', async () => {
    // Prepare
    const { ledger, service } = setUp();
    await decidedBatch(ledger);
    await ledger.setPhase('b', 'complete', { completedAt: iso(T0 - 1000) }, iso(T0 - 1000));

    // Act
    const report = await service.release('b', [1]);

    // Assess
    expect(report).toMatchObject({ phaseBefore: 'complete', reopened: true, released: [1] });
    expect((await ledger.getBatch('b'))?.phase).toBe('sending');
  });

  it('changes nothing when no row was unknown', async () => {
    // Prepare
    const { ledger, service, queue } = setUp();
    await decidedBatch(ledger);
    await ledger.setPhase('b', 'complete', {}, iso(T0 - 1000));
    const before = await ledger.getBatch('b');

    // Act
    const report = await service.release('b', [2, 4]);

    // Assess
    expect(report).toMatchObject({ released: [], reopened: false });
    expect(queue.sent).toEqual([]);
    expect(await ledger.getBatch('b')).toEqual(before);
  });

  it('says so when the batch is not in the ledger', async () => {
    // Prepare
    const { service } = setUp();

    // Act
    const report = await service.release('nope');

    // Assess
    expect(report).toBeNull();
  });
});
