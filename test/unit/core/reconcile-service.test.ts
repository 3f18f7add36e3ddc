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
  await ledger.setPhase(batchId, 'sending', {}, iso(lastProgressAt));
}

function setUp(nowMs: number) {
  // Rows are recorded when their batch was created, an hour before T0.
  const ledger = new InMemoryLedger({ clock: { now: () => T0 - 60 * MINUTE } });
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
    expect(redriven).toEqual([{ batchId: 'quiet', queued: 2, counts: 'agreed' }]);
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
    expect(afterAnotherPeriod).toEqual([{ batchId: 'b', queued: 1, counts: 'agreed' }]);
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

  it('recounts a quiet batch whose last deltas were lost, before queueing any of its rows', async () => {
    // Prepare: rows decided 10 minutes ago by an invocation that timed out before adding them to
    // the counters; one row still pending. The queue notes the counters when each row is queued.
    const now = T0;
    const { ledger, queue, service } = setUp(now);
    await sendingBatch(ledger, 'b', 3, now - 30 * MINUTE);
    const decidedAt = iso(now - 10 * MINUTE);
    for (const row of [1, 2]) await ledger.claimRow('b', row, decidedAt);
    await ledger.recordSend('b', 1, { state: 'rejected', requestId: 'r', errors: [] }, decidedAt);
    await ledger.markUnknown('b', 2, 'a sender stopped mid-request', decidedAt);
    const countsWhenQueued: unknown[] = [];
    const enqueue = queue.enqueue.bind(queue);
    queue.enqueue = async (messages, options) => {
      countsWhenQueued.push((await ledger.getBatch('b'))?.counts);
      await enqueue(messages, options);
    };

    // Act
    const redriven = await service.redriveQuietBatches();

    // Assess
    expect(redriven).toEqual([{ batchId: 'b', queued: 1, counts: 'corrected' }]);
    expect(countsWhenQueued).toEqual([
      expect.objectContaining({ rejected: 1, unknown: 1, created: 0, settled: 0 }),
    ]);
  });

  it('leaves the counters alone while a row moved within a sender’s lifetime', async () => {
    // Prepare: a row decided 30 s ago; its sender may not have added it to the counters yet.
    const now = T0;
    const { ledger, service } = setUp(now);
    await sendingBatch(ledger, 'b', 2, now - 30 * MINUTE);
    await ledger.claimRow('b', 1, iso(now - 31_000));
    await ledger.recordSend(
      'b',
      1,
      { state: 'rejected', requestId: 'r', errors: [] },
      iso(now - 30_000),
    );

    // Act
    const redriven = await service.redriveQuietBatches();

    // Assess: the pending row is re-driven all the same; the late delta will count row 1.
    expect(redriven).toEqual([{ batchId: 'b', queued: 1, counts: 'unsettled' }]);
    expect((await ledger.getBatch('b'))?.counts.rejected).toBe(0);
  });

  it('takes a batch whose senders keep re-queuing throttled rows for busy, not quiet', async () => {
    // Prepare: no counter has moved for 30 minutes of 429s, but a sender marked the batch active
    // a minute ago.
    const now = T0;
    const { ledger, clock, service } = setUp(now);
    await sendingBatch(ledger, 'b', 2, now - 30 * MINUTE);
    await ledger.noteActivity('b', iso(now - MINUTE));

    // Act
    const whileThrottled = await service.redriveQuietBatches();
    clock.nowMs = now + 20 * MINUTE;
    const afterTheStorm = await service.redriveQuietBatches();

    // Assess: re-driven only once the marks stopped for a whole quiet period.
    expect(whileThrottled).toEqual([]);
    expect(afterTheStorm.map((batch) => batch.batchId)).toEqual(['b']);
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

  it('recounts what a killed run decided but never counted, leaving this run’s moves to it', async () => {
    // Prepare: this run began at T0. The killed run decided rows 1-2 of batch `killed` and never
    // added them up; in batch `live`, this run already decided row 1 (its delta is on its way).
    const { ledger, service } = setUp(T0 + MINUTE);
    await sendingBatch(ledger, 'killed', 3, T0 - 5 * MINUTE);
    await sendingBatch(ledger, 'live', 2, T0 - 5 * MINUTE);
    const killedAt = iso(T0 - 5 * MINUTE);
    for (const row of [1, 2]) await ledger.claimRow('killed', row, killedAt);
    await ledger.recordSend(
      'killed',
      1,
      { state: 'rejected', requestId: 'r', errors: [] },
      killedAt,
    );
    await ledger.markUnknown('killed', 2, 'a sender stopped mid-request', killedAt);
    await ledger.claimRow('live', 1, iso(T0 + 1_000));
    await ledger.recordSend(
      'live',
      1,
      { state: 'rejected', requestId: 'r', errors: [] },
      iso(T0 + 2_000),
    );

    // Act
    await service.redriveActiveBatches({ countsMovedBefore: T0 });

    // Assess
    expect((await ledger.getBatch('killed'))?.counts).toMatchObject({ rejected: 1, unknown: 1 });
    expect((await ledger.getBatch('live'))?.counts.rejected).toBe(0);
  });
});
