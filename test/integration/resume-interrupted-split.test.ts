import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoDbLedger } from '../../lambdas/adapters/dynamodb-ledger.ts';
import { uploadedObjectOf } from '../../lambdas/handlers/s3-records.ts';
import type { NewRow } from '../../lambdas/ports/ledger.ts';
import {
  batchIdOfUpload,
  LOCAL_NAMES,
  type LocalPipeline,
} from '../../local/runtime/local-pipeline.ts';
import { localClientConfig } from '../../local/standins/index.ts';
import { DEMO_CAMPAIGNS } from '../../sandbox/index.ts';
import { type ScratchPipeline, startScratchPipeline } from '../support/scratch-pipeline.ts';

const CAMPAIGN = DEMO_CAMPAIGNS.choice;
const HEADER = 'campaign_id,external_id,first_name,last_name,email';

function recordedRow(batchId: string, row: number): NewRow {
  const lastName = `Row${row}`;
  return {
    batchId,
    row,
    line: row + 1,
    state: 'pending',
    echo: {
      externalId: `r${row}`,
      campaignId: CAMPAIGN,
      firstName: 'Split',
      lastName,
      email: null,
    },
    body: { campaign_id: CAMPAIGN, recipient: { first_name: 'Split', last_name: lastName } },
    errors: [],
  };
}

/** Uploads a file and creates its batch, as the split that was interrupted had done. */
async function uploadAndCreateBatch(pipeline: LocalPipeline, csvPath: string) {
  const event = await pipeline.upload(csvPath);
  const batchId = await batchIdOfUpload(event);
  const object = uploadedObjectOf(event.Records[0] as (typeof event.Records)[number]);
  await pipeline.ledger.createBatch({
    batchId,
    source: {
      description: `s3://${object.bucket}/${object.key}`,
      bucket: object.bucket,
      key: object.key,
      versionOrEtag: object.versionId ?? object.eTag,
    },
    createdAt: new Date().toISOString(),
  });
  return { event, batchId };
}

/**
 * A `gift-batch run` killed while its file was still being read: the ledger holds the rows of the
 * chunks recorded so far and a checkpoint, the queue (in the killed process) is gone. The next run
 * resumes the split; every row must then be sent, those recorded before the last chunk included.
 */
describe('a split interrupted with the local run, resumed by the next run', () => {
  let scratch: ScratchPipeline;
  let dir: string;
  let pipeline: LocalPipeline;
  /** Before the pipeline began: when the interrupted runs did what they did. */
  let earlierRun: number;

  beforeAll(async () => {
    // Not so long ago that the poller would take the split for stalled (17 min) and resume it.
    earlierRun = Date.now() - 1_000;
    scratch = await startScratchPipeline('resume-split', {
      sandbox: { redemptionUrlDelayMs: 200 },
      pollEveryMs: 150,
      environment: { POLL_FIRST_AFTER_MS: '100', POLL_MIN_INTERVAL_MS: '100' },
    });
    ({ dir, pipeline } = scratch);
  }, 60_000);

  afterAll(async () => {
    await scratch?.stop();
  });

  it('sends every row once, those recorded before the last chunk too', async () => {
    // Prepare: a six-row file whose split recorded rows 1-4 in two chunks of two, then died.
    const sandbox = pipeline.sandbox;
    if (!sandbox) throw new Error('the sandbox should be running');
    const csvPath = join(dir, 'interrupted.csv');
    const lines = [1, 2, 3, 4, 5, 6].map((row) => `${CAMPAIGN},r${row},Split,Row${row},`);
    await writeFile(csvPath, `${[HEADER, ...lines].join('\r\n')}\r\n`);
    const { event, batchId } = await uploadAndCreateBatch(pipeline, csvPath);
    const { ledger } = pipeline;
    await ledger.putRows([1, 2, 3, 4].map((row) => recordedRow(batchId, row)));
    const saved = await ledger.saveSplitCheckpoint(batchId, 0, {
      nextRow: 5,
      lastChunkFrom: 3,
      totals: { rows: 4, valid: 4, invalid: 0 },
      sequence: 1,
      savedAt: Date.now() - 1_000,
      objectETag: null,
    });
    expect(saved).toBe(true);

    // The upload died with the killed run (local S3 lives in its process).
    await pipeline.deleteUpload(event);

    // Act: what the next run does: reconcile and resume at its start, before its file is back
    // (which must leave the split alone: it would find the file gone and end the batch short),
    // then again once `run` has uploaded the file.
    await pipeline.reconcile();
    const beforeUpload = await pipeline.resumeInterruptedSplits();
    const waiting = await ledger.getBatch(batchId);
    await pipeline.upload(csvPath);
    const resumed = await pipeline.resumeInterruptedSplits();
    const batch = await pipeline.waitForBatch(batchId, () => undefined, {
      everyMs: 100,
      signal: AbortSignal.timeout(90_000),
    });

    // Assess: all six created, each by exactly one gift.
    expect(beforeUpload).toEqual([]);
    expect(waiting?.phase).toBe('splitting');
    expect(waiting?.fileError).toBeNull();
    expect(resumed).toEqual([batchId]);
    expect(batch.phase).toBe('complete');
    const states: string[] = [];
    for await (const row of ledger.listRows(batchId)) states.push(row.state);
    expect(states).toEqual(Array(6).fill('created'));
    const lastNames = sandbox.journal.gifts
      .map((gift) => (gift.body as { recipient?: { last_name?: string } }).recipient?.last_name)
      .sort();
    expect(lastNames).toEqual(['Row1', 'Row2', 'Row3', 'Row4', 'Row5', 'Row6']);
  }, 120_000);

  it('never puts back to pending a row of the dead chunk that was sent since', async () => {
    // Prepare: the split recorded rows 1-2 (checkpoint), then wrote rows 3-4 and died before their
    // checkpoint. A reconcile goes by the ledger, not the checkpoint: it queued rows 3-4 since, and
    // row 3's gift was created (recorded here as a sender would have), then that run was killed
    // too, before it added row 3 to the batch's counters: the next run must correct them from the
    // rows to complete the batch. All of that happened before this run began.
    const sandbox = pipeline.sandbox;
    if (!sandbox) throw new Error('the sandbox should be running');
    const giftsBefore = sandbox.journal.gifts.length;
    const csvPath = join(dir, 'dead-chunk.csv');
    const lines = [1, 2, 3, 4, 5].map((row) => `${CAMPAIGN},d${row},Dead,Chunk${row},`);
    await writeFile(csvPath, `${[HEADER, ...lines].join('\r\n')}\r\n`);
    const { batchId } = await uploadAndCreateBatch(pipeline, csvPath);
    const { ledger } = pipeline;
    // The same table (the pipeline put its endpoint in the handlers' environment), by the dead runs.
    const deadRuns = new DynamoDbLedger({
      client: new DynamoDBClient(localClientConfig(process.env.AWS_ENDPOINT_URL_DYNAMODB ?? '')),
      tableName: LOCAL_NAMES.ledgerTable,
      clock: { now: () => earlierRun },
    });
    const rowOf = (row: number): NewRow => {
      const recorded = recordedRow(batchId, row);
      const lastName = `Chunk${row}`;
      return {
        ...recorded,
        echo: { ...recorded.echo, externalId: `d${row}`, firstName: 'Dead', lastName },
        body: { campaign_id: CAMPAIGN, recipient: { first_name: 'Dead', last_name: lastName } },
      };
    };
    await deadRuns.putRows([1, 2, 3, 4].map(rowOf));
    await deadRuns.saveSplitCheckpoint(batchId, 0, {
      nextRow: 3,
      lastChunkFrom: 1,
      totals: { rows: 2, valid: 2, invalid: 0 },
      sequence: 1,
      savedAt: earlierRun,
      objectETag: null,
    });
    const now = new Date(earlierRun).toISOString();
    await deadRuns.claimRow(batchId, 3, now);
    await deadRuns.recordSend(
      batchId,
      3,
      {
        state: 'created',
        requestId: 'req_dead_chunk_3',
        giftRequestId: 'gr_dead_chunk_3',
        giftStatus: 'pending',
        redemptionUrl: 'https://gifts.example/r/dead-chunk-3',
        giftCreatedAt: now,
        giftUpdatedAt: now,
        pollDueAt: null,
        pollDeadlineAt: null,
      },
      now,
    );

    // Act: the next run resumes the split, its file being there.
    const resumed = await pipeline.resumeInterruptedSplits();
    const batch = await pipeline.waitForBatch(batchId, () => undefined, {
      everyMs: 100,
      signal: AbortSignal.timeout(90_000),
    });

    // Assess: row 3 keeps its gift and is not sent again; every other row gets one gift; the
    // counters, corrected from the rows, count row 3 once.
    expect(resumed).toEqual([batchId]);
    expect(batch.phase).toBe('complete');
    expect(await ledger.getRow(batchId, 3)).toMatchObject({
      state: 'created',
      giftRequestId: 'gr_dead_chunk_3',
    });
    const lastNames = sandbox.journal.gifts
      .slice(giftsBefore)
      .map((gift) => (gift.body as { recipient?: { last_name?: string } }).recipient?.last_name)
      .sort();
    expect(lastNames).toEqual(['Chunk1', 'Chunk2', 'Chunk4', 'Chunk5']);
    expect(batch.counts).toMatchObject({ rows: 5, valid: 5, created: 5, settled: 5, unknown: 0 });
  }, 120_000);
});
