import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DynamoDbLedger } from '../../lambdas/adapters/dynamodb-ledger.ts';
import type { NewRow } from '../../lambdas/ports/ledger.ts';
import { type LedgerTable, startLedgerTable } from '../support/ledger-on-dynamodb-local.ts';

const NOW = '2026-11-22T10:00:00.000Z';

function pendingRow(batchId: string, row: number, overrides: Partial<NewRow> = {}): NewRow {
  return {
    batchId,
    row,
    line: row + 1,
    state: 'pending',
    echo: {
      externalId: `ext-${row}`,
      campaignId: 'cmp-1',
      firstName: 'Alice',
      lastName: 'Smith',
      email: null,
    },
    body: { campaign_id: 'cmp-1', recipient: { first_name: 'Alice', last_name: 'Smith' } },
    errors: [],
    ...overrides,
  };
}

describe('DynamoDbLedger on DynamoDB Local', () => {
  let table: LedgerTable;
  let ledger: DynamoDbLedger;

  beforeAll(async () => {
    table = await startLedgerTable();
    ledger = table.ledger();
  });

  afterAll(async () => {
    await table?.stop();
  });

  it('creates a batch once: a duplicate event finds it and does nothing', async () => {
    // Prepare
    const batch = {
      batchId: 'b-dup',
      source: { description: 's3://u/k', bucket: 'u', key: 'k', versionOrEtag: 'e1' },
      createdAt: NOW,
    };

    // Act
    const first = await ledger.createBatch(batch);
    const second = await ledger.createBatch(batch);

    // Assess
    expect([first, second]).toEqual([true, false]);
    const stored = await ledger.getBatch('b-dup');
    expect(stored?.phase).toBe('splitting');
    expect(stored?.counts.created).toBe(0);
  });

  it('saves split checkpoints compare-and-set on their sequence, only while splitting', async () => {
    // Prepare
    await ledger.createBatch({
      batchId: 'b-checkpoint',
      source: { description: 's3://u/k', bucket: 'u', key: 'k', versionOrEtag: 'e1' },
      createdAt: NOW,
    });
    const checkpoint = (sequence: number, nextRow: number) => ({
      nextRow,
      lastChunkFrom: nextRow - 100,
      totals: { rows: nextRow - 1, valid: nextRow - 2, invalid: 1 },
      sequence,
      savedAt: Date.parse(NOW) + sequence,
      objectETag: 'e1',
    });

    // Act
    const first = await ledger.saveSplitCheckpoint('b-checkpoint', 0, checkpoint(1, 101));
    const firstAgain = await ledger.saveSplitCheckpoint('b-checkpoint', 0, checkpoint(1, 101));
    const second = await ledger.saveSplitCheckpoint('b-checkpoint', 1, checkpoint(2, 201));
    const stale = await ledger.saveSplitCheckpoint('b-checkpoint', 1, checkpoint(2, 999));
    const saved = (await ledger.getBatch('b-checkpoint'))?.splitCheckpoint;
    await ledger.completeSplit('b-checkpoint', checkpoint(2, 201).totals, null);
    const afterSplit = await ledger.saveSplitCheckpoint('b-checkpoint', 2, checkpoint(3, 301));

    // Assess
    expect([first, firstAgain, second, stale, afterSplit]).toEqual([
      true,
      false,
      true,
      false,
      false,
    ]);
    expect(saved).toEqual(checkpoint(2, 201));
  });

  it('lets a split a sender stopped part-way carry on to its end, and keeps the batch stopped', async () => {
    // Prepare: a refused key stops the batch while its file is still being read.
    await ledger.createBatch({
      batchId: 'b-stopped-split',
      source: { description: 's3://u/k', bucket: 'u', key: 'k', versionOrEtag: 'e1' },
      createdAt: NOW,
    });
    const checkpoint = (sequence: number, nextRow: number) => ({
      nextRow,
      lastChunkFrom: nextRow - 100,
      totals: { rows: nextRow - 1, valid: nextRow - 1, invalid: 0 },
      sequence,
      savedAt: Date.parse(NOW) + sequence,
      objectETag: 'e1',
    });
    await ledger.saveSplitCheckpoint('b-stopped-split', 0, checkpoint(1, 101));
    await ledger.setPhase('b-stopped-split', 'stopped', { stopReason: '401 expired_token' }, NOW);

    // Act
    const saved = await ledger.saveSplitCheckpoint('b-stopped-split', 1, checkpoint(2, 201));
    await ledger.completeSplit('b-stopped-split', checkpoint(2, 201).totals, null);
    const afterSplit = await ledger.saveSplitCheckpoint('b-stopped-split', 2, checkpoint(3, 301));
    const batch = await ledger.getBatch('b-stopped-split');

    // Assess
    expect(saved).toBe(true);
    expect(afterSplit).toBe(false);
    expect(batch).toMatchObject({
      phase: 'stopped',
      stopReason: '401 expired_token',
      counts: expect.objectContaining({ rows: 200, valid: 200 }),
    });
    expect(batch?.splitCompletedAt).not.toBeNull();
    await expect(
      ledger.completeSplit('b-stopped-split', checkpoint(2, 201).totals, null),
    ).rejects.toThrow();
  });

  it('lists a batch’s rows in input order across pages, beyond row 9 and 99', async () => {
    // Prepare
    await ledger.createBatch({
      batchId: 'b-order',
      source: { description: 'x', bucket: null, key: null, versionOrEtag: null },
      createdAt: NOW,
    });
    const rows = [120, 3, 10, 99, 1, 100, 2].map((row) => pendingRow('b-order', row));
    await ledger.putRows(rows);

    // Act
    const listed: number[] = [];
    for await (const row of ledger.listRows('b-order')) listed.push(row.row);

    // Assess
    expect(listed).toEqual([1, 2, 3, 10, 99, 100, 120]);
  });

  it('claims a pending row exactly once, even when claims race', async () => {
    // Prepare
    await ledger.putRows([pendingRow('b-claim', 1)]);

    // Act
    const claims = await Promise.all(
      Array.from({ length: 8 }, () => ledger.claimRow('b-claim', 1, NOW)),
    );

    // Assess
    expect(claims.filter((claim) => claim.claimed)).toHaveLength(1);
    expect(claims.filter((claim) => !claim.claimed)).toEqual(
      Array.from({ length: 7 }, () => ({ claimed: false, state: 'sending' })),
    );
  });

  it('writes rows a dead splitter may have written only where absent, never resetting a claimed one', async () => {
    // Prepare: rows 1-2 of a chunk were written; a sender has claimed row 1 since.
    await ledger.putRows([pendingRow('b-absent', 1), pendingRow('b-absent', 2)]);
    await ledger.claimRow('b-absent', 1, NOW);

    // Act: the resume writes the whole chunk (rows 1-3) again, from the same file.
    await ledger.putRowsIfAbsent([1, 2, 3].map((row) => pendingRow('b-absent', row)));

    // Assess
    expect((await ledger.getRow('b-absent', 1))?.state).toBe('sending');
    expect((await ledger.getRow('b-absent', 2))?.state).toBe('pending');
    expect(await ledger.getRow('b-absent', 3)).toMatchObject({ state: 'pending', line: 4 });
  });

  it('reports a missing row on claim rather than creating it', async () => {
    // Act
    const claim = await ledger.claimRow('b-none', 7, NOW);

    // Assess
    expect(claim).toEqual({ claimed: false, state: 'missing' });
    expect(await ledger.getRow('b-none', 7)).toBeNull();
  });

  it('records an outcome only on a row in sending, once', async () => {
    // Prepare
    await ledger.putRows([pendingRow('b-outcome', 1), pendingRow('b-outcome', 2)]);
    await ledger.claimRow('b-outcome', 1, NOW);

    // Act
    const onPending = await ledger.recordSend(
      'b-outcome',
      2,
      { state: 'unknown', requestId: null, reason: 'timeout' },
      NOW,
    );
    const first = await ledger.recordSend(
      'b-outcome',
      1,
      {
        state: 'rejected',
        requestId: 'req_1',
        errors: [
          { type: 'validation_error', code: 'required', param: 'x', message: 'is required' },
        ],
      },
      NOW,
    );
    const again = await ledger.recordSend(
      'b-outcome',
      1,
      { state: 'unknown', requestId: null, reason: 'late' },
      NOW,
    );

    // Assess
    expect([onPending, first, again]).toEqual([null, 'sending', null]);
    const row = await ledger.getRow('b-outcome', 1);
    expect(row?.state).toBe('rejected');
    expect(row?.requestId).toBe('req_1');
    expect(row?.errors[0]?.code).toBe('required');
    expect((await ledger.getRow('b-outcome', 2))?.state).toBe('pending');
  });

  it('follows created rows on the poll index until the URL arrives', async () => {
    // Prepare
    await ledger.putRows([pendingRow('b-poll', 1), pendingRow('b-poll', 2)]);
    for (const row of [1, 2]) {
      await ledger.claimRow('b-poll', row, NOW);
      await ledger.recordSend(
        'b-poll',
        row,
        {
          state: 'created',
          requestId: `req_${row}`,
          giftRequestId: `gift-${row}`,
          giftStatus: 'submitted',
          redemptionUrl: null,
          giftCreatedAt: NOW,
          giftUpdatedAt: NOW,
          pollDueAt: 1_000 * row,
          pollDeadlineAt: 100_000,
        },
        NOW,
      );
    }

    // Act
    const dueAt1500 = await ledger.rowsDueForPolling(1_500, 10);
    await ledger.updateGift(
      'b-poll',
      1,
      {
        giftStatus: 'submitted',
        redemptionUrl: 'https://gift/r/1',
        giftUpdatedAt: NOW,
        requestId: 'req_poll',
        pollDueAt: null,
      },
      NOW,
    );
    const dueLater = await ledger.rowsDueForPolling(5_000, 10);

    // Assess
    expect(dueAt1500.map((row) => row.row)).toEqual([1]);
    expect(dueLater.map((row) => row.row)).toEqual([2]);
    const settled = await ledger.getRow('b-poll', 1);
    expect(settled?.redemptionUrl).toBe('https://gift/r/1');
    expect(settled?.pollDueAt).toBeNull();
    expect(settled?.requestId).toBe('req_1');
  });

  it('records when each row was sent, for every outcome, and keeps it through URL updates', async () => {
    // Prepare
    const SENT = '2026-11-22T10:00:05.000Z';
    const LATER = '2026-11-22T10:03:00.000Z';
    await ledger.putRows([1, 2, 3, 4].map((row) => pendingRow('b-sent', row)));
    for (const row of [1, 2, 3]) await ledger.claimRow('b-sent', row, NOW);

    // Act
    await ledger.recordSend(
      'b-sent',
      1,
      {
        state: 'created',
        requestId: 'req_1',
        giftRequestId: 'gift-1',
        giftStatus: 'submitted',
        redemptionUrl: null,
        giftCreatedAt: SENT,
        giftUpdatedAt: SENT,
        pollDueAt: 1_000,
        pollDeadlineAt: 100_000,
      },
      SENT,
    );
    await ledger.recordSend(
      'b-sent',
      2,
      {
        state: 'rejected',
        requestId: 'req_2',
        errors: [{ type: 'validation_error', code: 'out_of_stock', param: null, message: 'm' }],
      },
      SENT,
    );
    await ledger.recordSend(
      'b-sent',
      3,
      { state: 'unknown', requestId: null, reason: '500 from &Open' },
      SENT,
    );
    await ledger.updateGift(
      'b-sent',
      1,
      {
        giftStatus: 'submitted',
        redemptionUrl: 'https://gift/r/1',
        giftUpdatedAt: LATER,
        requestId: 'req_poll',
        pollDueAt: null,
      },
      LATER,
    );

    // Assess
    const rows = [];
    for await (const row of ledger.listRows('b-sent')) rows.push(row);
    expect(rows.map((row) => [row.row, row.state, row.sentAt])).toEqual([
      [1, 'created', SENT],
      [2, 'rejected', SENT],
      [3, 'unknown', SENT],
      [4, 'pending', null],
    ]);
    expect(rows[0]?.updatedAt).toBe(LATER);
  });

  it('adds aggregated counts and lists batches newest first', async () => {
    // Prepare
    const source = { description: 'x', bucket: null, key: null, versionOrEtag: null };
    await ledger.createBatch({ batchId: 'b-old', source, createdAt: '2026-01-01T00:00:00.000Z' });
    await ledger.createBatch({ batchId: 'b-new', source, createdAt: '2026-12-01T00:00:00.000Z' });

    // Act
    await ledger.addToCounts('b-new', { created: 3, rejected: 1 }, NOW);
    await ledger.addToCounts('b-new', { created: 2 }, NOW);
    const batches = await ledger.listBatches();

    // Assess
    expect((await ledger.getBatch('b-new'))?.counts).toMatchObject({ created: 5, rejected: 1 });
    const ids = batches.map((batch) => batch.batchId);
    expect(ids.indexOf('b-new')).toBeLessThan(ids.indexOf('b-old'));
  });

  it('releases an unknown row to pending once, keeping its earlier reason and Request-Id', async () => {
    // Prepare: row 1 unknown with a Request-Id, row 2 unknown without one, row 3 created.
    await ledger.createBatch({
      batchId: 'b-release',
      source: { description: 'x', bucket: null, key: null, versionOrEtag: null },
      createdAt: NOW,
    });
    await ledger.putRows([1, 2, 3].map((row) => pendingRow('b-release', row)));
    for (const row of [1, 2, 3]) await ledger.claimRow('b-release', row, NOW);
    await ledger.recordSend(
      'b-release',
      1,
      { state: 'unknown', requestId: 'req_504', reason: 'HTTP 504 on POST' },
      NOW,
    );
    await ledger.markUnknown('b-release', 2, 'a sender stopped mid-request', NOW);
    await ledger.recordSend(
      'b-release',
      3,
      {
        state: 'created',
        requestId: 'req_201',
        giftRequestId: 'gift-3',
        giftStatus: 'submitted',
        redemptionUrl: 'https://r/3',
        giftCreatedAt: NOW,
        giftUpdatedAt: NOW,
        pollDueAt: null,
        pollDeadlineAt: null,
      },
      NOW,
    );
    const later = '2026-11-22T11:00:00.000Z';

    // Act
    const first = await ledger.releaseUnknown('b-release', 1, later);
    const again = await ledger.releaseUnknown('b-release', 1, later);
    const withoutRequestId = await ledger.releaseUnknown('b-release', 2, later);
    const created = await ledger.releaseUnknown('b-release', 3, later);
    const missing = await ledger.releaseUnknown('b-release', 9, later);

    // Assess
    expect(first).toEqual({ released: true });
    expect(again).toEqual({ released: false, state: 'pending' });
    expect(withoutRequestId).toEqual({ released: true });
    expect(created).toEqual({ released: false, state: 'created' });
    expect(missing).toEqual({ released: false, state: 'missing' });
    expect(await ledger.getRow('b-release', 1)).toMatchObject({
      state: 'pending',
      unknownReason: null,
      requestId: null,
      previousUnknownReason: 'HTTP 504 on POST',
      previousRequestId: 'req_504',
      releasedFromUnknownAt: later,
      updatedAt: later,
    });
    expect(await ledger.getRow('b-release', 2)).toMatchObject({
      state: 'pending',
      previousUnknownReason: 'a sender stopped mid-request',
      previousRequestId: null,
    });
    expect((await ledger.claimRow('b-release', 1, later)).claimed).toBe(true);
  });

  it('records a reconcile only for the caller that saw the last one, leaving updatedAt alone', async () => {
    // Prepare
    await ledger.createBatch({
      batchId: 'b-reconcile',
      source: { description: 'x', bucket: null, key: null, versionOrEtag: null },
      createdAt: NOW,
    });
    const first = '2026-11-22T10:30:00.000Z';
    const second = '2026-11-22T10:50:00.000Z';

    // Act
    const won = await ledger.markReconciled('b-reconcile', null, first);
    const lostRace = await ledger.markReconciled('b-reconcile', null, first);
    const next = await ledger.markReconciled('b-reconcile', first, second);
    const missingBatch = await ledger.markReconciled('b-none', null, first);

    // Assess
    expect([won, lostRace, next, missingBatch]).toEqual([true, false, true, false]);
    const batch = await ledger.getBatch('b-reconcile');
    expect(batch?.lastReconciledAt).toBe(second);
    expect(batch?.updatedAt).toBe(NOW);
  });

  it('holds a split for approval with its preflight, then moves it only from the expected phase', async () => {
    // Prepare
    const source = { description: 'x', bucket: null, key: null, versionOrEtag: null };
    await ledger.createBatch({ batchId: 'b-held', source, createdAt: NOW });
    const preflight = {
      checkedAt: NOW,
      campaigns: 1,
      findings: 1,
      byKind: { 'archived-campaign': 1 },
      messages: ['campaign c is archived: 1 row (row 1) would be rejected'],
    };

    // Act
    await ledger.completeSplit('b-held', { rows: 1, valid: 1, invalid: 0 }, null, {
      preflight,
      awaitApproval: 'the preflight found 1 problem',
    });
    const held = await ledger.getBatch('b-held');
    const activeWhileHeld = (await ledger.listBatches({ active: true })).map((b) => b.batchId);
    const wrongStart = await ledger.movePhase('b-held', 'approved', 'sending', NOW);
    const approved = await ledger.movePhase('b-held', 'awaiting-approval', 'approved', NOW);
    const activeOnceApproved = (await ledger.listBatches({ active: true })).map((b) => b.batchId);
    const released = await ledger.movePhase('b-held', 'approved', 'sending', NOW);
    const releasedTwice = await ledger.movePhase('b-held', 'approved', 'sending', NOW);

    // Assess
    expect(held).toMatchObject({
      phase: 'awaiting-approval',
      approvalReason: 'the preflight found 1 problem',
      preflight,
    });
    expect(activeWhileHeld).not.toContain('b-held');
    expect([wrongStart, approved, released, releasedTwice]).toEqual([false, true, true, false]);
    expect(activeOnceApproved).toContain('b-held');
    expect((await ledger.getBatch('b-held'))?.phase).toBe('sending');
  });
});
