import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoDbRunLease } from '../../lambdas/adapters/dynamodb-run-lease.ts';
import { ensureLedgerTable } from '../../local/aws/ledger-table.ts';
import {
  localClientConfig,
  type RunningStandIn,
  startDynamoDbLocal,
} from '../../local/standins/index.ts';

const T0 = Date.parse('2026-11-22T10:00:00.000Z');

describe('DynamoDbRunLease on DynamoDB Local', () => {
  let dynamo: RunningStandIn;
  let client: DynamoDBClient;
  let lease: DynamoDbRunLease;

  beforeAll(async () => {
    dynamo = await startDynamoDbLocal({ storage: 'memory' });
    client = new DynamoDBClient(localClientConfig(dynamo.endpoint));
    await ensureLedgerTable(client, 'ledger');
    lease = new DynamoDbRunLease({ client, tableName: 'ledger' });
  });

  afterAll(async () => {
    client?.destroy();
    await dynamo?.stop();
  });

  it('lets one of two runs that start at once hold it', async () => {
    // Act
    const taken = await Promise.all(
      ['a', 'b', 'c'].map((holder) => lease.acquire('at-once', holder, T0, T0 + 300_000)),
    );

    // Assess
    expect(taken.filter(Boolean)).toHaveLength(1);
  });

  it('keeps others out until it is given back or its time has passed', async () => {
    // Prepare
    expect(await lease.acquire('poller', 'a', T0, T0 + 300_000)).toBe(true);

    // Act and assess: while held, only its end lets another in.
    expect(await lease.acquire('poller', 'b', T0 + 60_000, T0 + 360_000)).toBe(false);
    await lease.release('poller', 'b'); // not b's to give back: nothing happens
    expect(await lease.acquire('poller', 'c', T0 + 61_000, T0 + 361_000)).toBe(false);
    await lease.release('poller', 'a');
    expect(await lease.acquire('poller', 'c', T0 + 62_000, T0 + 362_000)).toBe(true);
    // c died without giving it back: the next run gets in once c could no longer be alive.
    expect(await lease.acquire('poller', 'd', T0 + 361_000, T0 + 661_000)).toBe(false);
    expect(await lease.acquire('poller', 'd', T0 + 362_001, T0 + 662_001)).toBe(true);
  });
});
