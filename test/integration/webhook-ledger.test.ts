import {
  CreateTableCommand,
  DescribeTableCommand,
  DescribeTimeToLiveCommand,
  type DynamoDBClient,
  waitUntilTableExists,
} from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoDbLedger } from '../../lambdas/adapters/dynamodb-ledger.ts';
import { LEDGER_INDEXES } from '../../lambdas/adapters/ledger-table.ts';
import type { GiftEventRecord } from '../../lambdas/ports/ledger.ts';
import { ensureLedgerTable } from '../../local/aws/ledger-table.ts';
import { type LedgerTable, startLedgerTable } from '../support/ledger-on-dynamodb-local.ts';

const NOW = '2026-11-22T10:00:00.000Z';
const T0 = Date.parse(NOW);

/** A created row, as the sender leaves it: followed by the poller, no URL yet. */
async function createdRow(ledger: DynamoDbLedger, batchId: string, giftId: string): Promise<void> {
  await ledger.createBatch({
    batchId,
    source: { description: 'test', bucket: null, key: null, versionOrEtag: null },
    createdAt: NOW,
  });
  await ledger.putRows([
    {
      batchId,
      row: 1,
      line: 2,
      state: 'pending',
      echo: { externalId: 'E1', campaignId: 'c', firstName: 'A', lastName: 'B', email: null },
      body: { campaign_id: 'c', recipient: { first_name: 'A', last_name: 'B' } },
      errors: [],
    },
  ]);
  await ledger.claimRow(batchId, 1, NOW);
  await ledger.recordSend(
    batchId,
    1,
    {
      state: 'created',
      requestId: 'req_post',
      giftRequestId: giftId,
      giftStatus: 'submitted',
      redemptionUrl: null,
      giftCreatedAt: NOW,
      giftUpdatedAt: NOW,
      pollDueAt: T0 + 60_000,
      pollDeadlineAt: T0 + 30 * 60_000,
    },
    NOW,
  );
}

function urlEvent(batchId: string, eventId: string): GiftEventRecord {
  return {
    eventId,
    eventType: 'gift_request.updated',
    expiresAt: Math.floor(T0 / 1000) + 3600,
    batchId,
    row: 1,
    seen: { giftStatus: 'submitted', redemptionUrl: null, giftUpdatedAt: NOW, following: true },
    change: {
      giftStatus: 'submitted',
      redemptionUrl: 'https://gift.example/r/1',
      giftUpdatedAt: '2026-11-22T10:00:01.500Z',
      settles: true,
    },
  };
}

describe('the ledger and signed webhooks, on DynamoDB Local', () => {
  let table: LedgerTable;
  let client: DynamoDBClient;
  let ledger: DynamoDbLedger;

  beforeAll(async () => {
    table = await startLedgerTable();
    client = table.client;
    ledger = table.ledger();
  }, 60_000);

  afterAll(async () => {
    await table?.stop();
  });

  it('finds a created row by its gift request id, and nothing for an id it never created', async () => {
    // Prepare
    await createdRow(ledger, 'b-find', 'gift-find');

    // Act
    const found = await ledger.findGift('gift-find');
    const missing = await ledger.findGift('gift-of-someone-else');

    // Assess
    expect(found).toEqual({
      batchId: 'b-find',
      row: 1,
      state: 'created',
      giftStatus: 'submitted',
      redemptionUrl: null,
      giftUpdatedAt: NOW,
      following: true,
    });
    expect(missing).toBeNull();
  });

  it('records the event and the row change together: URL kept, polling stopped, batch settled', async () => {
    // Prepare
    await createdRow(ledger, 'b-apply', 'gift-apply');

    // Act
    const result = await ledger.recordGiftEvent(urlEvent('b-apply', 'evt-apply'), NOW);

    // Assess
    expect(result).toBe('recorded');
    const row = await ledger.getRow('b-apply', 1);
    expect(row).toMatchObject({
      redemptionUrl: 'https://gift.example/r/1',
      giftUpdatedAt: '2026-11-22T10:00:01.500Z',
      pollDueAt: null,
    });
    expect((await ledger.getBatch('b-apply'))?.counts.settled).toBe(1);
    const due = await ledger.rowsDueForPolling(T0 + 3_600_000, 100);
    expect(due.map((r) => r.batchId)).not.toContain('b-apply');
    const documents = DynamoDBDocumentClient.from(client);
    const { Item } = await documents.send(
      new GetCommand({ TableName: 'ledger', Key: { pk: 'WEBHOOK#evt-apply', sk: 'EVENT' } }),
    );
    expect(Item?.expiresAt).toBe(Math.floor(T0 / 1000) + 3600);
  });

  it('refuses a repeated event id as a duplicate and changes nothing the second time', async () => {
    // Prepare
    await createdRow(ledger, 'b-dup', 'gift-dup');
    await ledger.recordGiftEvent(urlEvent('b-dup', 'evt-dup'), NOW);

    // Act
    const again = await ledger.recordGiftEvent(urlEvent('b-dup', 'evt-dup'), NOW);

    // Assess
    expect(again).toBe('duplicate');
    expect((await ledger.getBatch('b-dup'))?.counts.settled).toBe(1);
  });

  it('writes nothing when the row changed since it was read (conflict), not even the event id', async () => {
    // Prepare
    await createdRow(ledger, 'b-race', 'gift-race');
    await ledger.updateGift(
      'b-race',
      1,
      {
        giftStatus: 'submitted',
        redemptionUrl: 'https://gift.example/r/1',
        giftUpdatedAt: '2026-11-22T10:00:01.500Z',
        requestId: 'req_get',
        pollDueAt: null,
      },
      NOW,
    );

    // Act
    const result = await ledger.recordGiftEvent(urlEvent('b-race', 'evt-race'), NOW);
    const retried = await ledger.recordGiftEvent(
      { ...urlEvent('b-race', 'evt-race'), change: null },
      NOW,
    );

    // Assess
    expect(result).toBe('conflict');
    expect(retried).toBe('recorded');
    expect((await ledger.getBatch('b-race'))?.counts.settled).toBe(0);
  });

  it('keeps news of a gift no row holds yet, newest kept, outside the gift request index', async () => {
    // Prepare
    const news = {
      giftRequestId: 'gift-early',
      giftStatus: 'submitted',
      redemptionUrl: 'https://gift.example/r/early',
      giftUpdatedAt: '2026-11-22T10:00:01.500Z',
      expiresAt: Math.floor(T0 / 1000) + 86_400,
    };

    // Act
    await ledger.keepUnmatchedNews(news, NOW);
    await ledger.keepUnmatchedNews(
      { ...news, redemptionUrl: null, giftUpdatedAt: '2026-11-22T10:00:00.000Z' },
      NOW,
    );

    // Assess
    expect(await ledger.unmatchedNews('gift-early')).toEqual(news);
    expect(await ledger.findGift('gift-early')).toBeNull();
    expect(await ledger.unmatchedNews('gift-never-heard-of')).toBeNull();
  });

  it('upgrades a ledger made before the gift request index: adds it, fills it, enables TTL', async () => {
    // Prepare: the table as the previous version created it, with a created row already in it.
    const older = Object.values(LEDGER_INDEXES).filter((index) => index.name !== 'byGiftRequest');
    await client.send(
      new CreateTableCommand({
        TableName: 'older-ledger',
        BillingMode: 'PAY_PER_REQUEST',
        KeySchema: [
          { AttributeName: 'pk', KeyType: 'HASH' },
          { AttributeName: 'sk', KeyType: 'RANGE' },
        ],
        AttributeDefinitions: [
          { AttributeName: 'pk', AttributeType: 'S' },
          { AttributeName: 'sk', AttributeType: 'S' },
          ...older.flatMap((index) => [
            { AttributeName: index.partitionKey, AttributeType: 'S' as const },
            { AttributeName: String(index.sortKey), AttributeType: index.sortKeyType ?? 'S' },
          ]),
        ],
        GlobalSecondaryIndexes: older.map((index) => ({
          IndexName: index.name,
          KeySchema: [
            { AttributeName: index.partitionKey, KeyType: 'HASH' as const },
            { AttributeName: String(index.sortKey), KeyType: 'RANGE' as const },
          ],
          Projection: { ProjectionType: 'ALL' as const },
        })),
      }),
    );
    await waitUntilTableExists({ client, maxWaitTime: 30 }, { TableName: 'older-ledger' });
    const olderLedger = new DynamoDbLedger({ client, tableName: 'older-ledger' });
    await createdRow(olderLedger, 'b-old', 'gift-old');

    // Act
    await ensureLedgerTable(client, 'older-ledger');
    await ensureLedgerTable(client, 'older-ledger'); // the next run: nothing left to do

    // Assess
    const { Table } = await client.send(new DescribeTableCommand({ TableName: 'older-ledger' }));
    const index = Table?.GlobalSecondaryIndexes?.find((i) => i.IndexName === 'byGiftRequest');
    expect(index?.IndexStatus).toBe('ACTIVE');
    expect(index?.KeySchema).toEqual([{ AttributeName: 'giftRequestId', KeyType: 'HASH' }]);
    expect(await olderLedger.findGift('gift-old')).toMatchObject({ batchId: 'b-old', row: 1 });
    const ttl = await client.send(new DescribeTimeToLiveCommand({ TableName: 'older-ledger' }));
    expect(ttl.TimeToLiveDescription).toMatchObject({
      AttributeName: 'expiresAt',
      TimeToLiveStatus: 'ENABLED',
    });
  }, 60_000);
});
