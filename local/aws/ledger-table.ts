import {
  type AttributeDefinition,
  CreateTableCommand,
  DescribeTableCommand,
  type DynamoDBClient,
  type GlobalSecondaryIndex,
  ResourceInUseException,
  UpdateTableCommand,
  UpdateTimeToLiveCommand,
  waitUntilTableExists,
} from '@aws-sdk/client-dynamodb';
import {
  LEDGER_INDEXES,
  LEDGER_KEYS,
  LEDGER_TTL_ATTRIBUTE,
  type LedgerIndex,
} from '../../lambdas/adapters/ledger-table.ts';

export class LedgerTableError extends Error {
  override readonly name = 'LedgerTableError';
}

/** How long an index may take to build on an existing local ledger before we give up. */
const INDEX_BUILD_TIMEOUT_MS = 120_000;

/**
 * Creates the ledger table locally with the same keys and indexes as the stack's (both read
 * lambdas/adapters/ledger-table.ts). The local ledger persists between runs, so a table made by an
 * older version is upgraded instead: every index it lacks is added (UpdateTable, one at a time, as
 * DynamoDB allows) and waited for, so the code that queries it never meets a missing index.
 */
export async function ensureLedgerTable(
  client: DynamoDBClient,
  tableName: string,
  options: { sleep?: (ms: number) => Promise<void> } = {},
): Promise<void> {
  const sleep = options.sleep ?? ((ms: number) => new Promise((r) => setTimeout(r, ms)));
  const indexes = Object.values(LEDGER_INDEXES) as LedgerIndex[];
  try {
    await client.send(
      new CreateTableCommand({
        TableName: tableName,
        BillingMode: 'PAY_PER_REQUEST',
        KeySchema: [
          { AttributeName: LEDGER_KEYS.partitionKey, KeyType: 'HASH' },
          { AttributeName: LEDGER_KEYS.sortKey, KeyType: 'RANGE' },
        ],
        AttributeDefinitions: attributeDefinitions(indexes),
        GlobalSecondaryIndexes: indexes.map(indexDefinition),
      }),
    );
    await waitUntilTableExists({ client, maxWaitTime: 30 }, { TableName: tableName });
  } catch (error) {
    if (!(error instanceof ResourceInUseException)) throw error;
    await addMissingIndexes(client, tableName, indexes, sleep);
  }
  await enableTimeToLive(client, tableName);
}

async function addMissingIndexes(
  client: DynamoDBClient,
  tableName: string,
  indexes: LedgerIndex[],
  sleep: (ms: number) => Promise<void>,
): Promise<void> {
  const describe = async () =>
    (await client.send(new DescribeTableCommand({ TableName: tableName }))).Table;
  const present = new Set((await describe())?.GlobalSecondaryIndexes?.map((i) => i.IndexName));
  for (const index of indexes.filter((candidate) => !present.has(candidate.name))) {
    await client.send(
      new UpdateTableCommand({
        TableName: tableName,
        AttributeDefinitions: attributeDefinitions([index]),
        GlobalSecondaryIndexUpdates: [{ Create: indexDefinition(index) }],
      }),
    );
    // DynamoDB builds the index from the existing items; queries on it fail until it is ACTIVE.
    const deadline = Date.now() + INDEX_BUILD_TIMEOUT_MS;
    for (;;) {
      const table = await describe();
      const built = table?.GlobalSecondaryIndexes?.find((i) => i.IndexName === index.name);
      if (built?.IndexStatus === 'ACTIVE' && table?.TableStatus === 'ACTIVE') break;
      if (Date.now() > deadline) {
        throw new LedgerTableError(
          `the local ledger's index ${index.name} was still ${built?.IndexStatus ?? 'missing'} after ${INDEX_BUILD_TIMEOUT_MS / 1000} s: run again, or start from nothing with --fresh`,
        );
      }
      await sleep(100);
    }
  }
}

/** Webhook event ids expire on their own, as in AWS (the stack enables the same attribute). */
async function enableTimeToLive(client: DynamoDBClient, tableName: string): Promise<void> {
  try {
    await client.send(
      new UpdateTimeToLiveCommand({
        TableName: tableName,
        TimeToLiveSpecification: { AttributeName: LEDGER_TTL_ATTRIBUTE, Enabled: true },
      }),
    );
  } catch (error) {
    // Already enabled on a table from an earlier run: DynamoDB refuses to enable it twice.
    if (!(error instanceof Error && /already enabled/i.test(error.message))) throw error;
  }
}

function attributeDefinitions(indexes: LedgerIndex[]): AttributeDefinition[] {
  const definitions = new Map<string, AttributeDefinition>([
    [LEDGER_KEYS.partitionKey, { AttributeName: LEDGER_KEYS.partitionKey, AttributeType: 'S' }],
    [LEDGER_KEYS.sortKey, { AttributeName: LEDGER_KEYS.sortKey, AttributeType: 'S' }],
  ]);
  for (const index of indexes) {
    definitions.set(index.partitionKey, { AttributeName: index.partitionKey, AttributeType: 'S' });
    if (index.sortKey !== null && index.sortKeyType !== null) {
      definitions.set(index.sortKey, {
        AttributeName: index.sortKey,
        AttributeType: index.sortKeyType,
      });
    }
  }
  return [...definitions.values()];
}

function indexDefinition(index: LedgerIndex): GlobalSecondaryIndex {
  return {
    IndexName: index.name,
    KeySchema: [
      { AttributeName: index.partitionKey, KeyType: 'HASH' },
      ...(index.sortKey === null
        ? []
        : [{ AttributeName: index.sortKey, KeyType: 'RANGE' as const }]),
    ],
    Projection: index.projection
      ? { ProjectionType: 'INCLUDE', NonKeyAttributes: [...index.projection] }
      : { ProjectionType: 'ALL' },
  };
}
