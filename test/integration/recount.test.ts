import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NewRow, SendRecord } from '../../lambdas/ports/ledger.ts';
import { LocalPipeline } from '../../local/runtime/local-pipeline.ts';

function pendingRow(batchId: string, row: number): NewRow {
  return {
    batchId,
    row,
    line: row + 1,
    state: 'pending',
    echo: { externalId: `E${row}`, campaignId: 'c', firstName: 'A', lastName: 'B', email: null },
    body: { campaign_id: 'c', recipient: { first_name: 'A', last_name: 'B' } },
    errors: [],
  };
}

const createdWithLink = (row: number): SendRecord => ({
  state: 'created',
  requestId: `req_${row}`,
  giftRequestId: `gift-recount-${row}`,
  giftStatus: 'submitted',
  redemptionUrl: `https://gift.example/r/${row}`,
  giftCreatedAt: null,
  giftUpdatedAt: null,
  pollDueAt: null,
  pollDeadlineAt: null,
});

/**
 * A re-run after `kill -9`: the killed run decided its last rows in the ledger but never added them
 * to the batch's counters (they are added at the end of an invocation). The local runtime, with the
 * default 5-minute quiet re-check, must show the right counts at once and complete without waiting.
 */
describe('a re-run after a killed run recounts its batches from the rows', () => {
  let dir: string;
  let pipeline: LocalPipeline;
  let startedAt: number;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gift-batch-recount-'));
    startedAt = Date.now();
    pipeline = await LocalPipeline.start({
      stateDir: join(dir, 'state'),
      fresh: true,
      pollEveryMs: 150,
    });
  }, 60_000);

  afterAll(async () => {
    await pipeline?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('shows the counts the rows say as soon as it reconciles, and completes on them', async () => {
    // Prepare: what the killed run left, every move dated before this run started.
    const { ledger } = pipeline;
    const batchId = 'killed-run';
    const before = new Date(startedAt - 60_000).toISOString();
    await ledger.createBatch({
      batchId,
      source: { description: 'test', bucket: null, key: null, versionOrEtag: null },
      createdAt: before,
    });
    await ledger.putRows([1, 2, 3, 4].map((row) => pendingRow(batchId, row)));
    await ledger.completeSplit(batchId, { rows: 4, valid: 4, invalid: 0 }, null);
    for (const row of [1, 2, 3, 4]) await ledger.claimRow(batchId, row, before);
    // Counted before the kill: row 1. Decided but never counted: rows 2 to 4.
    await ledger.recordSend(batchId, 1, createdWithLink(1), before);
    await ledger.addToCounts(batchId, { created: 1, settled: 1 }, before);
    await ledger.recordSend(batchId, 2, createdWithLink(2), before);
    await ledger.recordSend(batchId, 3, { state: 'rejected', requestId: 'r3', errors: [] }, before);
    await ledger.markUnknown(batchId, 4, 'a sender stopped mid-request', before);

    // Act
    await pipeline.reconcile();
    const reconciled = await ledger.getBatch(batchId);
    const finished = await pipeline.waitForBatch(batchId, () => undefined, { everyMs: 100 });

    // Assess: right at once, and complete well before the 5-minute quiet re-check.
    expect(reconciled?.counts).toMatchObject({ created: 2, rejected: 1, unknown: 1, settled: 2 });
    expect(finished.phase).toBe('complete');
    expect(finished.counts).toMatchObject({ created: 2, rejected: 1, unknown: 1, settled: 2 });
  }, 90_000);
});
