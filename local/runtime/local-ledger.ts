import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDbLedger } from '../../lambdas/adapters/dynamodb-ledger.ts';
import { DynamoDbLimiterStore } from '../../lambdas/adapters/dynamodb-limiter-store.ts';
import { ensureLedgerTable } from '../aws/ledger-table.ts';
import { localClientConfig, startDynamoDbLocal } from '../standins/index.ts';

/** The local ledger table's name (the pipeline creates it; status and export read it). */
export const LOCAL_LEDGER_TABLE = 'gift-batch-ledger';

/**
 * What a running `gift-batch run` leaves in its state dir while DynamoDB Local is open on the ledger:
 * two DynamoDB Local processes on one data directory are not safe, so `status` and `export` use this
 * one while it lives instead of starting their own.
 */
export interface LedgerEndpointRecord {
  endpoint: string;
  /** The DynamoDB Local process serving the ledger. */
  pid: number;
  /** The gift-batch process that started it. */
  ownerPid: number;
  startedAt: string;
}

export class LocalLedgerError extends Error {
  override readonly name = 'LocalLedgerError';
}

export const ledgerEndpointFile = (stateDir: string): string =>
  join(stateDir, 'ledger-endpoint.json');
export const ledgerDataDir = (stateDir: string): string => join(stateDir, 'ledger');

/** Records the endpoint; the returned function removes the record (call it on stop). */
export async function recordLedgerEndpoint(
  stateDir: string,
  record: LedgerEndpointRecord,
): Promise<() => Promise<void>> {
  const file = ledgerEndpointFile(stateDir);
  await mkdir(stateDir, { recursive: true });
  await writeFile(file, `${JSON.stringify(record, null, 2)}\n`);
  return async () => {
    // Only our own record: a later run may have written its own since.
    const current = await readLedgerEndpoint(stateDir);
    if (current?.pid === record.pid) await rm(file, { force: true });
  };
}

/** The recorded endpoint when the processes behind it are still alive; null otherwise. */
export async function liveLedgerEndpoint(stateDir: string): Promise<LedgerEndpointRecord | null> {
  const record = await readLedgerEndpoint(stateDir);
  if (!record || !isAlive(record.pid) || !isAlive(record.ownerPid)) return null;
  return record;
}

async function readLedgerEndpoint(stateDir: string): Promise<LedgerEndpointRecord | null> {
  try {
    const record = JSON.parse(await readFile(ledgerEndpointFile(stateDir), 'utf8')) as unknown;
    if (
      typeof record === 'object' &&
      record !== null &&
      typeof (record as LedgerEndpointRecord).endpoint === 'string' &&
      Number.isInteger((record as LedgerEndpointRecord).pid) &&
      Number.isInteger((record as LedgerEndpointRecord).ownerPid)
    ) {
      return record as LedgerEndpointRecord;
    }
    return null;
  } catch {
    return null;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0); // signal 0: asks whether the process exists, sends nothing
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export interface OpenLedger {
  ledger: DynamoDbLedger;
  limiterStore: DynamoDbLimiterStore;
  /** `shared` when a running `gift-batch run` serves the ledger; `own` when started for this call. */
  mode: 'shared' | 'own';
  stop(): Promise<void>;
}

/**
 * Opens the persistent local ledger under a state dir for reading (and `export --refresh` updates):
 * through the running pipeline's DynamoDB Local when one is recorded and alive, otherwise through a
 * DynamoDB Local of its own on the directory (only DynamoDB: no S3, SQS or sandbox), stopped after.
 */
export async function openLocalLedger(stateDir: string): Promise<OpenLedger> {
  const dataDir = ledgerDataDir(stateDir);
  if (!existsSync(dataDir)) {
    throw new LocalLedgerError(
      `there is no local ledger under ${stateDir}: run "gift-batch run FILE" first, or pass --state-dir`,
    );
  }
  const live = await liveLedgerEndpoint(stateDir);
  const server = live ? null : await startDynamoDbLocal({ storage: { dataDir } });
  const endpoint = live?.endpoint ?? (server?.endpoint as string);
  const client = new DynamoDBClient(localClientConfig(endpoint));
  // A ledger directory from an interrupted first run may hold no table yet: an empty ledger, not an error.
  if (server) {
    try {
      await ensureLedgerTable(client, LOCAL_LEDGER_TABLE);
    } catch (error) {
      client.destroy();
      await server.stop();
      throw error;
    }
  }
  return {
    ledger: new DynamoDbLedger({ client, tableName: LOCAL_LEDGER_TABLE }),
    limiterStore: new DynamoDbLimiterStore({ client, tableName: LOCAL_LEDGER_TABLE }),
    mode: live ? 'shared' : 'own',
    stop: async () => {
      client.destroy();
      await server?.stop();
    },
  };
}
