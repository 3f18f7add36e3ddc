import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BatchRecord } from '../../lambdas/ports/ledger.ts';
import { batchIdOfUpload, LocalPipeline } from '../../local/runtime/local-pipeline.ts';
import { DEMO_CAMPAIGNS } from '../../sandbox/index.ts';
import { parseResultsCsv } from '../support/results-csv.ts';

const CHOICE = DEMO_CAMPAIGNS.choice;
const DIRECT = DEMO_CAMPAIGNS.directSend;
const ADDRESS = '1 Main St,,Dublin,Leinster,D01 1AA,IE,+353871234567';

describe('the pipeline on one machine (fauxqs, DynamoDB Local, sandbox, the deployed handlers)', () => {
  let dir: string;
  let pipeline: LocalPipeline;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gift-batch-pipeline-'));
    pipeline = await LocalPipeline.start({
      stateDir: join(dir, 'state'),
      fresh: true,
      sandbox: { redemptionUrlDelayMs: 300 },
      pollEveryMs: 150,
      environment: { POLL_FIRST_AFTER_MS: '100', POLL_MIN_INTERVAL_MS: '100' },
    });
  }, 60_000);

  afterAll(async () => {
    await pipeline?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  async function runFile(
    name: string,
    lines: string[],
    deliver: (event: Awaited<ReturnType<LocalPipeline['upload']>>) => Promise<void>,
  ): Promise<{ batch: BatchRecord; results: Record<string, string>[]; batchId: string }> {
    const file = join(dir, name);
    await writeFile(file, `${lines.join('\r\n')}\r\n`);
    const event = await pipeline.upload(file);
    const batchId = await batchIdOfUpload(event);
    await deliver(event);
    const batch = await pipeline.waitForBatch(batchId, () => undefined, { everyMs: 100 });
    const out = join(dir, `${name}.results.csv`);
    await pipeline.downloadResults(batch, out);
    return { batch, batchId, results: parseResultsCsv(await readFile(out, 'utf8')) };
  }

  it('gives every row of a mixed file exactly one outcome, matching the sandbox journal', async () => {
    // Prepare
    const sandbox = pipeline.sandbox;
    if (!sandbox) throw new Error('the sandbox should be running');
    const header =
      'campaign_id,external_id,first_name,last_name,email,address1,address2,city,region,postal_code,country_code,phone,sku,variant_id,quantity';
    const lines = [
      header,
      `${CHOICE},C1,Alice,Smith,alice@example.com,,,,,,,,,,`,
      `${CHOICE},C2,Bob,Jones,,,,,,,,,,,`,
      `${DIRECT},D1,Cara,Walsh,cara@example.com,${ADDRESS},HOODIE-M-BLK,,1`,
      `${DIRECT},X1,Dan,Invalid,,${ADDRESS.replace(',IE,', ',ie,')},HOODIE-M-BLK,,1`,
      `${CHOICE},X2,Eve,,eve@example.com,,,,,,,,,,`,
      `${DIRECT},R1,Finn,Rejected,,${ADDRESS},HOODIE-XXL-PNK,,1`,
      `${DIRECT},S1,Gus,Socks,,${ADDRESS},SOCKS-LAST,,1`,
      `${DIRECT},S2,Hal,Socks,,${ADDRESS},SOCKS-LAST,,1`,
      `${DIRECT},S3,Ivy,Socks,,${ADDRESS},SOCKS-LAST,,1`,
    ];

    // Act
    const { batch, results } = await runFile('mixed.csv', lines, (event) => pipeline.split(event));

    // Assess: one line per input row, in input order, each with exactly one outcome.
    expect(batch.phase).toBe('complete');
    expect(results.map((r) => r.row)).toEqual(['1', '2', '3', '4', '5', '6', '7', '8', '9']);
    const outcome = Object.fromEntries(results.map((r) => [r.external_id, r.outcome]));
    expect(outcome).toMatchObject({
      C1: 'created',
      C2: 'created',
      D1: 'created',
      X1: 'invalid',
      X2: 'invalid',
      R1: 'rejected',
    });
    const socks = ['S1', 'S2', 'S3'].map((id) => outcome[id]);
    expect(socks.filter((o) => o === 'created')).toHaveLength(1);
    expect(socks.filter((o) => o === 'rejected')).toHaveLength(2);
    const outOfStock = results.filter(
      (r) => (r.external_id ?? '').startsWith('S') && r.outcome === 'rejected',
    );
    expect(outOfStock.map((r) => r.error_code)).toEqual(['out_of_stock', 'out_of_stock']);
    expect(results.find((r) => r.external_id === 'R1')?.error_code).toBe('invalid_reference');

    // Assess: the results agree with what the sandbox saw, gift by gift.
    const gifts = sandbox.journal.gifts.filter((gift) =>
      results.some((r) => r.gift_request_id === gift.id),
    );
    const created = results.filter((r) => r.outcome === 'created');
    expect(gifts).toHaveLength(created.length);
    for (const row of created) {
      const gift = gifts.find((g) => g.id === row.gift_request_id);
      expect(gift?.requestId).toBe(row.request_id);
      expect(row.redemption_url).toMatch(/^https:\/\/gift\.sandbox\.andopen\.test\/r\//);
    }
    for (const row of results.filter((r) => r.outcome === 'rejected')) {
      const request = sandbox.journal.requests.find((r) => r.requestId === row.request_id);
      expect(request?.status).toBe(422);
    }
    expect(batch.counts).toMatchObject({ rows: 9, valid: 7, invalid: 2 });
  });

  it('sends nothing twice when S3 delivers the same event twice', async () => {
    // Prepare
    const sandbox = pipeline.sandbox;
    if (!sandbox) throw new Error('the sandbox should be running');
    const postsBefore = sandbox.journal.requests.filter((r) => r.method === 'POST').length;

    // Act
    const { results } = await runFile(
      'twice.csv',
      ['campaign_id,first_name,last_name', `${CHOICE},Ann,One`, `${CHOICE},Ben,Two`],
      async (event) => {
        await Promise.all([pipeline.split(event), pipeline.split(event)]);
        await pipeline.split(event);
      },
    );

    // Assess
    const posts = sandbox.journal.requests.filter((r) => r.method === 'POST').length - postsBefore;
    expect(posts).toBe(2);
    expect(results.map((r) => r.outcome)).toEqual(['created', 'created']);
  });

  it('sends nothing twice when every SQS message is delivered twice', async () => {
    // Prepare
    const sandbox = pipeline.sandbox;
    if (!sandbox) throw new Error('the sandbox should be running');
    const postsBefore = sandbox.journal.requests.filter((r) => r.method === 'POST').length;
    const rows = Array.from({ length: 25 }, (_, i) => `${CHOICE},Person,Number${i + 1}`);

    // Act
    const { results } = await runFile(
      'dup-messages.csv',
      ['campaign_id,first_name,last_name', ...rows],
      async (event) => {
        const batchId = await batchIdOfUpload(event);
        // The duplicates go first, so each row's second message can race its first.
        await pipeline.sendQueue.enqueue(rows.map((_, i) => ({ batchId, row: i + 1 })));
        await pipeline.split(event);
      },
    );

    // Assess
    const posts = sandbox.journal.requests.filter((r) => r.method === 'POST').length - postsBefore;
    expect(posts).toBe(25);
    expect(results.filter((r) => r.outcome === 'created')).toHaveLength(25);
    expect(new Set(results.map((r) => r.gift_request_id)).size).toBe(25);
  });
});
