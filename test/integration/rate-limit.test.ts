import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AndOpenHttpClient } from '../../lambdas/adapters/andopen-http-client.ts';
import { DynamoDbLedger } from '../../lambdas/adapters/dynamodb-ledger.ts';
import { DynamoDbLimiterStore } from '../../lambdas/adapters/dynamodb-limiter-store.ts';
import { FleetRateLimiter, Permits } from '../../lambdas/core/rate-limiter.ts';
import { SendService } from '../../lambdas/core/send-service.ts';
import { systemClock } from '../../lambdas/ports/clock.ts';
import { ensureLedgerTable } from '../../local/aws/ledger-table.ts';
import { batchIdOfUpload, type LocalPipeline } from '../../local/runtime/local-pipeline.ts';
import {
  DEMO_CAMPAIGNS,
  SANDBOX_API_KEY,
  type Sandbox,
  startSandbox,
} from '../../sandbox/index.ts';
import { type LedgerTable, startLedgerTable } from '../support/ledger-on-dynamodb-local.ts';
import {
  type ScratchPipeline,
  startScratchPipeline,
  TIGHT_UNANNOUNCED_LIMIT,
} from '../support/scratch-pipeline.ts';

const CHOICE = DEMO_CAMPAIGNS.choice;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));

describe('two sender containers sharing the limiter state in DynamoDB', () => {
  let table: LedgerTable;
  let client: DynamoDBClient;
  let sandbox: Sandbox;

  beforeAll(async () => {
    table = await startLedgerTable();
    client = table.client;
    sandbox = await startSandbox();
  }, 60_000);

  afterAll(async () => {
    await sandbox?.stop();
    await table?.stop();
  });

  it('pauses the other container on a 429 one of them saw: once read, nobody sends before Retry-After', async () => {
    // Prepare: one batch of 10 rows, two "containers" with their own limiter instance and client.
    const ledger = new DynamoDbLedger({ client, tableName: 'ledger' });
    const store = new DynamoDbLimiterStore({ client, tableName: 'ledger' });
    // When the pause reached the shared state: from then on every container must hold back.
    let pauseSharedAt = 0;
    const write = store.write.bind(store);
    store.write = async (state, expected) => {
      const written = await write(state, expected);
      if (written && state.pausedUntil > 0 && pauseSharedAt === 0) pauseSharedAt = Date.now();
      return written;
    };
    await ledger.createBatch({
      batchId: 'b',
      source: { description: 't', bucket: null, key: null, versionOrEtag: null },
      createdAt: new Date().toISOString(),
    });
    await ledger.putRows(
      Array.from({ length: 10 }, (_, index) => ({
        batchId: 'b',
        row: index + 1,
        line: index + 2,
        state: 'pending' as const,
        echo: { externalId: null, campaignId: CHOICE, firstName: 'A', lastName: 'B', email: null },
        body: { campaign_id: CHOICE, recipient: { first_name: 'A', last_name: `B${index}` } },
        errors: [],
      })),
    );
    const container = () => {
      const limiter = new FleetRateLimiter({
        store,
        clock: systemClock,
        settings: { ceilingRps: 20 },
      });
      const api = new AndOpenHttpClient({ baseUrl: sandbox.url, apiKey: SANDBOX_API_KEY });
      // When each POST leaves, and when each 429 is read: the fleet's promise, seen from the fleet.
      const sent: number[] = [];
      const readThrottle: number[] = [];
      const create = api.createGiftRequest.bind(api);
      api.createGiftRequest = async (body) => {
        sent.push(Date.now());
        const call = await create(body);
        if (call.kind === 'response' && call.status === 429) readThrottle.push(Date.now());
        return call;
      };
      const service = new SendService({
        ledger,
        api,
        clock: systemClock,
        settings: { firstPollAfterMs: 1_000, pollDeadlineMs: 60_000 },
        limiter,
      });
      return { limiter, api, service, sent, readThrottle };
    };
    const a = container();
    const b = container();
    sandbox.injectNext('429', 1, 'post');

    // Act: each container sends five rows at once; a row throttled is sent again, as a re-queue would.
    const invoke = async ({ limiter, service }: ReturnType<typeof container>, rows: number[]) => {
      const permits = new Permits(limiter, systemClock, rows.length * 2);
      await Promise.all(
        rows.map(async (row) => {
          for (;;) {
            const result = await service.send({ batchId: 'b', row }, permits);
            if (result.kind === 'done') return;
          }
        }),
      );
    };
    await Promise.all([invoke(a, [1, 2, 3, 4, 5]), invoke(b, [6, 7, 8, 9, 10])]);

    // Assess: one 429. The container that read it sent nothing more until Retry-After (1 s) had
    // passed; the other, nothing from the moment the pause was in the shared state.
    expect([...a.readThrottle, ...b.readThrottle]).toHaveLength(1);
    const reader = a.readThrottle.length === 1 ? a : b;
    const other = reader === a ? b : a;
    const readAt = reader.readThrottle[0] ?? 0;
    const pauseEnd = readAt + 1_000;
    expect(pauseSharedAt).toBeGreaterThan(0);
    expect(reader.sent.filter((at) => at > readAt && at < pauseEnd)).toEqual([]);
    expect(other.sent.filter((at) => at > pauseSharedAt && at < pauseEnd)).toEqual([]);
    expect(other.sent.some((at) => at >= pauseEnd)).toBe(true);
    for (let row = 1; row <= 10; row += 1) {
      expect((await ledger.getRow('b', row))?.state).toBe('created');
    }
    a.api.close();
    b.api.close();
  }, 60_000);

  it('pools the refusals each container heard in the item, and measures the limit from all of them', async () => {
    // Prepare: a table of its own (the limiter item is one per table); two containers book the
    // fleet's slots in turn at 100/s, and the slots pass.
    await ensureLedgerTable(client, 'pooled-refusals');
    const store = new DynamoDbLimiterStore({ client, tableName: 'pooled-refusals' });
    const settings = { initialRps: 100, growthIntervalMs: 60_000 };
    const a = new FleetRateLimiter({ store, clock: systemClock, settings });
    const b = new FleetRateLimiter({ store, clock: systemClock, settings });
    const slotsOfA = await a.reserve(10);
    const slotsOfB = await b.reserve(10);
    const refusedByA = slotsOfA[0] ?? 0;
    const refusedByB = slotsOfB.at(-1) ?? 0;
    await sleep(refusedByB + 50 - Date.now());

    // Act: each hears its own answers: a refusal at the first slot of a's block and at the last of
    // b's, everything else accepted; the 200 ms Retry-After passes, and a books its next slot.
    for (const at of slotsOfA) {
      await a.answered(at, at === refusedByA ? 'throttled' : 'accepted', 200);
    }
    for (const at of slotsOfB) {
      await b.answered(at, at === refusedByB ? 'throttled' : 'accepted', 200);
    }
    const pooled = (await store.read())?.refusals;
    await sleep(((await store.read())?.pausedUntil ?? 0) + 10 - Date.now());
    await a.reserve(1);

    // Assess: both refusals in the item, with every slot from the first to the last; what &Open
    // accepted between them (all but the last refusal) is the fleet's pace, though each container
    // heard half of it: ~95/s when b's block followed a's at once.
    const between = [...slotsOfA, ...slotsOfB].filter((at) => at >= refusedByA && at < refusedByB);
    expect(between).toHaveLength(19);
    expect(pooled).toEqual({
      first: Math.round(refusedByA),
      last: Math.round(refusedByB),
      count: 2,
      slots: 19,
    });
    expect((await store.read())?.measuredLimit).toBeCloseTo(
      18 / ((refusedByB - refusedByA) / 1000),
      3,
    );
  }, 60_000);
});

describe('a 429 storm through the whole local pipeline', () => {
  let scratch: ScratchPipeline;
  let dir: string;
  let pipeline: LocalPipeline;

  beforeAll(async () => {
    // A tight limit &Open does not tell us about, and a slow answer, so requests overlap.
    scratch = await startScratchPipeline('storm', TIGHT_UNANNOUNCED_LIMIT);
    ({ dir, pipeline } = scratch);
  }, 60_000);

  afterAll(async () => {
    await scratch?.stop();
  });

  it('ends with every row created and none dead-lettered', async () => {
    // Prepare
    const sandbox = pipeline.sandbox;
    if (!sandbox) throw new Error('the sandbox should be running');
    sandbox.injectNext('429', 6, 'any');
    const file = join(dir, 'storm.csv');
    const rows = Array.from({ length: 60 }, (_, index) => `${CHOICE},Storm,Row${index + 1}`);
    await writeFile(file, ['campaign_id,first_name,last_name', ...rows].join('\n'));

    // Act
    const event = await pipeline.upload(file);
    const batchId = await batchIdOfUpload(event);
    await pipeline.split(event);
    const batch = await pipeline.waitForBatch(batchId, () => undefined, { everyMs: 200 });

    // Assess
    expect(batch.phase).toBe('complete');
    expect(batch.counts).toMatchObject({
      rows: 60,
      valid: 60,
      created: 60,
      rejected: 0,
      unknown: 0,
    });
    expect(await pipeline.deadLetterCount()).toBe(0);
    expect(sandbox.journal.requests.some((request) => request.status === 429)).toBe(true);
  }, 120_000);
});
