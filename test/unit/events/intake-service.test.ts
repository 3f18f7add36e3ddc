import { describe, expect, it } from 'vitest';
import { CompletionService } from '../../../lambdas/core/completion-service.ts';
import { eventBatchIdOf, mayComplete } from '../../../lambdas/core/events/event-batch.ts';
import { findRowByIdempotencyKey } from '../../../lambdas/core/events/find-by-key.ts';
import {
  IDEMPOTENCY_CONFLICT_CODE,
  IntakeService,
} from '../../../lambdas/core/events/intake-service.ts';
import type { GiftOutcomeEvent, OutcomePublisher } from '../../../lambdas/ports/outcome-events.ts';
import { validEvent } from '../../support/gift-events.ts';
import { InMemoryLedger } from '../../support/in-memory-ledger.ts';
import { InMemoryObjectStore, RecordingSendQueue } from '../../support/in-memory-ports.ts';

const T0 = Date.parse('2026-11-22T10:00:00.000Z');
const DAY_BATCH = 'events-2026-11-22';

class RecordingPublisher implements OutcomePublisher {
  readonly published: GiftOutcomeEvent[] = [];
  async publish(events: GiftOutcomeEvent[]): Promise<void> {
    this.published.push(...events);
  }
}

function setUp(now = T0) {
  const ledger = new InMemoryLedger();
  const queue = new RecordingSendQueue();
  const outcomes = new RecordingPublisher();
  const clock = { now: () => now };
  const service = new IntakeService({ ledger, queue, outcomes, clock });
  return { ledger, queue, outcomes, service };
}

const body = (overrides: Record<string, unknown> = {}) => JSON.stringify(validEvent(overrides));

describe('IntakeService', () => {
  it('records a valid event as a pending row of the day’s event batch and queues it', async () => {
    // Prepare
    const { ledger, queue, outcomes, service } = setUp();

    // Act
    const result = await service.intake(body());

    // Assess
    expect(result).toEqual({
      kind: 'accepted',
      batchId: DAY_BATCH,
      row: 1,
      state: 'pending',
      key: 'signup-8842',
    });
    expect(queue.sent.map((sent) => sent.message)).toEqual([{ batchId: DAY_BATCH, row: 1 }]);
    const row = await ledger.getRow(DAY_BATCH, 1);
    expect(row).toMatchObject({
      state: 'pending',
      idempotencyKey: 'signup-8842',
      metadata: { crm_account: 'A-17' },
      echo: { externalId: 'crm-8842', firstName: 'Alice', email: 'alice@example.com' },
      body: { campaign_id: validEvent().campaign_id },
    });
    const batch = await ledger.getBatch(DAY_BATCH);
    expect(batch).toMatchObject({ phase: 'sending', counts: { rows: 1, valid: 1, invalid: 0 } });
    expect(await ledger.findIdempotencyKey('signup-8842')).toMatchObject({
      batchId: DAY_BATCH,
      row: 1,
    });
    expect(outcomes.published).toEqual([]);
  });

  it('numbers the day’s events in arrival order, and starts a new batch the next UTC day', async () => {
    // Prepare
    const today = setUp();
    const tomorrow = setUp(T0 + 86_400_000);

    // Act
    const first = await today.service.intake(body({ idempotency_key: 'a' }));
    const second = await today.service.intake(body({ idempotency_key: 'b' }));
    const next = await tomorrow.service.intake(body({ idempotency_key: 'c' }));

    // Assess
    expect([first, second].map((r) => r.kind === 'accepted' && r.row)).toEqual([1, 2]);
    expect(next).toMatchObject({ batchId: 'events-2026-11-23', row: 1 });
  });

  it('creates one row for the same key sent twice (EventBridge or queue), and queues a pending row again', async () => {
    // Prepare
    const { ledger, queue, service } = setUp();
    await service.intake(body());

    // Act
    const again = await service.intake(
      JSON.stringify({ 'detail-type': 'Gift Requested', source: 'crm', detail: validEvent() }),
    );

    // Assess
    expect(again).toMatchObject({
      kind: 'duplicate',
      batchId: DAY_BATCH,
      row: 1,
      state: 'pending',
    });
    expect(ledger.rows.size).toBe(1);
    expect((await ledger.getBatch(DAY_BATCH))?.counts.rows).toBe(1);
    // Re-queued while pending (its first message may be lost); the claim sends it once.
    expect(queue.sent.map((sent) => sent.message)).toEqual([
      { batchId: DAY_BATCH, row: 1 },
      { batchId: DAY_BATCH, row: 1 },
    ]);
  });

  it('reports the same outcome again for a duplicate of a decided event, and sends nothing', async () => {
    // Prepare
    const { ledger, queue, outcomes, service } = setUp();
    await service.intake(body());
    await ledger.claimRow(DAY_BATCH, 1, 'now');
    await ledger.recordSend(
      DAY_BATCH,
      1,
      {
        state: 'created',
        requestId: 'req_1',
        giftRequestId: 'gr_1',
        giftStatus: 'submitted',
        redemptionUrl: 'https://gift.example/r/1',
        giftCreatedAt: null,
        giftUpdatedAt: null,
        pollDueAt: null,
        pollDeadlineAt: null,
      },
      'now',
    );

    // Act
    const again = await service.intake(body());

    // Assess
    expect(again).toMatchObject({ kind: 'duplicate', state: 'created' });
    expect(queue.sent).toHaveLength(1);
    expect(outcomes.published).toHaveLength(1);
    expect(outcomes.published[0]).toMatchObject({
      detailType: 'GiftRequestCreated',
      detail: {
        idempotency_key: 'signup-8842',
        gift_request_id: 'gr_1',
        redemption_url: 'https://gift.example/r/1',
        metadata: { crm_account: 'A-17' },
      },
    });
  });

  it('rejects and reports a different payload under a used key, once, never sending it', async () => {
    // Prepare
    const { ledger, queue, outcomes, service } = setUp();
    await service.intake(body());
    const changed = body({ recipient: { first_name: 'Mallory', last_name: 'Smith' } });

    // Act
    const conflict = await service.intake(changed);
    const redelivered = await service.intake(changed);

    // Assess
    expect(conflict).toMatchObject({
      kind: 'conflict',
      batchId: DAY_BATCH,
      row: 2,
      original: { batchId: DAY_BATCH, row: 1 },
    });
    expect(redelivered).toMatchObject({ kind: 'conflict', row: null });
    const row = await ledger.getRow(DAY_BATCH, 2);
    expect(row).toMatchObject({ state: 'invalid', body: null, idempotencyKey: 'signup-8842' });
    expect(row?.errors).toEqual([
      expect.objectContaining({
        code: IDEMPOTENCY_CONFLICT_CODE,
        param: 'idempotency_key',
        message: expect.stringContaining(
          'idempotency key "signup-8842" was used with a different payload',
        ),
      }),
    ]);
    expect(queue.sent).toHaveLength(1);
    expect(outcomes.published).toEqual([
      expect.objectContaining({
        detailType: 'GiftRequestFailed',
        detail: expect.objectContaining({ outcome: 'invalid', row: 2 }),
      }),
    ]);
    // The original gift is untouched.
    expect((await ledger.getRow(DAY_BATCH, 1))?.state).toBe('pending');
    expect((await ledger.getBatch(DAY_BATCH))?.counts).toMatchObject({ rows: 2, invalid: 1 });
  });

  it('records an invalid event as an invalid row with every error and reports it', async () => {
    // Prepare
    const { ledger, queue, outcomes, service } = setUp();

    // Act
    const result = await service.intake(
      body({ recipient: { first_name: 'Alice' }, campaign_id: '' }),
    );

    // Assess
    expect(result).toMatchObject({ kind: 'accepted', state: 'invalid', row: 1 });
    const row = await ledger.getRow(DAY_BATCH, 1);
    expect(row?.errors.map((error) => error.param)).toEqual(['campaign_id', 'recipient.last_name']);
    expect(queue.sent).toEqual([]);
    expect(outcomes.published).toHaveLength(1);
    expect(outcomes.published[0]?.detail).toMatchObject({
      outcome: 'invalid',
      idempotency_key: 'signup-8842',
      external_id: 'crm-8842',
      errors: [
        expect.objectContaining({ param: 'campaign_id', code: 'required' }),
        expect.objectContaining({ param: 'recipient.last_name', code: 'required' }),
      ],
    });
  });

  it('leaves a message without a readable key to the dead-letter queue, recording nothing', async () => {
    // Prepare
    const { ledger, queue, service } = setUp();

    // Act
    const result = await service.intake('{"campaign_id": "x"}');

    // Assess
    expect(result).toMatchObject({ kind: 'unreadable' });
    expect(ledger.rows.size).toBe(0);
    expect(queue.sent).toEqual([]);
  });

  it('makes a concurrent second delivery of the same key a duplicate, not a second row', async () => {
    // Prepare
    const { ledger, service } = setUp();

    // Act
    const results = await Promise.all([service.intake(body()), service.intake(body())]);

    // Assess
    expect(results.map((result) => result.kind).sort()).toEqual(['accepted', 'duplicate']);
    expect([...ledger.rows.values()].filter((row) => row.idempotencyKey)).toHaveLength(1);
  });
});

describe('event batches', () => {
  it('are named by UTC day and stay open until the day is over', () => {
    expect(eventBatchIdOf(Date.parse('2026-11-22T23:59:59.999Z'))).toBe(DAY_BATCH);
    expect(mayComplete(DAY_BATCH, Date.parse('2026-11-22T23:00:00Z'))).toBe(false);
    expect(mayComplete(DAY_BATCH, Date.parse('2026-11-23T00:05:00Z'))).toBe(false);
    expect(mayComplete(DAY_BATCH, Date.parse('2026-11-23T00:10:00Z'))).toBe(true);
    expect(mayComplete('events-2026-11-22-3f9a2b1c0d4e', 0)).toBe(true);
  });
});

describe('completion of an event batch', () => {
  it('writes no results while the day may still bring events, and does once it is over', async () => {
    // Prepare
    const { ledger, service } = setUp();
    await service.intake(body({ recipient: { first_name: 'Only' } })); // invalid: final at once
    let now = Date.parse('2026-11-22T23:59:00Z');
    const objects = new InMemoryObjectStore();
    const completion = new CompletionService({
      ledger,
      objects,
      clock: { now: () => now },
      settings: { resultsBucket: 'results', recheckQuietBatchAfterMs: 0 },
    });

    // Act
    const duringTheDay = await completion.completeFinishedBatches();
    now = Date.parse('2026-11-23T00:15:00Z');
    const afterIt = await completion.completeFinishedBatches();

    // Assess
    expect(duringTheDay).toEqual([]);
    expect(afterIt.map((batch) => batch.batchId)).toEqual([DAY_BATCH]);
    expect(objects.text('results', `results/${DAY_BATCH}.csv`)).toContain('invalid');
  });
});

describe('finding a gift by its idempotency key', () => {
  it('returns the row the key created, even after a conflicting payload, and null for an unknown key', async () => {
    // Prepare
    const { ledger, service } = setUp();
    await service.intake(body());
    await service.intake(body({ external_id: 'changed' }));

    // Act
    const found = await findRowByIdempotencyKey(ledger, 'signup-8842');
    const missing = await findRowByIdempotencyKey(ledger, 'never-sent');

    // Assess
    expect(found).toMatchObject({ batchId: DAY_BATCH, row: 1, state: 'pending' });
    expect(missing).toBeNull();
  });
});
