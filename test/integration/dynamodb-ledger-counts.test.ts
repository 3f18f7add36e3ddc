import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoDbLedger } from '../../lambdas/adapters/dynamodb-ledger.ts';
import { CountsByBatch } from '../../lambdas/core/send-counts.ts';
import { SendService } from '../../lambdas/core/send-service.ts';
import type {
  ApiCall,
  Campaign,
  GiftingApi,
  GiftRequest,
  Page,
} from '../../lambdas/ports/gifting-api.ts';
import type { NewRow, SendRecord } from '../../lambdas/ports/ledger.ts';
import { ensureLedgerTable } from '../../local/aws/ledger-table.ts';
import {
  localClientConfig,
  type RunningStandIn,
  startDynamoDbLocal,
} from '../../local/standins/index.ts';

const NOW = '2026-11-22T10:00:00.000Z';
const T0 = Date.parse(NOW);
const SOURCE = { description: 'test', bucket: null, key: null, versionOrEtag: null };

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

const created = (row: number, redemptionUrl: string | null = null): SendRecord => ({
  state: 'created',
  requestId: `req_${row}`,
  giftRequestId: `gift-${row}`,
  giftStatus: 'submitted',
  redemptionUrl,
  giftCreatedAt: NOW,
  giftUpdatedAt: NOW,
  pollDueAt: redemptionUrl === null ? T0 + 2_000 : null,
  pollDeadlineAt: T0 + 600_000,
});

/** &Open answering a POST with a created gift (and its link), once `beforeAnswering` resolves. */
class HeldApi implements GiftingApi {
  posts = 0;
  constructor(private readonly beforeAnswering: () => Promise<void>) {}
  async createGiftRequest(): Promise<ApiCall<GiftRequest>> {
    this.posts += 1;
    await this.beforeAnswering();
    return {
      kind: 'response',
      status: 201,
      requestId: 'req_201',
      errors: [],
      retryAfterMs: null,
      body: {
        id: 'gift-held',
        status: 'submitted',
        campaign_id: 'cmp-1',
        redemption_url: 'https://gift.example/r/held',
        recipient: { id: 'r-1', first_name: 'A', last_name: 'B' },
        shipping_address: null,
        line_items: null,
        created_at: NOW,
        updated_at: NOW,
      },
    };
  }
  async getGiftRequest(): Promise<ApiCall<GiftRequest>> {
    throw new Error('not used');
  }
  async getCampaign(): Promise<ApiCall<Campaign>> {
    throw new Error('not used');
  }
  async listCampaigns(): Promise<ApiCall<Page<Campaign>>> {
    throw new Error('not used');
  }
}

describe('DynamoDbLedger counters on DynamoDB Local', () => {
  let dynamo: RunningStandIn;
  let ledger: DynamoDbLedger;
  let client: DynamoDBClient;

  beforeAll(async () => {
    dynamo = await startDynamoDbLocal({ storage: 'memory' });
    client = new DynamoDBClient(localClientConfig(dynamo.endpoint));
    await ensureLedgerTable(client, 'ledger');
    ledger = new DynamoDbLedger({ client, tableName: 'ledger' });
  });

  afterAll(async () => {
    client?.destroy();
    await dynamo?.stop();
  });

  it('says which state an answer replaced: its own claim, or a guessed unknown', async () => {
    // Prepare: rows 1-3 claimed; a redelivery guessed rows 2 and 3 unknown.
    await ledger.putRows([1, 2, 3].map((row) => pendingRow('b-moved', row)));
    for (const row of [1, 2, 3]) await ledger.claimRow('b-moved', row, NOW);
    await ledger.markUnknown('b-moved', 2, 'a sender stopped mid-request', NOW);
    await ledger.markUnknown('b-moved', 3, 'a sender stopped mid-request', NOW);

    // Act
    const own = await ledger.recordSend('b-moved', 1, created(1), NOW);
    const replacedGuess = await ledger.recordSend('b-moved', 2, created(2), NOW);
    const releasedGuess = await ledger.releaseRow('b-moved', 3, NOW);
    const notAgain = await ledger.releaseRow('b-moved', 1, NOW);

    // Assess
    expect([own, replacedGuess, releasedGuess, notAgain]).toEqual([
      'sending',
      'unknown',
      'unknown',
      null,
    ]);
    expect((await ledger.getRow('b-moved', 2))?.state).toBe('created');
    expect((await ledger.getRow('b-moved', 3))?.state).toBe('pending');
  });

  it('counts a row once when the same message is delivered twice at the same time', async () => {
    // Prepare: the first delivery's POST is answered only once the second delivery has found the
    // row in `sending` (and guessed unknown); each delivery counts as its own invocation does.
    await ledger.createBatch({ batchId: 'b-twice', source: SOURCE, createdAt: NOW });
    await ledger.putRows([pendingRow('b-twice', 1)]);
    await ledger.completeSplit('b-twice', { rows: 1, valid: 1, invalid: 0 }, null);
    let secondDone: () => void = () => undefined;
    const secondFinished = new Promise<void>((resolve) => {
      secondDone = resolve;
    });
    const api = new HeldApi(() => secondFinished);
    const settings = { firstPollAfterMs: 2_000, pollDeadlineMs: 600_000 };
    const clock = { now: () => Date.now() };
    const first = new SendService({ ledger, api, clock, settings });
    const second = new SendService({ ledger, api, clock, settings });
    const firstCounts = new CountsByBatch();
    const secondCounts = new CountsByBatch();
    const message = { batchId: 'b-twice', row: 1 };

    // Act
    const firstSend = first.send(message);
    const secondResult = await (async () => {
      // The second delivery arrives while the first one's POST is in flight.
      while ((await ledger.getRow('b-twice', 1))?.state !== 'sending') await Promise.resolve();
      return second.send(message);
    })();
    secondDone();
    const firstResult = await firstSend;
    secondCounts.add('b-twice', secondResult);
    firstCounts.add('b-twice', firstResult);
    await Promise.all([
      secondCounts.flush(ledger, new Date().toISOString()),
      firstCounts.flush(ledger, new Date().toISOString()),
    ]);

    // Assess
    expect(api.posts).toBe(1);
    expect(secondResult).toMatchObject({ kind: 'done', state: 'unknown' });
    expect(firstResult).toMatchObject({ kind: 'done', state: 'created', movedFrom: 'unknown' });
    expect((await ledger.getRow('b-twice', 1))?.state).toBe('created');
    expect((await ledger.getBatch('b-twice'))?.counts).toMatchObject({
      created: 1,
      unknown: 0,
      settled: 1,
    });
  });

  it('corrects the send counters compare-and-set on every counter, leaving updatedAt alone', async () => {
    // Prepare
    await ledger.createBatch({ batchId: 'b-recount', source: SOURCE, createdAt: NOW });
    await ledger.completeSplit('b-recount', { rows: 3, valid: 3, invalid: 0 }, null);
    await ledger.addToCounts('b-recount', { created: 1 }, NOW);
    const seen = await ledger.getBatch('b-recount');
    if (!seen) throw new Error('no batch');
    const right = { created: 2, rejected: 1, unknown: 0, settled: 2 };

    // Act
    const corrected = await ledger.correctCounts('b-recount', seen.counts, right);
    const again = await ledger.correctCounts('b-recount', seen.counts, {
      ...right,
      created: 7,
    });
    const missing = await ledger.correctCounts('b-none', seen.counts, right);

    // Assess
    expect([corrected, again, missing]).toEqual([true, false, false]);
    const batch = await ledger.getBatch('b-recount');
    expect(batch?.counts).toEqual({ rows: 3, valid: 3, invalid: 0, ...right });
    expect(batch?.updatedAt).toBe(seen.updatedAt);
    expect(await ledger.getBatch('b-none')).toBeNull();
  });

  it('refuses a correction when a delta landed on any counter since they were read', async () => {
    // Prepare
    await ledger.createBatch({ batchId: 'b-raced', source: SOURCE, createdAt: NOW });
    const seen = await ledger.getBatch('b-raced');
    if (!seen) throw new Error('no batch');
    await ledger.addToCounts('b-raced', { settled: 1 }, NOW);

    // Act
    const corrected = await ledger.correctCounts('b-raced', seen.counts, {
      created: 1,
      rejected: 0,
      unknown: 0,
      settled: 0,
    });

    // Assess
    expect(corrected).toBe(false);
    expect((await ledger.getBatch('b-raced'))?.counts).toMatchObject({ created: 0, settled: 1 });
  });

  it('corrects an event batch, whose item was created without counters', async () => {
    // Prepare: the first event of a day creates its batch with a row number only.
    const batch = { batchId: 'events-2026-11-22', source: SOURCE, createdAt: NOW };
    await ledger.nextEventRow(batch);
    const seen = await ledger.getBatch(batch.batchId);
    if (!seen) throw new Error('no batch');

    // Act
    const corrected = await ledger.correctCounts(batch.batchId, seen.counts, {
      created: 1,
      rejected: 0,
      unknown: 0,
      settled: 1,
    });

    // Assess
    expect(corrected).toBe(true);
    expect((await ledger.getBatch(batch.batchId))?.counts).toMatchObject({
      created: 1,
      settled: 1,
    });
  });

  it('marks a batch active without touching its updatedAt or counters', async () => {
    // Prepare
    await ledger.createBatch({ batchId: 'b-busy', source: SOURCE, createdAt: NOW });
    const later = '2026-11-22T10:30:00.000Z';

    // Act
    await ledger.noteActivity('b-busy', later);
    await ledger.noteActivity('b-never-created', later);

    // Assess
    const batch = await ledger.getBatch('b-busy');
    expect(batch?.lastActivityAt).toBe(later);
    expect(batch?.updatedAt).toBe(NOW);
    expect(batch?.counts.created).toBe(0);
    expect(await ledger.getBatch('b-never-created')).toBeNull();
  });
});
