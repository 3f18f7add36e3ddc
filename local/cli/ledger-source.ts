import { resolve } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDbLedger } from '../../lambdas/adapters/dynamodb-ledger.ts';
import { DynamoDbLimiterStore } from '../../lambdas/adapters/dynamodb-limiter-store.ts';
import type { Ledger } from '../../lambdas/ports/ledger.ts';
import type { LimiterStore } from '../../lambdas/ports/rate-limit.ts';
import { readStackSettings } from '../aws/stack-outputs.ts';
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

/** The ledger `status` and `export` read: the local one under --state-dir, or a stack's table. */
export async function openLedgerSource(options: LedgerSourceOptions): Promise<LedgerSource> {
  if (options.stack) {
    const settings = await readStackSettings(options.stack);
    const client = new DynamoDBClient({});
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
