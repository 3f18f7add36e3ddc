import { describe, expect, it } from 'vitest';
import { ApprovalError, ApprovalService } from '../../../lambdas/core/approval-service.ts';
import { CompletionService } from '../../../lambdas/core/completion-service.ts';
import { PreflightService } from '../../../lambdas/core/preflight-service.ts';
import { ReconcileService } from '../../../lambdas/core/reconcile-service.ts';
import { SplitService } from '../../../lambdas/core/split-service.ts';
import { campaign, InMemoryCatalogueApi } from '../../support/in-memory-catalogue.ts';
import { InMemoryLedger } from '../../support/in-memory-ledger.ts';
import {
  InMemoryObjectStore,
  RecordingContinuations,
  RecordingSendQueue,
} from '../../support/in-memory-ports.ts';

const OPEN = 'cmp-open';
const ARCHIVED = 'cmp-archived';
const T0 = Date.parse('2026-11-22T10:00:00.000Z');
const clock = { now: () => T0 };

function setUp(options: { approvalRowsOver?: number | null; preflight?: boolean } = {}) {
  const ledger = new InMemoryLedger();
  const objects = new InMemoryObjectStore();
  const queue = new RecordingSendQueue();
  const api = new InMemoryCatalogueApi([
    campaign(OPEN, { invitation_method: 'recipient_choice' }),
    campaign(ARCHIVED, { status: 'archived' }),
  ]);
  const splitter = new SplitService({
    ledger,
    objects,
    queue,
    continuations: new RecordingContinuations(),
    clock,
    settings: {
      defaultCampaignId: null,
      maxRows: 100_000,
      chunkSize: 2,
      handOverWhenRemainingMs: 0,
      approvalRowsOver: options.approvalRowsOver ?? null,
    },
    preflight: options.preflight ? new PreflightService({ api, clock }) : null,
  });
  const approvals = new ApprovalService({ ledger, queue, clock });
  return { ledger, objects, queue, api, splitter, approvals };
}

function upload(objects: InMemoryObjectStore, key: string, campaigns: string[]) {
  objects.put(
    'uploads',
    key,
    ['campaign_id,first_name,last_name', ...campaigns.map((id, i) => `${id},P${i},Q${i}`)].join(
      '\r\n',
    ),
  );
  return { bucket: 'uploads', key, versionId: null, eTag: `e-${key}` };
}

describe('approval guardrail', () => {
  it('holds a batch over the size limit: rows recorded, none queued, until approved and released', async () => {
    // Prepare
    const { ledger, objects, queue, splitter, approvals } = setUp({ approvalRowsOver: 3 });
    const object = upload(objects, 'uploads/big.csv', [OPEN, OPEN, OPEN, OPEN, OPEN]);

    // Act
    const split = await splitter.split(object);

    // Assess: recorded, waiting, nothing on the queue.
    expect(split).toMatchObject({
      kind: 'split',
      rows: 5,
      awaitingApproval: '5 rows, over the approval limit of 3',
    });
    const held = await ledger.getBatch(split.batchId);
    expect(held).toMatchObject({
      phase: 'awaiting-approval',
      approvalReason: '5 rows, over the approval limit of 3',
    });
    expect(queue.sent).toEqual([]);

    // Act: reconcile and completion run meanwhile; then a person approves and the poller releases.
    await new ReconcileService({ ledger, queue }).redriveActiveBatches();
    await new CompletionService({
      ledger,
      objects,
      clock,
      settings: { resultsBucket: 'results', recheckQuietBatchAfterMs: 0 },
    }).completeFinishedBatches();
    const stillHeld = await ledger.getBatch(split.batchId);
    const approved = await approvals.approve(split.batchId);
    const again = await approvals.approve(split.batchId);
    const released = await approvals.releaseApproved();
    const releasedAgain = await approvals.releaseApproved();

    // Assess: left alone while held; then each row queued exactly once.
    expect(stillHeld?.phase).toBe('awaiting-approval');
    expect(approved.kind).toBe('approved');
    expect(again.kind).toBe('not-awaiting');
    expect(released.get(split.batchId)).toBe(5);
    expect(releasedAgain.size).toBe(0);
    expect((await ledger.getBatch(split.batchId))?.phase).toBe('sending');
    expect(queue.sent.map((sent) => sent.message.row)).toEqual([1, 2, 3, 4, 5]);
  });

  it('sends a batch at or under the limit at once', async () => {
    // Prepare
    const { ledger, objects, queue, splitter } = setUp({ approvalRowsOver: 3 });

    // Act
    const split = await splitter.split(upload(objects, 'uploads/small.csv', [OPEN, OPEN, OPEN]));

    // Assess
    expect((await ledger.getBatch(split.batchId))?.phase).toBe('sending');
    expect(queue.sent).toHaveLength(3);
  });

  it('holds a batch whose preflight found problems, and records the findings on it', async () => {
    // Prepare
    const { ledger, objects, queue, api, splitter } = setUp({ preflight: true });

    // Act
    const split = await splitter.split(
      upload(objects, 'uploads/mixed.csv', [OPEN, ARCHIVED, OPEN]),
    );

    // Assess
    const batch = await ledger.getBatch(split.batchId);
    expect(batch).toMatchObject({
      phase: 'awaiting-approval',
      approvalReason: 'the preflight found 1 problem',
      preflight: {
        campaigns: 2,
        findings: 1,
        byKind: { 'archived-campaign': 1 },
        messages: [
          `campaign ${ARCHIVED} (Campaign ${ARCHIVED}) is archived: 1 row (row 2) would be rejected`,
        ],
      },
    });
    expect(queue.sent).toEqual([]);
    expect(api.asked.sort()).toEqual([ARCHIVED, OPEN]);
  });

  it('sends a clean file at once, with its preflight on the batch', async () => {
    // Prepare
    const { ledger, objects, queue, splitter } = setUp({ preflight: true });

    // Act
    const split = await splitter.split(upload(objects, 'uploads/clean.csv', [OPEN, OPEN]));

    // Assess
    const batch = await ledger.getBatch(split.batchId);
    expect(batch).toMatchObject({
      phase: 'sending',
      approvalReason: null,
      preflight: { findings: 0 },
    });
    expect(queue.sent).toHaveLength(2);
  });

  it('approving a batch that is not waiting changes nothing', async () => {
    // Prepare
    const { ledger, objects, splitter, approvals } = setUp();
    const split = await splitter.split(upload(objects, 'uploads/plain.csv', [OPEN]));

    // Act
    const result = await approvals.approve(split.batchId);
    const missing = await approvals.approve('no-such-batch');

    // Assess
    expect(result.kind).toBe('not-awaiting');
    expect(missing.kind).toBe('missing');
    expect((await ledger.getBatch(split.batchId))?.phase).toBe('sending');
  });

  it('says a batch the ledger does not have is missing, and releases nothing not approved', async () => {
    // Prepare
    const { ledger, objects, queue, splitter, approvals } = setUp({ approvalRowsOver: 1 });
    const split = await splitter.split(upload(objects, 'uploads/two.csv', [OPEN, OPEN]));

    // Act
    const missing = await approvals.approve('no-such-batch');
    const releasedWhileHeld = await approvals.release(split.batchId);

    // Assess: a held batch is not released without an approval.
    expect(missing).toEqual({ kind: 'missing' });
    expect(releasedWhileHeld).toBeNull();
    expect((await ledger.getBatch(split.batchId))?.phase).toBe('awaiting-approval');
    expect(queue.sent).toEqual([]);
  });

  it('approves without a send queue, and refuses to release without one', async () => {
    // Prepare
    const { ledger, objects, splitter } = setUp({ approvalRowsOver: 1 });
    const split = await splitter.split(upload(objects, 'uploads/pair.csv', [OPEN, OPEN]));
    const approveOnly = new ApprovalService({ ledger, clock });

    // Act
    const approved = await approveOnly.approve(split.batchId);

    // Assess
    expect(approved.kind).toBe('approved');
    expect((await ledger.getBatch(split.batchId))?.phase).toBe('approved');
    await expect(approveOnly.release(split.batchId)).rejects.toThrow(ApprovalError);
    expect((await ledger.getBatch(split.batchId))?.phase).toBe('approved');
  });
});
