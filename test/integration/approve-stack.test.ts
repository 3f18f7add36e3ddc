import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoDbLedger } from '../../lambdas/adapters/dynamodb-ledger.ts';
import { ensureLedgerTable } from '../../local/aws/ledger-table.ts';
import { StackSettingsError } from '../../local/aws/stack-outputs.ts';
import {
  approveBatch,
  EXIT_APPROVED,
  EXIT_FAILED,
  EXIT_NOT_APPROVED,
  EXIT_NOT_FOUND,
  EXIT_NOT_WAITING,
} from '../../local/cli/commands/approve.ts';
import type { StackAccess } from '../../local/cli/ledger-source.ts';
import {
  localClientConfig,
  type RunningStandIn,
  startDynamoDbLocal,
} from '../../local/standins/index.ts';

const TABLE = 'GiftBatch-Ledger-TEST';
const CREATED = '2026-11-22T09:00:00.000Z';

/** What a person sees: stdout and stderr, and the questions put to them. */
function screen(answer: string | null = null) {
  const seen = { stdout: '', stderr: '', asked: [] as string[] };
  return {
    seen,
    output: {
      stdout: { write: (text: string) => (seen.stdout += text) },
      stderr: { write: (text: string) => (seen.stderr += text) },
      ...(answer === null
        ? {}
        : {
            ask: async (question: string) => {
              seen.asked.push(question);
              return answer;
            },
          }),
    },
  };
}

/**
 * `gift-batch approve --stack NAME` without AWS: the stack's outputs come from an injected reader
 * (as DescribeStacks would give them) and its ledger table lives in DynamoDB Local.
 */
describe('gift-batch approve --stack', () => {
  let dynamo: RunningStandIn;
  let client: DynamoDBClient;
  let ledger: DynamoDbLedger;
  let stackAccess: StackAccess;
  const stacksRead: string[] = [];

  async function heldBatch(batchId: string): Promise<void> {
    await ledger.createBatch({
      batchId,
      source: {
        description: `s3://uploads/uploads/${batchId}.csv`,
        bucket: 'u',
        key: 'k',
        versionOrEtag: null,
      },
      createdAt: CREATED,
    });
    await ledger.putRows(
      [1, 2, 3].map((row) => ({
        batchId,
        row,
        line: row + 1,
        state: 'pending' as const,
        echo: {
          externalId: `E${row}`,
          campaignId: 'c',
          firstName: 'A',
          lastName: 'B',
          email: null,
        },
        body: { campaign_id: 'c', recipient: { first_name: 'A', last_name: 'B' } },
        errors: [],
      })),
    );
    await ledger.completeSplit(batchId, { rows: 3, valid: 3, invalid: 0 }, null, {
      awaitApproval: '3 rows, over the approval limit of 2; the preflight found 1 problem',
      preflight: {
        checkedAt: CREATED,
        campaigns: 1,
        findings: 1,
        byKind: { 'archived-campaign': 1 },
        messages: ['campaign c (Holiday 2025) is archived: 3 rows (rows 1-3) would be rejected'],
      },
    });
  }

  beforeAll(async () => {
    dynamo = await startDynamoDbLocal({ storage: 'memory' });
    client = new DynamoDBClient(localClientConfig(dynamo.endpoint));
    await ensureLedgerTable(client, TABLE);
    ledger = new DynamoDbLedger({ client, tableName: TABLE });
    stackAccess = {
      readStack: async (stackName) => {
        stacksRead.push(stackName);
        if (stackName !== 'GiftBatch')
          throw new StackSettingsError(`there is no stack ${stackName}`);
        return { stackName, ledgerTable: TABLE, resultsBucket: 'results-1', region: 'eu-west-1' };
      },
      dynamoDb: localClientConfig(dynamo.endpoint),
    };
  }, 60_000);

  afterAll(async () => {
    client?.destroy();
    await dynamo?.stop();
  });

  it('shows what it approves, approves on --yes in the stack’s table, and says the poller sends it', async () => {
    // Prepare
    await heldBatch('staff-aaaa');
    const { seen, output } = screen();

    // Act
    const code = await approveBatch('staff-aaaa', { stack: 'GiftBatch', yes: true }, output, {
      stackAccess,
    });

    // Assess
    expect(code).toBe(EXIT_APPROVED);
    expect(stacksRead).toContain('GiftBatch');
    expect(seen.stdout).toContain('batch staff-aaaa waits for approval');
    expect(seen.stdout).toContain(
      '3 rows, over the approval limit of 2; the preflight found 1 problem',
    );
    expect(seen.stdout).toContain(
      'campaign c (Holiday 2025) is archived: 3 rows (rows 1-3) would be rejected',
    );
    expect(seen.stdout).toContain('sending starts within a minute');
    expect(seen.stdout).toContain('gift-batch status staff-aaaa --stack GiftBatch');
    expect((await ledger.getBatch('staff-aaaa'))?.phase).toBe('approved');
  });

  it('approving twice says it is approved already, with its own exit code', async () => {
    // Prepare
    await heldBatch('staff-bbbb');
    await approveBatch('staff-bbbb', { stack: 'GiftBatch', yes: true }, screen().output, {
      stackAccess,
    });
    const { seen, output } = screen();

    // Act
    const code = await approveBatch('staff-bbbb', { stack: 'GiftBatch', yes: true }, output, {
      stackAccess,
    });

    // Assess
    expect(code).toBe(EXIT_NOT_WAITING);
    expect(seen.stderr).toBe(
      'gift-batch approve: batch staff-bbbb is already approved: the poller starts sending it within a minute\n',
    );
  });

  it('asks on a terminal and approves nothing on a no, or without a terminal and --yes', async () => {
    // Prepare
    await heldBatch('staff-cccc');
    const declined = screen('n');
    const noTerminal = screen();
    const accepted = screen('y');

    // Act
    const no = await approveBatch('staff-cccc', { stack: 'GiftBatch' }, declined.output, {
      stackAccess,
    });
    const unasked = await approveBatch('staff-cccc', { stack: 'GiftBatch' }, noTerminal.output, {
      stackAccess,
    });
    const phaseBefore = (await ledger.getBatch('staff-cccc'))?.phase;
    const yes = await approveBatch('staff-cccc', { stack: 'GiftBatch' }, accepted.output, {
      stackAccess,
    });

    // Assess
    expect(declined.seen.asked).toEqual([
      'approve batch staff-cccc and send its 3 valid rows? [y/N] ',
    ]);
    expect(no).toBe(EXIT_NOT_APPROVED);
    expect(unasked).toBe(EXIT_NOT_APPROVED);
    expect(noTerminal.seen.stderr).toContain('not without a yes: nothing was approved');
    expect(phaseBefore).toBe('awaiting-approval');
    expect(yes).toBe(EXIT_APPROVED);
    expect((await ledger.getBatch('staff-cccc'))?.phase).toBe('approved');
  });

  it('names a batch the stack does not have, a batch that never waited, and a stack that is not there', async () => {
    // Prepare
    await ledger.createBatch({
      batchId: 'plain',
      source: { description: 's3://u/k', bucket: 'u', key: 'k', versionOrEtag: null },
      createdAt: CREATED,
    });
    await ledger.completeSplit('plain', { rows: 0, valid: 0, invalid: 0 }, null);
    const missing = screen();
    const plain = screen();
    const noStack = screen();

    // Act
    const missingCode = await approveBatch(
      'nope',
      { stack: 'GiftBatch', yes: true },
      missing.output,
      {
        stackAccess,
      },
    );
    const plainCode = await approveBatch('plain', { stack: 'GiftBatch', yes: true }, plain.output, {
      stackAccess,
    });
    const noStackCode = await approveBatch('plain', { stack: 'Other', yes: true }, noStack.output, {
      stackAccess,
    });

    // Assess
    expect(missingCode).toBe(EXIT_NOT_FOUND);
    expect(missing.seen.stderr).toContain(
      `there is no batch nope in stack GiftBatch (table ${TABLE})`,
    );
    expect(plainCode).toBe(EXIT_NOT_WAITING);
    expect(plain.seen.stderr).toMatch(
      /batch plain is not waiting for approval: it is (sending|complete)/,
    );
    expect(noStackCode).toBe(EXIT_FAILED);
    expect(noStack.seen.stderr).toBe('gift-batch approve: there is no stack Other\n');
  });
});
