import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { batchIdOfUpload, LocalPipeline } from '../../local/runtime/local-pipeline.ts';
import { DEMO_CAMPAIGNS } from '../../sandbox/index.ts';

const CEILING_RPS = 8;

describe('a configured ceiling (ANDOPEN_MAX_RPS) through the whole local pipeline', () => {
  let dir: string;
  let pipeline: LocalPipeline;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gift-batch-max-rps-'));
    pipeline = await LocalPipeline.start({
      stateDir: join(dir, 'state'),
      fresh: true,
      sandbox: { redemptionUrlDelayMs: 300 },
      pollEveryMs: 200,
      environment: {
        ANDOPEN_MAX_RPS: String(CEILING_RPS),
        POLL_FIRST_AFTER_MS: '200',
        POLL_MIN_INTERVAL_MS: '200',
      },
    });
  }, 60_000);

  afterAll(async () => {
    await pipeline?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('keeps POSTs and the poller’s GETs together under the ceiling', async () => {
    // Prepare
    const sandbox = pipeline.sandbox;
    if (!sandbox) throw new Error('the sandbox should be running');
    const file = join(dir, 'ceiling.csv');
    const rows = Array.from(
      { length: 30 },
      (_, index) => `${DEMO_CAMPAIGNS.choice},Ceil,Row${index}`,
    );
    await writeFile(file, ['campaign_id,first_name,last_name', ...rows].join('\n'));

    // Act
    const event = await pipeline.upload(file);
    const batchId = await batchIdOfUpload(event);
    await pipeline.split(event);
    const batch = await pipeline.waitForBatch(batchId, () => undefined, { everyMs: 200 });

    // Assess: GETs shared the budget, so the rate over the whole exchange stayed at the ceiling.
    // (Slots are exactly 1/ceiling apart; arrivals jitter by the event loop's lag, hence 10 %. Were the
    // GETs outside the budget, this run would go at about twice the ceiling.)
    expect(batch.counts.created).toBe(30);
    const requests = sandbox.journal.requests;
    const gets = requests.filter((request) => request.method === 'GET');
    expect(gets.length).toBeGreaterThan(0);
    const first = requests[0]?.at ?? 0;
    const last = requests.at(-1)?.at ?? 0;
    const observedRps = ((requests.length - 1) * 1000) / (last - first);
    expect(observedRps).toBeLessThanOrEqual(CEILING_RPS * 1.1);
  }, 120_000);
});
