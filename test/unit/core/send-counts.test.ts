import { describe, expect, it } from 'vitest';
import { CountsByBatch, retryDelaySeconds } from '../../../lambdas/core/send-counts.ts';
import { InMemoryLedger } from '../../support/in-memory-ledger.ts';

const retry = (
  reason: 'throttled' | 'batch-stopped' | 'unavailable',
  retryAfterMs: number | null,
) => ({ kind: 'retry', reason, retryAfterMs, detail: '' }) as const;

describe('retryDelaySeconds', () => {
  it('waits exactly the Retry-After, in whole seconds, within what SQS allows', () => {
    // Act & Assess
    expect(retryDelaySeconds(retry('throttled', 1_200))).toBe(2);
    expect(retryDelaySeconds(retry('unavailable', 3_600_000))).toBe(900);
  });

  it('looks again at a stopped batch only every 15 minutes', () => {
    // Act & Assess
    expect(retryDelaySeconds(retry('batch-stopped', null))).toBe(900);
  });
});

describe('CountsByBatch', () => {
  it('writes one counter update per batch, however many rows it saw', async () => {
    // Prepare
    const ledger = new InMemoryLedger();
    const source = { description: 't', bucket: null, key: null, versionOrEtag: null };
    await ledger.createBatch({ batchId: 'a', source, createdAt: 'x' });
    await ledger.createBatch({ batchId: 'b', source, createdAt: 'x' });
    const writes: string[] = [];
    const add = ledger.addToCounts.bind(ledger);
    ledger.addToCounts = async (batchId, delta, now) => {
      writes.push(batchId);
      await add(batchId, delta, now);
    };
    const counts = new CountsByBatch();

    // Act
    for (let row = 0; row < 5; row += 1) {
      counts.add('a', { kind: 'done', state: 'created', detail: '', settled: row % 2 === 0 });
    }
    counts.add('b', { kind: 'done', state: 'rejected', detail: '' });
    counts.add('b', { kind: 'done', state: 'skipped', detail: '' });
    await counts.flush(ledger, 'now');

    // Assess
    expect(writes).toEqual(['a', 'b']);
    expect((await ledger.getBatch('a'))?.counts).toMatchObject({ created: 5, settled: 3 });
    expect((await ledger.getBatch('b'))?.counts).toMatchObject({ rejected: 1, created: 0 });
  });
});
