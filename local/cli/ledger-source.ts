import { resolve } from 'node:path';
import { DynamoDBClient, type DynamoDBClientConfig } from '@aws-sdk/client-dynamodb';
import { DynamoDbLedger } from '../../lambdas/adapters/dynamodb-ledger.ts';
import { DynamoDbLimiterStore } from '../../lambdas/adapters/dynamodb-limiter-store.ts';
import type { Ledger } from '../../lambdas/ports/ledger.ts';
import type { LimiterStore } from '../../lambdas/ports/rate-limit.ts';
import { readStackSettings, type StackSettings } from '../aws/stack-outputs.ts';
import { openLocalLedger } from '../runtime/local-ledger.ts';

export interface LedgerSourceOptions {
  stateDir?: string;
  /** A deployed stack: its ledger table, read with the user's own AWS credentials. */
  stack?: string;
}

export interface LedgerSource {
  ledger: Ledger;
  limiterStore: LimiterStore;
  /** For messages: the state dir or the stack. */
  where: string;
  /** The deployed stack's results bucket, when reading a stack. */
  resultsBucket: string | null;
  stop(): Promise<void>;
}

/**
 * How a stack is reached: its outputs (DescribeStacks with the user's credentials) and the DynamoDB
 * client config (the user's). Tests give a stand-in's instead.
 */
export interface StackAccess {
  readStack(stackName: string): Promise<StackSettings>;
  dynamoDb: DynamoDBClientConfig;
}

const USERS_AWS: StackAccess = { readStack: (name) => readStackSettings(name), dynamoDb: {} };

/**
 * The ledger `status`, `export` and `approve` read: the local one under --state-dir, or a stack's
 * table.
 */
export async function openLedgerSource(
  options: LedgerSourceOptions,
  stackAccess: StackAccess = USERS_AWS,
): Promise<LedgerSource> {
  if (options.stack) {
    const settings = await stackAccess.readStack(options.stack);
    const client = new DynamoDBClient(stackAccess.dynamoDb);
    return {
      ledger: new DynamoDbLedger({ client, tableName: settings.ledgerTable }),
      limiterStore: new DynamoDbLimiterStore({ client, tableName: settings.ledgerTable }),
      where: `stack ${settings.stackName} (table ${settings.ledgerTable})`,
      resultsBucket: settings.resultsBucket,
      stop: async () => client.destroy(),
    };
  }
  const stateDir = resolve(options.stateDir ?? '.gift-batch');
  const local = await openLocalLedger(stateDir);
  return {
    ledger: local.ledger,
    limiterStore: local.limiterStore,
    where: stateDir,
    resultsBucket: null,
    stop: local.stop,
  };
}

export function oneLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.split('\n')[0] ?? 'failed';
}

/** The command that approves a held batch, for the ledger it was read from. */
export function approveCommandFor(batchId: string, options: LedgerSourceOptions): string {
  const words = ['gift-batch', 'approve', batchId];
  if (options.stack) words.push('--stack', options.stack);
  else if (options.stateDir) words.push('--state-dir', options.stateDir);
  return words.map(shellWord).join(' ');
}

/** A word as a shell reads it back: quoted only when it has to be. */
export function shellWord(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", "'\\''")}'`;
}
