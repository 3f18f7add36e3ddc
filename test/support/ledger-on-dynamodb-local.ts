/**
 * The ledger's table on DynamoDB Local (in memory): the stand-in every DynamoDB ledger integration
 * test starts in its beforeAll and stops in its afterAll.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDbLedger } from '../../lambdas/adapters/dynamodb-ledger.ts';
import { ensureLedgerTable } from '../../local/aws/ledger-table.ts';
import {
  localClientConfig,
  type RunningStandIn,
  startDynamoDbLocal,
} from '../../local/standins/index.ts';

type LedgerOptions = Omit<ConstructorParameters<typeof DynamoDbLedger>[0], 'client' | 'tableName'>;

export interface LedgerTable {
  dynamo: RunningStandIn;
  client: DynamoDBClient;
  tableName: string;
  /** A ledger on the table; options such as a fixed clock or a small campaign page as the test needs. */
  ledger(options?: LedgerOptions): DynamoDbLedger;
  /** Closes the client and stops DynamoDB Local. */
  stop(): Promise<void>;
}

export async function startLedgerTable(tableName = 'ledger'): Promise<LedgerTable> {
  const dynamo = await startDynamoDbLocal({ storage: 'memory' });
  const client = new DynamoDBClient(localClientConfig(dynamo.endpoint));
  try {
    await ensureLedgerTable(client, tableName);
  } catch (error) {
    client.destroy();
    await dynamo.stop();
    throw error;
  }
  return {
    dynamo,
    client,
    tableName,
    ledger: (options = {}) => new DynamoDbLedger({ ...options, client, tableName }),
    stop: async () => {
      client.destroy();
      await dynamo.stop();
    },
  };
}
