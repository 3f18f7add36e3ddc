import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ledgerDataDir,
  ledgerEndpointFile,
  liveLedgerEndpoint,
  openLocalLedger,
  recordLedgerEndpoint,
} from '../../local/runtime/local-ledger.ts';
import { type RunningDynamoDbLocal, startDynamoDbLocal } from '../../local/standins/index.ts';

describe('the local ledger for status and export', () => {
  let stateDir: string;

  beforeAll(async () => {
    stateDir = await mkdtemp(join(tmpdir(), 'gift-batch-local-ledger-'));
  });

  afterAll(async () => {
    await rm(stateDir, { recursive: true, force: true });
  });

  it('reads through the running pipeline’s DynamoDB Local while it is recorded and alive', async () => {
    // Prepare: a "run" holds DynamoDB Local open on the ledger directory
    await mkdir(ledgerDataDir(stateDir), { recursive: true });
    let running: RunningDynamoDbLocal | undefined;
    let forget: (() => Promise<void>) | undefined;
    try {
      running = await startDynamoDbLocal({ storage: { dataDir: ledgerDataDir(stateDir) } });
      forget = await recordLedgerEndpoint(stateDir, {
        endpoint: running.endpoint,
        pid: running.pid,
        ownerPid: process.pid,
        startedAt: new Date().toISOString(),
      });

      // Act
      const opened = await openLocalLedger(stateDir);
      const batches = await opened.ledger.listBatches().catch((error: Error) => error.name);
      await opened.stop();

      // Assess: no second server on the directory; its table was never created by us
      expect(opened.mode).toBe('shared');
      expect(batches).toBe('ResourceNotFoundException');
      expect(JSON.parse(await readFile(ledgerEndpointFile(stateDir), 'utf8')).pid).toBe(
        running.pid,
      );
    } finally {
      await forget?.();
      await running?.stop();
    }
    expect(await liveLedgerEndpoint(stateDir)).toBeNull();
  }, 60_000);

  it('starts a DynamoDB Local of its own when the recorded one is gone, and stops it after', async () => {
    // Prepare: a record left by a run that was killed
    await recordLedgerEndpoint(stateDir, {
      endpoint: 'http://127.0.0.1:9',
      pid: 2 ** 22 + 17, // above Linux's pid_max default: no such process
      ownerPid: process.pid,
      startedAt: new Date().toISOString(),
    });

    // Act
    const opened = await openLocalLedger(stateDir);
    const batches = await opened.ledger.listBatches();
    await opened.stop();

    // Assess
    expect(opened.mode).toBe('own');
    expect(batches).toEqual([]);
  }, 60_000);

  it('says there is no ledger under a state dir that never had a run', async () => {
    // Act / Assess
    await expect(openLocalLedger(join(stateDir, 'nothing'))).rejects.toThrow(
      /there is no local ledger under .*nothing: run "gift-batch run FILE" first/,
    );
  });
});
