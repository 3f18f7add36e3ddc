import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RowRecord } from '../../lambdas/ports/ledger.ts';
import { batchIdOfUpload, LocalPipeline } from '../../local/runtime/local-pipeline.ts';
import { DEMO_CAMPAIGNS } from '../../sandbox/index.ts';

const ROWS = 3_000;
const CHUNK_ROWS = 250;

describe('a split that takes several splitter invocations (fauxqs, DynamoDB Local, sandbox)', () => {
  let dir: string;
  let pipeline: LocalPipeline;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gift-batch-split-'));
    pipeline = await LocalPipeline.start({
      stateDir: join(dir, 'state'),
      fresh: true,
      sandbox: { redemptionUrlDelayMs: 0 },
      pollEveryMs: 200,
      environment: {
        // More than the splitter's whole timeout: every invocation hands over after one chunk.
        SPLIT_HAND_OVER_WHEN_REMAINING_MS: String(901_000),
        SPLIT_CHUNK_ROWS: String(CHUNK_ROWS),
        POLL_FIRST_AFTER_MS: '100',
        POLL_MIN_INTERVAL_MS: '100',
      },
    });
  }, 60_000);

  afterAll(async () => {
    await pipeline?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('records, queues and sends every row exactly once across continuations, totals right', async () => {
    // Prepare: every row but each 10th invalid (no last name): the split path takes all 3,000, the
    // send path 300 (enough to show each is sent once, without making this a send benchmark).
    const sandbox = pipeline.sandbox;
    if (!sandbox) throw new Error('the sandbox should be running');
    const lines = ['campaign_id,external_id,first_name,last_name'];
    for (let row = 1; row <= ROWS; row += 1) {
      lines.push(`${DEMO_CAMPAIGNS.choice},E${row},First${row},${row % 10 === 0 ? 'Last' : ''}`);
    }
    const file = join(dir, 'long.csv');
    await writeFile(file, `${lines.join('\r\n')}\r\n`);
    const event = await pipeline.upload(file);
    const batchId = await batchIdOfUpload(event);

    // Act
    await pipeline.split(event);
    const afterFirst = await pipeline.ledger.getBatch(batchId);
    await pipeline.split(event); // a duplicate S3 event while continuations are in flight
    const batch = await pipeline.waitForBatch(batchId, () => undefined, { everyMs: 250 });

    // Assess: the first invocation handed over after one chunk; 11 continuations did the rest.
    expect(afterFirst?.splitCheckpoint).toMatchObject({ nextRow: CHUNK_ROWS + 1, sequence: 1 });
    const chunks = ROWS / CHUNK_ROWS;
    expect(batch.splitCheckpoint).toMatchObject({ nextRow: ROWS + 1, sequence: 2 * chunks - 1 });
    expect(batch).toMatchObject({ phase: 'complete', fileError: null });
    // The split's totals (the senders' counters are hints that may trail completion by a flush).
    expect(batch.counts).toMatchObject({ rows: ROWS, valid: 300, invalid: 2_700 });

    const rows: RowRecord[] = [];
    for await (const row of pipeline.ledger.listRows(batchId)) rows.push(row);
    expect(rows.map((row) => row.row)).toEqual(Array.from({ length: ROWS }, (_, i) => i + 1));
    expect(rows.filter((row) => row.state === 'created')).toHaveLength(300);
    expect(rows.filter((row) => row.state === 'invalid')).toHaveLength(2_700);

    // The sandbox's own record: one gift per valid row, none twice.
    const names = sandbox.journal.gifts
      .map((gift) => (gift.body as { recipient?: { first_name?: string } }).recipient?.first_name)
      .filter((name) => name?.startsWith('First'));
    expect(names).toHaveLength(300);
    expect(new Set(names).size).toBe(300);
    expect(new Set(rows.map((row) => row.giftRequestId).filter(Boolean)).size).toBe(300);
    expect(await pipeline.deadLetterCount()).toBe(0);
  }, 600_000);
});
