import { ConditionalCheckFailedException, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { RunLease } from '../ports/run-lease.ts';
import { LEDGER_TTL_ATTRIBUTE } from './ledger-table.ts';

/**
 * Leases are items of the ledger table (pk = LEASE#<name>), taken by a conditional put and given
 * back by ending them now (an update, so the poller needs no DeleteItem on the ledger).
 */
export class DynamoDbRunLease implements RunLease {
  readonly #documents: DynamoDBDocumentClient;
  readonly #tableName: string;

  constructor(options: { client: DynamoDBClient; tableName: string }) {
    this.#documents = DynamoDBDocumentClient.from(options.client);
    this.#tableName = options.tableName;
  }

  async acquire(name: string, holder: string, nowMs: number, untilMs: number): Promise<boolean> {
    try {
      await this.#documents.send(
        new PutCommand({
          TableName: this.#tableName,
          Item: {
            ...keyOf(name),
            holder,
            heldUntilMs: untilMs,
            // The table's TTL sweeps a lease nobody gave back (in seconds, a day after it ended).
            [LEDGER_TTL_ATTRIBUTE]: Math.ceil(untilMs / 1000) + 86_400,
          },
          ConditionExpression: 'attribute_not_exists(pk) OR heldUntilMs < :now',
          ExpressionAttributeValues: { ':now': nowMs },
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }

  async release(name: string, holder: string): Promise<void> {
    try {
      await this.#documents.send(
        new UpdateCommand({
          TableName: this.#tableName,
          Key: keyOf(name),
          UpdateExpression: 'SET heldUntilMs = :ended',
          ConditionExpression: 'holder = :holder',
          ExpressionAttributeValues: { ':holder': holder, ':ended': 0 },
        }),
      );
    } catch (error) {
      // Its time ran out and another run holds it now: that one gives it back.
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
    }
  }
}

function keyOf(name: string): { pk: string; sk: string } {
  return { pk: `LEASE#${name}`, sk: 'LEASE' };
}
