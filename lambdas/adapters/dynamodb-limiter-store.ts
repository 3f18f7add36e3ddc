import { ConditionalCheckFailedException, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import type { LimiterState, LimiterStore } from '../ports/rate-limit.ts';

/** The fleet's rate-limit state: one item in the ledger table, written by compare-and-set. */
const KEY = { pk: 'LIMITER#andopen', sk: 'STATE' } as const;

export class DynamoDbLimiterStore implements LimiterStore {
  readonly #documents: DynamoDBDocumentClient;
  readonly #tableName: string;

  constructor(options: { client: DynamoDBClient; tableName: string }) {
    this.#documents = DynamoDBDocumentClient.from(options.client);
    this.#tableName = options.tableName;
  }

  async read(): Promise<LimiterState | null> {
    const { Item } = await this.#documents.send(
      new GetCommand({ TableName: this.#tableName, Key: KEY, ConsistentRead: true }),
    );
    if (!Item) return null;
    const { pk: _pk, sk: _sk, ...state } = Item;
    return state as LimiterState;
  }

  async write(state: LimiterState, expectedVersion: number | null): Promise<boolean> {
    try {
      await this.#documents.send(
        new PutCommand({
          TableName: this.#tableName,
          Item: { ...KEY, ...state },
          ...(expectedVersion === null
            ? { ConditionExpression: 'attribute_not_exists(pk)' }
            : {
                ConditionExpression: 'version = :expected',
                ExpressionAttributeValues: { ':expected': expectedVersion },
              }),
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }
}
