import { describe, expect, it } from 'vitest';
import {
  BatchActivity,
  CountsByBatch,
  retryDelaySeconds,
} from '../../../lambdas/core/send-counts.ts';
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

  it('counts a late answer that replaced a guessed unknown once, taking the guess back', async () => {
    // Prepare: a redelivery guessed `unknown` (and counted it) in one invocation; the original
    // sender's answer then replaced that guess in another.
    const ledger = new InMemoryLedger();
    const source = { description: 't', bucket: null, key: null, versionOrEtag: null };
    await ledger.createBatch({ batchId: 'a', source, createdAt: 'x' });
    const redelivery = new CountsByBatch();
    const original = new CountsByBatch();

    // Act
    redelivery.add('a', { kind: 'done', state: 'unknown', detail: '', movedFrom: 'sending' });
    original.add('a', {
      kind: 'done',
      state: 'created',
      detail: '',
      settled: true,
      movedFrom: 'unknown',
    });
    await redelivery.flush(ledger, 'now');
    await original.flush(ledger, 'now');

    // Assess
    expect((await ledger.getBatch('a'))?.counts).toMatchObject({
      created: 1,
      unknown: 0,
      settled: 1,
    });
  });

  it('takes a guessed unknown back when the answer put the row back to pending', async () => {
    // Prepare
    const ledger = new InMemoryLedger();
    const source = { description: 't', bucket: null, key: null, versionOrEtag: null };
    await ledger.createBatch({ batchId: 'a', source, createdAt: 'x' });
    const counts = new CountsByBatch();

    // Act
    counts.add('a', { kind: 'done', state: 'unknown', detail: '', movedFrom: 'sending' });
    counts.add('a', {
      kind: 'retry',
      reason: 'throttled',
      retryAfterMs: 1_000,
      detail: '',
      movedFrom: 'unknown',
    });
    await counts.flush(ledger, 'now');

    // Assess
    expect((await ledger.getBatch('a'))?.counts.unknown).toBe(0);
  });

  it('counts nothing for an answer the ledger did not record, and writes nothing for it', async () => {
    // Prepare
    const ledger = new InMemoryLedger();
    const source = { description: 't', bucket: null, key: null, versionOrEtag: null };
    await ledger.createBatch({ batchId: 'a', source, createdAt: 'x' });
    const writes: string[] = [];
    const add = ledger.addToCounts.bind(ledger);
    ledger.addToCounts = async (batchId, delta, now) => {
      writes.push(batchId);
      await add(batchId, delta, now);
    };
    const counts = new CountsByBatch();

    // Act
    counts.add('a', { kind: 'done', state: 'created', detail: '', settled: true, movedFrom: null });
    counts.add('a', { kind: 'retry', reason: 'throttled', retryAfterMs: null, detail: '' });
    await counts.flush(ledger, 'now');

    // Assess
    expect(writes).toEqual([]);
    expect((await ledger.getBatch('a'))?.counts).toMatchObject({ created: 0, settled: 0 });
  });
});

describe('BatchActivity', () => {
  it('marks a batch whose rows only waited as active, at most once a minute per process', async () => {
    // Prepare: one sender process; its invocations re-queue throttled rows of batch `a` for 3
    // minutes, while batch `b` decides a row (its counter write is news enough) and batch `c`
    // waits for a person (stopped).
    const T0 = Date.parse('2026-11-22T10:00:00.000Z');
    const ledger = new InMemoryLedger();
    const source = { description: 't', bucket: null, key: null, versionOrEtag: null };
    for (const batchId of ['a', 'b', 'c']) {
      await ledger.createBatch({ batchId, source, createdAt: 'x' });
    }
    const marks: string[] = [];
    ledger.noteActivity = async (batchId, now) => {
      marks.push(`${batchId}@${now}`);
    };
    const clock = { nowMs: T0, now: () => clock.nowMs };
    const activity = new BatchActivity(clock);

    // Act: an invocation every 20 s.
    for (let second = 0; second <= 180; second += 20) {
      clock.nowMs = T0 + second * 1_000;
      const counts = new CountsByBatch();
      counts.add('a', { kind: 'retry', reason: 'throttled', retryAfterMs: 2_000, detail: '' });
      counts.add('a', { kind: 'retry', reason: 'paused', retryAfterMs: 500, detail: '' });
      counts.add('b', { kind: 'retry', reason: 'throttled', retryAfterMs: 2_000, detail: '' });
      counts.add('b', { kind: 'done', state: 'rejected', detail: '' });
      counts.add('c', { kind: 'retry', reason: 'batch-stopped', retryAfterMs: null, detail: '' });
      await counts.flush(ledger, `t+${second}`, activity);
    }

    // Assess
    expect(marks).toEqual(['a@t+0', 'a@t+60', 'a@t+120', 'a@t+180']);
    expect((await ledger.getBatch('b'))?.counts.rejected).toBe(10);
  });
});
