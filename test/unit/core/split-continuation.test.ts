import { describe, expect, it } from 'vitest';
import { resumeStalledSplits } from '../../../lambdas/core/split-recovery.ts';
import {
  type InvocationBudget,
  type SplitResult,
  SplitService,
} from '../../../lambdas/core/split-service.ts';
import type { SendMessage } from '../../../lambdas/ports/send-queue.ts';
import { InMemoryLedger } from '../../support/in-memory-ledger.ts';
import {
  InMemoryObjectStore,
  RecordingContinuations,
  RecordingSendQueue,
} from '../../support/in-memory-ports.ts';

const CAMPAIGN = '11111111-1111-4111-8111-111111111111';
const T0 = Date.parse('2026-11-22T10:00:00.000Z');
const STALLED_AFTER_MS = 16 * 60_000;

/** An invocation that is always short of time: it hands over after every chunk. */
const SHORT: InvocationBudget = { remainingMs: () => 0 };
const PLENTY: InvocationBudget = { remainingMs: () => 900_000 };

/** Rows 1..count, every third one invalid (no last name). */
function file(count: number): string {
  const rows = Array.from({ length: count }, (_, index) => {
    const row = index + 1;
    return `${CAMPAIGN},First${row},${row % 3 === 0 ? '' : `Last${row}`},p${row}@example.com`;
  });
  return `campaign_id,first_name,last_name,email\n${rows.join('\n')}\n`;
}

function setUp(options: { queue?: RecordingSendQueue; ledger?: InMemoryLedger } = {}) {
  const clock = { ms: T0, now: () => clock.ms };
  const ledger = options.ledger ?? new InMemoryLedger();
  const objects = new InMemoryObjectStore();
  const queue = options.queue ?? new RecordingSendQueue();
  const continuations = new RecordingContinuations();
  const service = new SplitService({
    ledger,
    objects,
    queue,
    continuations,
    clock,
    settings: { defaultCampaignId: null, maxRows: 1_000, chunkSize: 3, handOverWhenRemainingMs: 1 },
  });
  objects.put('uploads', 'uploads/team.csv', file(10));
  const object = { bucket: 'uploads', key: 'uploads/team.csv', versionId: null, eTag: 'e1' };
  return { clock, ledger, objects, queue, continuations, service, object };
}

/** Delivers each continuation once, in order, until none is left; returns the invocations used. */
async function deliverAll(
  service: SplitService,
  continuations: RecordingContinuations,
  budget: InvocationBudget,
): Promise<SplitResult[]> {
  const results: SplitResult[] = [];
  for (let next = continuations.handedOver.shift(); next; next = continuations.handedOver.shift()) {
    results.push(await service.continueSplit(next, budget));
  }
  return results;
}

const queuedRows = (queue: RecordingSendQueue): number[] =>
  queue.sent.map((sent) => sent.message.row).sort((a, b) => a - b);

/** The valid rows of file(10): every row not divisible by 3. */
const VALID_ROWS = [1, 2, 4, 5, 7, 8, 10];

/** A queue that fails (a crashed invocation) on one chosen enqueue call. */
class CrashingQueue extends RecordingSendQueue {
  calls = 0;
  constructor(readonly crashOnCall: number) {
    super();
  }
  override async enqueue(messages: SendMessage[]): Promise<void> {
    this.calls += 1;
    if (this.calls === this.crashOnCall) throw new Error('the invocation died here');
    await super.enqueue(messages);
  }
}

/** A ledger whose second checkpoint save fails: the invocation dies after writing that chunk. */
function diesAtSecondCheckpoint(ledger: InMemoryLedger): InMemoryLedger {
  const save = ledger.saveSplitCheckpoint.bind(ledger);
  let saves = 0;
  ledger.saveSplitCheckpoint = async (...args) => {
    saves += 1;
    if (saves === 2) throw new Error('the invocation died here');
    return save(...args);
  };
  return ledger;
}

describe('SplitService across invocations', () => {
  it('checkpoints after each chunk and hands over when time runs short, each row once', async () => {
    // Prepare
    const { ledger, queue, continuations, service, object } = setUp();

    // Act
    const first = await service.split(object, SHORT);
    const later = await deliverAll(service, continuations, SHORT);

    // Assess
    expect(first).toMatchObject({ kind: 'continued', nextRow: 4, rows: 3 });
    expect(later.map((result) => result.kind)).toEqual(['continued', 'continued', 'split']);
    expect(later.at(-1)).toMatchObject({ rows: 10, valid: 7, invalid: 3, fileError: null });
    expect(queuedRows(queue)).toEqual(VALID_ROWS);
    expect(ledger.rows.size).toBe(10);
    const batch = await ledger.getBatch(first.batchId);
    expect(batch).toMatchObject({ phase: 'sending', counts: { rows: 10, valid: 7, invalid: 3 } });
    expect(batch?.splitCheckpoint).toMatchObject({ nextRow: 11, lastChunkFrom: 10, sequence: 7 });
  });

  it('carries on to the end when a sender stops the batch part-way, and leaves it stopped', async () => {
    // Prepare: a refused key stops the batch after the first chunk, as a sender would.
    const { ledger, queue, continuations, service, object } = setUp();
    const first = await service.split(object, SHORT);
    await ledger.setPhase(
      first.batchId,
      'stopped',
      { stopReason: '401' },
      new Date(T0).toISOString(),
    );

    // Act
    const later = await deliverAll(service, continuations, SHORT);

    // Assess
    expect(later.at(-1)).toMatchObject({ kind: 'split', rows: 10, valid: 7, invalid: 3 });
    expect(ledger.rows.size).toBe(10);
    expect(queuedRows(queue)).toEqual(VALID_ROWS);
    const batch = await ledger.getBatch(first.batchId);
    expect(batch).toMatchObject({ phase: 'stopped', counts: { rows: 10, valid: 7, invalid: 3 } });
    expect(batch?.splitCompletedAt).not.toBeNull();
  });

  it('splits in one invocation when time allows, with no hand-over', async () => {
    // Prepare
    const { queue, continuations, service, object } = setUp();

    // Act
    const result = await service.split(object, PLENTY);

    // Assess
    expect(result).toMatchObject({ kind: 'split', rows: 10 });
    expect(continuations.handedOver).toEqual([]);
    expect(queuedRows(queue)).toEqual(VALID_ROWS);
  });

  it('does nothing with a continuation delivered twice', async () => {
    // Prepare
    const { ledger, queue, continuations, service, object } = setUp();
    await service.split(object, SHORT);
    const continuation = continuations.handedOver.shift();
    if (!continuation) throw new Error('expected a hand-over');
    await service.continueSplit(continuation, SHORT);
    const queuedBefore = queue.sent.length;

    // Act
    const again = await service.continueSplit(continuation, SHORT);

    // Assess
    expect(again.kind).toBe('duplicate');
    expect(queue.sent).toHaveLength(queuedBefore);
    expect(continuations.handedOver).toHaveLength(1);
    expect((await ledger.getBatch(again.batchId))?.splitCheckpoint?.nextRow).toBe(7);
  });

  it('does nothing with a duplicate S3 event while a continuation is in flight', async () => {
    // Prepare
    const { queue, continuations, service, object } = setUp();
    await service.split(object, SHORT);

    // Act
    const duplicate = await service.split(object, PLENTY);
    await deliverAll(service, continuations, PLENTY);

    // Assess
    expect(duplicate.kind).toBe('duplicate');
    expect(queuedRows(queue)).toEqual(VALID_ROWS);
  });

  it('a crash after the checkpoint but before queueing: the resume queues that chunk again', async () => {
    // Prepare: the second chunk (rows 4–6) is recorded and checkpointed, then the invocation dies.
    const queue = new CrashingQueue(2);
    const { clock, ledger, continuations, service, object } = setUp({ queue });
    await expect(service.split(object, PLENTY)).rejects.toThrow('died here');
    const batchId = (await ledger.listBatches())[0]?.batchId ?? '';
    expect((await ledger.getBatch(batchId))?.splitCheckpoint?.nextRow).toBe(7);
    // A sender already claimed row 1 of the first chunk, which was queued.
    await ledger.claimRow(batchId, 1, 'now');

    // Act
    const early = await resumeStalledSplits({ ledger, continuations, clock }, STALLED_AFTER_MS);
    clock.ms += STALLED_AFTER_MS;
    const resumed = await resumeStalledSplits({ ledger, continuations, clock }, STALLED_AFTER_MS);
    const results = await deliverAll(service, continuations, PLENTY);

    // Assess
    expect(early).toEqual([]);
    expect(resumed).toEqual([batchId]);
    expect(results.map((result) => result.kind)).toEqual(['split']);
    expect(queuedRows(queue)).toEqual(VALID_ROWS);
    expect((await ledger.getRow(batchId, 1))?.state).toBe('sending');
    expect((await ledger.getBatch(batchId))?.counts).toMatchObject({ rows: 10, valid: 7 });
  });

  it('a crash between writing a chunk and its checkpoint: the resume writes it again, queues it once', async () => {
    // Prepare: the second chunk's checkpoint is never saved.
    const ledger = diesAtSecondCheckpoint(new InMemoryLedger());
    const { clock, queue, continuations, service, object } = setUp({ ledger });
    await expect(service.split(object, PLENTY)).rejects.toThrow('died here');
    const batchId = (await ledger.listBatches())[0]?.batchId ?? '';
    expect(ledger.rows.size).toBe(6);
    expect(queuedRows(queue)).toEqual([1, 2]);

    // Act
    clock.ms += STALLED_AFTER_MS;
    await resumeStalledSplits({ ledger, continuations, clock }, STALLED_AFTER_MS);
    await deliverAll(service, continuations, PLENTY);

    // Assess: rows 1–2 queued twice at most (the re-queued chunk), 4–5 once, nothing lost.
    expect([...new Set(queuedRows(queue))]).toEqual(VALID_ROWS);
    expect(queuedRows(queue).filter((row) => row >= 4)).toEqual([4, 5, 7, 8, 10]);
    expect((await ledger.getBatch(batchId))?.counts).toMatchObject({ rows: 10, invalid: 3 });
  });

  it('a crash between writing a chunk and its checkpoint: a row of it sent since is never reset', async () => {
    // Prepare: the second chunk (rows 4-6) is written, its checkpoint never saved. Since then a
    // reconcile, which goes by the ledger and not by the checkpoint, queued row 4 and a sender
    // created its gift (a local run re-drives every undecided row it finds at its start).
    const ledger = diesAtSecondCheckpoint(new InMemoryLedger());
    const { clock, queue, continuations, service, object } = setUp({ ledger });
    await expect(service.split(object, PLENTY)).rejects.toThrow('died here');
    const batchId = (await ledger.listBatches())[0]?.batchId ?? '';
    const now = new Date(T0).toISOString();
    expect(await ledger.claimRow(batchId, 4, now)).toMatchObject({ claimed: true });
    await ledger.recordSend(
      batchId,
      4,
      {
        state: 'created',
        requestId: 'req_4',
        giftRequestId: 'gr_4',
        giftStatus: 'pending',
        redemptionUrl: null,
        giftCreatedAt: now,
        giftUpdatedAt: now,
        pollDueAt: T0 + 5_000,
        pollDeadlineAt: T0 + 3_600_000,
      },
      now,
    );

    // Act
    clock.ms += STALLED_AFTER_MS;
    await resumeStalledSplits({ ledger, continuations, clock }, STALLED_AFTER_MS);
    const results = await deliverAll(service, continuations, PLENTY);

    // Assess: row 4 keeps its gift (back in `pending`, its message would send it again); the
    // chunk's other rows and the rest of the file are recorded as usual.
    expect(results.map((result) => result.kind)).toEqual(['split']);
    expect(await ledger.getRow(batchId, 4)).toMatchObject({
      state: 'created',
      giftRequestId: 'gr_4',
    });
    expect((await ledger.getRow(batchId, 5))?.state).toBe('pending');
    expect(ledger.rows.size).toBe(10);
    expect([...new Set(queuedRows(queue))]).toEqual(VALID_ROWS);
    expect((await ledger.getBatch(batchId))?.counts).toMatchObject({ rows: 10, valid: 7 });
  });

  it("a resume writes only the dead invocation's chunk conditionally, sized as it wrote it", async () => {
    // Prepare: an invocation writing chunks of 3 dies after its first checkpoint; the split then
    // resumes under a deployment whose chunks are of 2 rows.
    const ledger = new InMemoryLedger();
    const conditional: number[] = [];
    const putIfAbsent = ledger.putRowsIfAbsent.bind(ledger);
    ledger.putRowsIfAbsent = async (rows) => {
      conditional.push(...rows.map((row) => row.row));
      return putIfAbsent(rows);
    };
    diesAtSecondCheckpoint(ledger);
    const { clock, objects, queue, continuations, service, object } = setUp({ ledger });
    await expect(service.split(object, PLENTY)).rejects.toThrow('died here');
    const smallerChunks = new SplitService({
      ledger,
      objects,
      queue,
      continuations,
      clock,
      settings: {
        defaultCampaignId: null,
        maxRows: 1_000,
        chunkSize: 2,
        handOverWhenRemainingMs: 1,
      },
    });

    // Act
    clock.ms += STALLED_AFTER_MS;
    await resumeStalledSplits({ ledger, continuations, clock }, STALLED_AFTER_MS);
    await deliverAll(smallerChunks, continuations, PLENTY);

    // Assess: rows 4-6 (the dead chunk) were written only where absent, rows 7-10 as new rows.
    expect(conditional).toEqual([4, 5, 6]);
    expect(ledger.rows.size).toBe(10);
  });

  it('resumes a split whose first invocation died before its first checkpoint', async () => {
    // Prepare
    const queue = new CrashingQueue(1);
    const { clock, ledger, continuations, service, object } = setUp({ queue });
    await expect(service.split(object, PLENTY)).rejects.toThrow('died here');

    // Act
    clock.ms += STALLED_AFTER_MS;
    await resumeStalledSplits({ ledger, continuations, clock }, STALLED_AFTER_MS);
    const again = await resumeStalledSplits({ ledger, continuations, clock }, STALLED_AFTER_MS);
    await deliverAll(service, continuations, PLENTY);

    // Assess
    expect(again).toEqual([]);
    expect(queuedRows(queue)).toEqual(VALID_ROWS);
  });

  it('leaves a stalled split alone while its file is not there, and resumes it once it is back', async () => {
    // Prepare: a split that died; locally its upload died with it until the run puts it back.
    const queue = new CrashingQueue(1);
    const { clock, ledger, continuations, service, object } = setUp({ queue });
    await expect(service.split(object, PLENTY)).rejects.toThrow('died here');
    clock.ms += STALLED_AFTER_MS;
    let fileIsBack = false;
    const fileIsThere = async (source: { bucket: string; key: string }) =>
      fileIsBack && source.bucket === object.bucket && source.key === object.key;

    // Act
    const before = await resumeStalledSplits(
      { ledger, continuations, clock, fileIsThere },
      STALLED_AFTER_MS,
    );
    fileIsBack = true;
    const after = await resumeStalledSplits(
      { ledger, continuations, clock, fileIsThere },
      STALLED_AFTER_MS,
    );
    await deliverAll(service, continuations, PLENTY);

    // Assess: nothing was handed over (so nothing could end the batch short) until the file was back.
    expect(before).toEqual([]);
    expect(after).toHaveLength(1);
    expect(queuedRows(queue)).toEqual(VALID_ROWS);
    expect((await ledger.getBatch(after[0] ?? ''))?.fileError).toBeNull();
  });

  it('lets the caller act on a claimed split before it is handed over', async () => {
    // Prepare: a split that died; locally the run recounts and re-queues its rows first.
    const queue = new CrashingQueue(1);
    const { clock, ledger, continuations, service, object } = setUp({ queue });
    await expect(service.split(object, PLENTY)).rejects.toThrow('died here');
    clock.ms += STALLED_AFTER_MS;
    const seen: { batchId: string; sequence: number | undefined; handedOver: number }[] = [];
    const beforeHandOver = async (batchId: string) => {
      const batch = await ledger.getBatch(batchId);
      seen.push({
        batchId,
        sequence: batch?.splitCheckpoint?.sequence,
        handedOver: continuations.handedOver.length,
      });
    };

    // Act
    const resumed = await resumeStalledSplits(
      { ledger, continuations, clock, beforeHandOver },
      STALLED_AFTER_MS,
    );

    // Assess: called once, with the split claimed (the dead invocation saved sequence 1, the
    // claim 2) and nothing handed over yet.
    expect(seen).toEqual([{ batchId: resumed[0], sequence: 2, handedOver: 0 }]);
    expect(continuations.handedOver).toHaveLength(1);
    await deliverAll(service, continuations, PLENTY);
    expect(queuedRows(queue)).toEqual(VALID_ROWS);
  });

  it('stops with the rows so far when the file was replaced between two invocations', async () => {
    // Prepare
    const { ledger, objects, queue, continuations, service, object } = setUp();
    const first = await service.split(object, SHORT);
    objects.put('uploads', 'uploads/team.csv', file(12));

    // Act
    const results = await deliverAll(service, continuations, SHORT);

    // Assess
    expect(results.map((result) => result.kind)).toEqual(['gone']);
    const batch = await ledger.getBatch(first.batchId);
    expect(batch?.phase).toBe('sending');
    expect(batch?.fileError).toMatch(/was replaced while it was being read; the 3 rows/);
    expect(queuedRows(queue)).toEqual([1, 2]);
  });
});
