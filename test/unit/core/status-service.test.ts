import { describe, expect, it } from 'vitest';
import { StatusService } from '../../../lambdas/core/status-service.ts';
import type { LimiterState, LimiterStore } from '../../../lambdas/ports/rate-limit.ts';
import { InMemoryLedger } from '../../support/in-memory-ledger.ts';
import { createdAnswer, createFileBatch, newRow, recordSent } from '../../support/ledger-rows.ts';

const STARTED = '2026-11-22T10:00:00.000Z';
/** Ten minutes after the batch started. */
const NOW = Date.parse(STARTED) + 10 * 60_000;
const clock = { now: () => NOW };

class FixedLimiter implements LimiterStore {
  constructor(private readonly state: Partial<LimiterState> | null) {}
  async read(): Promise<LimiterState | null> {
    return this.state
      ? ({
          version: 1,
          nextSlotAt: 0,
          pausedUntil: 0,
          pauseReason: null,
          ...this.state,
        } as LimiterState)
      : null;
  }
  async write(): Promise<boolean> {
    return true;
  }
}

/**
 * 10 rows: 1 invalid, 4 rejected for the same code (+1 other), 2 created (one waiting for its URL),
 * 1 unknown; 1 still pending. Counters as the services keep them.
 */
async function sendingBatch(): Promise<InMemoryLedger> {
  const ledger = new InMemoryLedger();
  await createFileBatch(ledger, 'b1', STARTED, 's3://uploads/uploads/staff.csv');
  const invalid = newRow(10, {
    state: 'invalid',
    body: null,
    errors: [
      { type: 'local_validation', code: 'missing', param: 'email', message: 'email is required' },
    ],
  });
  await ledger.putRows([...Array.from({ length: 9 }, (_, i) => newRow(i + 1)), invalid]);
  await ledger.completeSplit('b1', { rows: 10, valid: 9, invalid: 1 }, null);
  const now = STARTED;
  for (const row of [1, 2, 3, 4]) {
    await recordSent(
      ledger,
      'b1',
      row,
      {
        state: 'rejected',
        requestId: `req_${row}`,
        errors: [
          {
            type: 'validation_error',
            code: 'invalid_email',
            param: 'email',
            message: `bad ${row}`,
          },
        ],
      },
      now,
    );
  }
  await recordSent(
    ledger,
    'b1',
    5,
    {
      state: 'rejected',
      requestId: 'req_5',
      errors: [
        { type: 'validation_error', code: 'out_of_stock', param: null, message: 'none left' },
      ],
    },
    now,
  );
  for (const [row, url] of [
    [6, 'https://r/6'],
    [7, null],
  ] as const) {
    const answer = createdAnswer({
      requestId: `req_${row}`,
      giftRequestId: `gr_${row}`,
      at: now,
      redemptionUrl: url,
      pollDueAt: url ? null : NOW,
      pollDeadlineAt: url ? null : NOW + 60_000,
    });
    await recordSent(ledger, 'b1', row, answer, now);
  }
  await recordSent(
    ledger,
    'b1',
    8,
    { state: 'unknown', requestId: 'req_8', reason: 'HTTP 502' },
    now,
  );
  await ledger.addToCounts('b1', { created: 2, rejected: 5, unknown: 1, settled: 1 }, now);
  return ledger;
}

describe('StatusService.list', () => {
  it('gives progress, rate and ETA from the counters', async () => {
    // Prepare
    const service = new StatusService({ ledger: await sendingBatch(), clock });

    // Act
    const { batches } = await service.list();

    // Assess
    const [batch] = batches;
    expect(batch).toMatchObject({
      batchId: 'b1',
      source: 's3://uploads/uploads/staff.csv',
      startedAt: STARTED,
      phase: 'sending',
      decided: 8,
      progressPercent: 88.8,
      waitingForUrl: 1,
      rateRowsPerMinute: 0.8,
      paused: null,
      stopped: null,
    });
    // 1 row left at 0.8 rows/min: 75 s from now.
    expect(batch?.etaAt).toBe(new Date(NOW + 75_000).toISOString());
  });

  it('shows the fleet pause and its reason, and pushes the ETA past it', async () => {
    // Prepare
    const service = new StatusService({
      ledger: await sendingBatch(),
      limiter: new FixedLimiter({ pausedUntil: NOW + 30_000, pauseReason: '429 Retry-After 30 s' }),
      clock,
    });

    // Act
    const [batch] = (await service.list()).batches;

    // Assess
    expect(batch?.paused).toEqual({
      until: new Date(NOW + 30_000).toISOString(),
      reason: '429 Retry-After 30 s',
    });
    expect(batch?.etaAt).toBe(new Date(NOW + 30_000 + 75_000).toISOString());
  });

  it('ignores a pause that is over', async () => {
    // Prepare
    const service = new StatusService({
      ledger: await sendingBatch(),
      limiter: new FixedLimiter({ pausedUntil: NOW - 1, pauseReason: 'old' }),
      clock,
    });

    // Act
    const [batch] = (await service.list()).batches;

    // Assess
    expect(batch?.paused).toBeNull();
  });

  it('says why a batch stopped, with no ETA', async () => {
    // Prepare
    const ledger = await sendingBatch();
    await ledger.setPhase('b1', 'stopped', { stopReason: 'HTTP 401 invalid_token' }, STARTED);
    const service = new StatusService({ ledger, clock });

    // Act
    const [batch] = (await service.list()).batches;

    // Assess
    expect(batch?.stopped).toEqual({ reason: 'HTTP 401 invalid_token' });
    expect(batch?.etaAt).toBeNull();
  });

  it('lists batches newest first', async () => {
    // Prepare
    const ledger = await sendingBatch();
    await ledger.createBatch({
      batchId: 'b2',
      source: { description: 'event', bucket: null, key: null, versionOrEtag: null },
      createdAt: '2026-11-22T10:05:00.000Z',
    });
    const service = new StatusService({ ledger, clock });

    // Act
    const { batches } = await service.list();

    // Assess
    expect(batches.map((batch) => batch.batchId)).toEqual(['b2', 'b1']);
    expect(batches[0]).toMatchObject({
      phase: 'splitting',
      progressPercent: 0,
      rateRowsPerMinute: null,
    });
  });
});

describe('StatusService.detail', () => {
  it('groups errors by code with up to three examples, most frequent first', async () => {
    // Prepare
    const service = new StatusService({ ledger: await sendingBatch(), clock });

    // Act
    const detail = await service.detail('b1');

    // Assess
    expect(detail?.errorsByCode.map((group) => [group.code, group.rows])).toEqual([
      ['invalid_email', 4],
      ['missing', 1],
      ['out_of_stock', 1],
    ]);
    expect(detail?.errorsByCode[0]?.examples).toEqual([
      { row: 1, externalId: 'E1', param: 'email', message: 'bad 1' },
      { row: 2, externalId: 'E2', param: 'email', message: 'bad 2' },
      { row: 3, externalId: 'E3', param: 'email', message: 'bad 3' },
    ]);
  });

  it('lists the unknown rows with their reason and request id, and the rows waiting for a URL', async () => {
    // Prepare
    const service = new StatusService({ ledger: await sendingBatch(), clock });

    // Act
    const detail = await service.detail('b1');

    // Assess
    expect(detail?.unknownRows).toEqual([
      { row: 8, externalId: 'E8', state: 'unknown', reason: 'HTTP 502', requestId: 'req_8' },
    ]);
    expect(detail?.waitingRows).toEqual([
      {
        row: 7,
        externalId: 'E7',
        giftRequestId: 'gr_7',
        giftStatus: 'submitted',
        createdAt: STARTED,
      },
    ]);
  });

  it('does not ask anyone to check a row a stopped batch never sent', async () => {
    // Prepare
    const ledger = await sendingBatch();
    await ledger.setPhase('b1', 'stopped', { stopReason: 'HTTP 401' }, STARTED);
    await ledger.claimRow('b1', 9, STARTED); // its sender died mid-request: it may have been sent
    const service = new StatusService({ ledger, clock });

    // Act
    const detail = await service.detail('b1');

    // Assess
    expect(detail?.unknownRows.map((row) => [row.row, row.state, row.reason])).toEqual([
      [8, 'unknown', 'HTTP 502'],
      [9, 'sending', 'still sending when the batch ended'],
    ]);
  });

  it('answers null for a batch the ledger does not have', async () => {
    // Prepare
    const service = new StatusService({ ledger: new InMemoryLedger(), clock });

    // Act / Assess
    expect(await service.detail('nope')).toBeNull();
  });

  it('shows a held batch waiting: why, the preflight findings, the command, and no ETA', async () => {
    // Prepare
    const ledger = new InMemoryLedger();
    await ledger.createBatch({
      batchId: 'held',
      source: { description: 's3://u/uploads/big.csv', bucket: 'u', key: 'k', versionOrEtag: null },
      createdAt: STARTED,
    });
    await ledger.putRows([newRow(1, { batchId: 'held' }), newRow(2, { batchId: 'held' })]);
    await ledger.completeSplit('held', { rows: 2, valid: 2, invalid: 0 }, null, {
      awaitApproval: '2 rows, over the approval limit of 1; the preflight found 1 problem',
      preflight: {
        checkedAt: STARTED,
        campaigns: 1,
        findings: 1,
        byKind: { 'archived-campaign': 1 },
        messages: ['campaign c (Old) is archived: 2 rows (rows 1-2) would be rejected'],
      },
    });
    const service = new StatusService({
      ledger,
      clock,
      approveCommand: (batchId) => `gift-batch approve ${batchId} --stack GiftBatch`,
    });

    // Act
    const held = await service.detail('held');
    await ledger.movePhase('held', 'awaiting-approval', 'approved', STARTED);
    const approved = (await service.list()).batches[0];

    // Assess
    expect(held).toMatchObject({ phase: 'awaiting-approval', etaAt: null });
    expect(held?.approval).toEqual({
      state: 'awaiting',
      reason: '2 rows, over the approval limit of 1; the preflight found 1 problem',
      preflightFindings: ['campaign c (Old) is archived: 2 rows (rows 1-2) would be rejected'],
      preflightFindingsTotal: 1,
      approveCommand: 'gift-batch approve held --stack GiftBatch',
    });
    expect(approved?.approval).toMatchObject({ state: 'approved', approveCommand: null });
  });

  it('has no approval for a batch that never waited', async () => {
    // Prepare
    const service = new StatusService({ ledger: await sendingBatch(), clock });

    // Act
    const detail = await service.detail('b1');

    // Assess
    expect(detail?.approval).toBeNull();
  });
});
