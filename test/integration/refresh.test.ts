import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AndOpenHttpClient } from '../../lambdas/adapters/andopen-http-client.ts';
import { FleetRateLimiter } from '../../lambdas/core/rate-limiter.ts';
import { RefreshService } from '../../lambdas/core/refresh-service.ts';
import { systemClock } from '../../lambdas/ports/clock.ts';
import { batchIdOfUpload, LocalPipeline } from '../../local/runtime/local-pipeline.ts';
import { DEMO_CAMPAIGNS, SANDBOX_API_KEY } from '../../sandbox/index.ts';

const CHOICE = DEMO_CAMPAIGNS.choice;

describe('export --refresh: current statuses from &Open before an export', () => {
  let dir: string;
  let pipeline: LocalPipeline;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gift-batch-refresh-'));
    pipeline = await LocalPipeline.start({
      stateDir: join(dir, 'state'),
      fresh: true,
      sandbox: { redemptionUrlDelayMs: 0, seed: 3 },
      pollEveryMs: 200,
    });
  }, 60_000);

  afterAll(async () => {
    await pipeline?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('records what &Open says now for gifts the poller stopped following, within the shared rate', async () => {
    // Prepare: a sent batch, then &Open moves two of its gifts on (redeemed, delivered).
    const sandbox = pipeline.sandbox;
    if (!sandbox) throw new Error('the sandbox should be running');
    const lines = ['campaign_id,external_id,first_name,last_name,email'];
    for (let row = 1; row <= 4; row += 1) {
      lines.push(`${CHOICE},R${row},Person,Number${row},r${row}@example.com`);
    }
    const file = join(dir, 'refresh.csv');
    await writeFile(file, `${lines.join('\r\n')}\r\n`);
    const event = await pipeline.upload(file);
    const batchId = await batchIdOfUpload(event);
    await pipeline.split(event);
    await pipeline.waitForBatch(batchId, () => undefined, { everyMs: 100 });
    const first = await pipeline.ledger.getRow(batchId, 1);
    const second = await pipeline.ledger.getRow(batchId, 2);
    if (!first?.giftRequestId || !second?.giftRequestId) throw new Error('rows should be created');
    sandbox.advance(first.giftRequestId, 'redeemed');
    sandbox.advance(second.giftRequestId, 'delivered');
    const getsBefore = sandbox.journal.requests.filter((r) => r.method === 'GET').length;
    const client = new AndOpenHttpClient({ baseUrl: sandbox.url, apiKey: SANDBOX_API_KEY });
    const service = new RefreshService({
      ledger: pipeline.ledger,
      api: client,
      clock: systemClock,
      limiter: new FleetRateLimiter({ store: pipeline.limiterStore, clock: systemClock }),
    });

    // Act
    const report = await service.refresh({ campaignId: CHOICE, from: null, to: null });
    client.close();

    // Assess
    expect(report).toMatchObject({ candidates: 4, refreshed: 4, changed: 2, requests: 4 });
    expect((await pipeline.ledger.getRow(batchId, 1))?.giftStatus).toBe('redeemed');
    expect((await pipeline.ledger.getRow(batchId, 2))?.giftStatus).toBe('delivered');
    expect((await pipeline.ledger.getRow(batchId, 3))?.giftStatus).toBe('submitted');
    const gets = sandbox.journal.requests.filter((r) => r.method === 'GET').length - getsBefore;
    expect(gets).toBe(4);
  }, 120_000);
});
