import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NewRow } from '../../lambdas/ports/ledger.ts';
import { LocalPipeline } from '../../local/runtime/local-pipeline.ts';
import { DEMO_CAMPAIGNS } from '../../sandbox/index.ts';

const CAMPAIGN = DEMO_CAMPAIGNS.choice;

function pendingRow(batchId: string, row: number, lastName: string): NewRow {
  return {
    batchId,
    row,
    line: row + 1,
    state: 'pending',
    echo: { externalId: lastName, campaignId: CAMPAIGN, firstName: 'Lost', lastName, email: null },
    body: { campaign_id: CAMPAIGN, recipient: { first_name: 'Lost', last_name: lastName } },
    errors: [],
  };
}

/**
 * The poller's reconcile in the real pipeline (fauxqs, DynamoDB Local, the sandbox, the deployed
 * handlers): rows recorded in the ledger whose messages never reached the queue.
 */
describe('reconcile on the poller’s schedule: the ledger is the source of truth', () => {
  let dir: string;
  let pipeline: LocalPipeline;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gift-batch-reconcile-'));
    pipeline = await LocalPipeline.start({
      stateDir: join(dir, 'state'),
      fresh: true,
      sandbox: { redemptionUrlDelayMs: 200 },
      pollEveryMs: 150,
      environment: {
        POLL_FIRST_AFTER_MS: '100',
        POLL_MIN_INTERVAL_MS: '100',
        // Quiet after a second here (25 minutes in AWS); a claim is stale after two.
        RECONCILE_QUIET_AFTER_MS: '1000',
        RECONCILE_SENDING_STALE_AFTER_MS: '2000',
      },
    });
  }, 60_000);

  afterAll(async () => {
    await pipeline?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('sends a pending row whose message was lost exactly once, and never POSTs a row a dead sender held', async () => {
    // Prepare: a batch split into the ledger, its messages lost; row 2 was claimed by a sender
    // that died before anything could be known of its POST.
    const sandbox = pipeline.sandbox;
    if (!sandbox) throw new Error('the sandbox should be running');
    const batchId = 'lost-messages';
    const { ledger } = pipeline;
    await ledger.createBatch({
      batchId,
      source: { description: 'test', bucket: null, key: null, versionOrEtag: null },
      createdAt: new Date().toISOString(),
    });
    await ledger.putRows([
      pendingRow(batchId, 1, 'Reconciled'),
      pendingRow(batchId, 2, 'HeldByADeadSender'),
    ]);
    await ledger.completeSplit(batchId, { rows: 2, valid: 2, invalid: 0 }, null);
    const claim = await ledger.claimRow(batchId, 2, new Date().toISOString());
    expect(claim.claimed).toBe(true);

    // Act: nothing but the pipeline's own schedule.
    const batch = await pipeline.waitForBatch(batchId, () => undefined, { everyMs: 100 });

    // Assess: row 1 created by exactly one POST; row 2 unknown, never POSTed.
    expect(batch.phase).toBe('complete');
    expect(batch.lastReconciledAt).not.toBeNull();
    const row1 = await ledger.getRow(batchId, 1);
    const row2 = await ledger.getRow(batchId, 2);
    expect(row1?.state).toBe('created');
    expect(row2?.state).toBe('unknown');
    const lastNames = sandbox.journal.gifts.map(
      (gift) => (gift.body as { recipient?: { last_name?: string } }).recipient?.last_name,
    );
    expect(lastNames.filter((name) => name === 'Reconciled')).toHaveLength(1);
    expect(lastNames).not.toContain('HeldByADeadSender');
    expect(sandbox.journal.gifts.find((gift) => gift.id === row1?.giftRequestId)).toBeDefined();
  }, 60_000);
});
