import { describe, expect, it } from 'vitest';
import { ReconcileService } from '../../../lambdas/core/reconcile-service.ts';
import type { NewRow } from '../../../lambdas/ports/ledger.ts';
import { InMemoryLedger } from '../../support/in-memory-ledger.ts';
import { RecordingSendQueue } from '../../support/in-memory-ports.ts';

const T0 = Date.parse('2026-11-22T10:00:00.000Z');
const MINUTE = 60_000;
const SETTINGS = { quietAfterMs: 20 * MINUTE, sendingStaleAfterMs: 2 * MINUTE };
const iso = (ms: number): string => new Date(ms).toISOString();

function pendingRow(batchId: string, row: number): NewRow {
  return {
    batchId,
    row,
    line: row + 1,
    state: 'pending',
    echo: { externalId: null, campaignId: 'cmp-1', firstName: 'A', lastName: 'B', email: null },
    body: { campaign_id: 'cmp-1', recipient: { first_name: 'A', last_name: 'B' } },
    errors: [],
  };
}

/** A sending batch of `rows` pending rows, whose last progress was at `lastProgressAt`. */
async function sendingBatch(
  ledger: InMemoryLedger,
  batchId: string,
  rows: number,
  lastProgressAt: number,
): Promise<void> {
  await ledger.createBatch({
    batchId,
    source: { description: 'test', bucket: null, key: null, versionOrEtag: null },
    createdAt: iso(T0 - 60 * MINUTE),
  });
  await ledger.putRows(Array.from({ length: rows }, (_, index) => pendingRow(batchId, index + 1)));
  await ledger.completeSplit(batchId, { rows, valid: rows, invalid: 0 }, null);
  await ledger.addToCounts(batchId, { created: 0, rejected: 1 }, iso(lastProgressAt));
}

function setUp(nowMs: number) {
  const ledger = new InMemoryLedger();
  const queue = new RecordingSendQueue();
  const clock = { nowMs, now: () => clock.nowMs };
  const service = new ReconcileService({ ledger, queue, clock, settings: SETTINGS });
  const queuedRows = () => queue.sent.map(({ message }) => `${message.batchId}#${message.row}`);
  return { ledger, queue, clock, service, queuedRows };
}

describe('ReconcileService on the poller’s schedule (senders may be alive)', () => {
  it('re-drives a quiet batch’s pending rows and leaves a batch with recent progress alone', async () => {
    // Prepare
    const now = T0;
    const { ledger, service, queuedRows } = setUp(now);
    await sendingBatch(ledger, 'quiet', 2, now - 21 * MINUTE);
    await sendingBatch(ledger, 'active', 2, now - 5 * MINUTE);

    // Act
    const redriven = await service.redriveQuietBatches();

    // Assess
    expect(redriven).toEqual([{ batchId: 'quiet', queued: 2 }]);
    expect(queuedRows()).toEqual(['quiet#1', 'quiet#2']);
    expect((await ledger.getBatch('quiet'))?.lastReconciledAt).toBe(iso(now));
    expect((await ledger.getBatch('active'))?.lastReconciledAt).toBeNull();
  });

  it('re-drives a `sending` row only once its sender must be gone, never decided rows', async () => {
    // Prepare
    const now = T0;
    const { ledger, service, queuedRows } = setUp(now);
    await sendingBatch(ledger, 'b', 5, now - 30 * MINUTE);
    await ledger.claimRow('b', 1, iso(now - 10 * MINUTE)); // its sender died long ago
    await ledger.claimRow('b', 2, iso(now - 30_000)); // a sender may still be waiting for &Open
    await ledger.claimRow('b', 3, iso(now - 10 * MINUTE));
    await ledger.recordSend(
      'b',
      3,
      { state: 'unknown', requestId: null, reason: 'timeout' },
      iso(now - 10 * MINUTE),
    );
    await ledger.claimRow('b', 4, iso(now - 10 * MINUTE));
    await ledger.recordSend(
      'b',
      4,
      { state: 'rejected', requestId: 'req_422', errors: [] },
      iso(now - 10 * MINUTE),
    );

    // Act
    await service.redriveQuietBatches();

    // Assess: the stale sending row and the pending row; not the fresh claim, not decided rows.
    expect(queuedRows()).toEqual(['b#1', 'b#5']);
  });

  it('re-drives a quiet batch at most once per quiet period', async () => {
    // Prepare
    const { ledger, clock, service, queuedRows } = setUp(T0);
    await sendingBatch(ledger, 'b', 1, T0 - 25 * MINUTE);
    await service.redriveQuietBatches();

    // Act: the next runs of the poller, a minute apart, then after a whole quiet period.
    clock.nowMs = T0 + MINUTE;
    const nextMinute = await service.redriveQuietBatches();
    clock.nowMs = T0 + 19 * MINUTE;
    const beforeAnotherPeriod = await service.redriveQuietBatches();
    clock.nowMs = T0 + 20 * MINUTE;
    const afterAnotherPeriod = await service.redriveQuietBatches();

    // Assess
    expect(nextMinute).toEqual([]);
    expect(beforeAnotherPeriod).toEqual([]);
    expect(afterAnotherPeriod).toEqual([{ batchId: 'b', queued: 1 }]);
    expect(queuedRows()).toEqual(['b#1', 'b#1']);
  });

  it('does not re-drive a batch another poller has just reconciled', async () => {
    // Prepare: both pollers read the batch before either recorded its reconcile.
    const { ledger, queue, clock, service } = setUp(T0);
    await sendingBatch(ledger, 'b', 1, T0 - 25 * MINUTE);
    const other = new ReconcileService({ ledger, queue, clock, settings: SETTINGS });
    const seen = (await ledger.getBatch('b'))?.lastReconciledAt ?? null;
    await ledger.markReconciled('b', seen, iso(T0));

    // Act
    const redriven = await other.redriveQuietBatches();

    // Assess
    expect(redriven).toEqual([]);
    expect(queue.sent).toEqual([]);
    expect(await service.redriveQuietBatches()).toEqual([]);
  });

  it('leaves stopped and completed batches alone', async () => {
    // Prepare
    const now = T0;
    const { ledger, service, queue } = setUp(now);
    await sendingBatch(ledger, 'stopped', 1, now - 60 * MINUTE);
    await ledger.setPhase('stopped', 'stopped', { stopReason: '401' }, iso(now - 60 * MINUTE));
    await sendingBatch(ledger, 'complete', 1, now - 60 * MINUTE);
    await ledger.setPhase('complete', 'complete', {}, iso(now - 60 * MINUTE));

    // Act
    const redriven = await service.redriveQuietBatches();

    // Assess
    expect(redriven).toEqual([]);
    expect(queue.sent).toEqual([]);
  });
});

describe('ReconcileService on one machine (no sender of an earlier run is alive)', () => {
  it('re-drives every undecided row of every sending batch at once, fresh claims included', async () => {
    // Prepare
    const now = T0;
    const { ledger, service, queuedRows } = setUp(now);
    await sendingBatch(ledger, 'b', 3, now);
    await ledger.claimRow('b', 2, iso(now));

    // Act
    const queued = await service.redriveActiveBatches();

    // Assess
    expect([...queued]).toEqual([['b', 3]]);
    expect(queuedRows()).toEqual(['b#1', 'b#2', 'b#3']);
  });
});
