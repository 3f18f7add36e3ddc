import {
  CreateTableCommand,
  type DynamoDBClient,
  ResourceInUseException,
  waitUntilTableExists,
} from '@aws-sdk/client-dynamodb';
import { LEDGER_INDEXES, LEDGER_KEYS } from '../../lambdas/adapters/ledger-table.ts';

/**
 * Creates the ledger table locally with the same keys and indexes as the stack's (both read
 * lambdas/adapters/ledger-table.ts). Does nothing when it exists: the local ledger persists between runs.
 */
export async function ensureLedgerTable(client: DynamoDBClient, tableName: string): Promise<void> {
  const indexes = Object.values(LEDGER_INDEXES);
  try {
    await client.send(
      new CreateTableCommand({
        TableName: tableName,
        BillingMode: 'PAY_PER_REQUEST',
        KeySchema: [
          { AttributeName: LEDGER_KEYS.partitionKey, KeyType: 'HASH' },
          { AttributeName: LEDGER_KEYS.sortKey, KeyType: 'RANGE' },
        ],
        AttributeDefinitions: [
          { AttributeName: LEDGER_KEYS.partitionKey, AttributeType: 'S' },
          { AttributeName: LEDGER_KEYS.sortKey, AttributeType: 'S' },
          ...indexes.flatMap((index) => [
            { AttributeName: index.partitionKey, AttributeType: 'S' as const },
            { AttributeName: index.sortKey, AttributeType: index.sortKeyType },
          ]),
        ],
        GlobalSecondaryIndexes: indexes.map((index) => ({
          IndexName: index.name,
          KeySchema: [
            { AttributeName: index.partitionKey, KeyType: 'HASH' as const },
            { AttributeName: index.sortKey, KeyType: 'RANGE' as const },
          ],
          Projection: { ProjectionType: 'ALL' as const },
        })),
      }),
    );
  } catch (error) {
    if (error instanceof ResourceInUseException) return;
    throw error;
  }
  await waitUntilTableExists({ client, maxWaitTime: 30 }, { TableName: tableName });
}
