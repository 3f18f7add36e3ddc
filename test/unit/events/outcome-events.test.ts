import { describe, expect, it } from 'vitest';
import { IntakeService } from '../../../lambdas/core/events/intake-service.ts';
import { OutcomeNotifier, outcomeEventOf } from '../../../lambdas/core/events/outcome-events.ts';
import type { GiftOutcomeEvent, OutcomePublisher } from '../../../lambdas/ports/outcome-events.ts';
import { validEvent } from '../../support/gift-events.ts';
import { InMemoryLedger } from '../../support/in-memory-ledger.ts';
import { RecordingSendQueue } from '../../support/in-memory-ports.ts';

const T0 = Date.parse('2026-11-22T10:00:00.000Z');
const BATCH = 'events-2026-11-22';

class RecordingPublisher implements OutcomePublisher {
  readonly published: GiftOutcomeEvent[] = [];
  async publish(events: GiftOutcomeEvent[]): Promise<void> {
    this.published.push(...events);
  }
}

async function setUp() {
  const ledger = new InMemoryLedger();
  const publisher = new RecordingPublisher();
  const clock = { now: () => T0 };
  const intake = new IntakeService({
    ledger,
    queue: new RecordingSendQueue(),
    outcomes: publisher,
    clock,
  });
  await intake.intake(JSON.stringify(validEvent()));
  await ledger.claimRow(BATCH, 1, 'now');
  const notifier = new OutcomeNotifier({ ledger, publisher, clock });
  return { ledger, publisher, notifier };
}

const created = (redemptionUrl: string | null, pollDueAt: number | null) => ({
  state: 'created' as const,
  requestId: 'req_1',
  giftRequestId: 'gr_1',
  giftStatus: 'submitted',
  redemptionUrl,
  giftCreatedAt: null,
  giftUpdatedAt: null,
  pollDueAt,
  pollDeadlineAt: T0 + 60_000,
});

describe('outcome events', () => {
  it('publishes GiftRequestCreated with the URL, key, external id and metadata', async () => {
    // Prepare
    const { ledger, publisher, notifier } = await setUp();
    await ledger.recordSend(BATCH, 1, created('https://gift.example/r/1', null), 'now');

    // Act
    const published = await notifier.rowsDecided([{ batchId: BATCH, row: 1 }]);

    // Assess
    expect(published).toBe(1);
    expect(publisher.published).toEqual([
      {
        detailType: 'GiftRequestCreated',
        detail: {
          version: 1,
          idempotency_key: 'signup-8842',
          external_id: 'crm-8842',
          campaign_id: validEvent().campaign_id,
          outcome: 'created',
          gift_request_id: 'gr_1',
          status: 'submitted',
          redemption_url: 'https://gift.example/r/1',
          errors: [],
          request_id: 'req_1',
          metadata: { crm_account: 'A-17' },
          batch_id: BATCH,
          row: 1,
          occurred_at: new Date(T0).toISOString(),
        },
      },
    ]);
  });

  it('waits for the URL: a created gift still followed by the poller has no event yet', async () => {
    // Prepare
    const { ledger, publisher, notifier } = await setUp();
    await ledger.recordSend(BATCH, 1, created(null, T0 + 2_000), 'now');

    // Act
    const whileWaiting = await notifier.rowsDecided([{ batchId: BATCH, row: 1 }]);
    await ledger.updateGift(
      BATCH,
      1,
      {
        giftStatus: 'submitted',
        redemptionUrl: null,
        giftUpdatedAt: null,
        requestId: 'r2',
        pollDueAt: null,
      },
      'now',
    );
    const waitEnded = await notifier.rowsDecided([{ batchId: BATCH, row: 1 }]);

    // Assess
    expect(whileWaiting).toBe(0);
    expect(waitEnded).toBe(1);
    expect(publisher.published[0]).toMatchObject({
      detailType: 'GiftRequestCreated',
      detail: { redemption_url: null, gift_request_id: 'gr_1' },
    });
  });

  it('publishes GiftRequestFailed for a rejected gift with &Open’s errors, and for an unknown one', async () => {
    // Prepare
    const { ledger, publisher, notifier } = await setUp();
    const error = {
      type: 'validation_error',
      code: 'out_of_stock',
      param: 'line_items[0]',
      message: 'no stock',
    };
    await ledger.recordSend(
      BATCH,
      1,
      { state: 'rejected', requestId: 'req_9', errors: [error] },
      'now',
    );

    // Act
    await notifier.rowsDecided([{ batchId: BATCH, row: 1 }]);

    // Assess
    expect(publisher.published[0]).toMatchObject({
      detailType: 'GiftRequestFailed',
      detail: { outcome: 'rejected', errors: [error], request_id: 'req_9', gift_request_id: null },
    });
    const row = await ledger.getRow(BATCH, 1);
    if (!row) throw new Error('no row');
    const unknown = outcomeEventOf(
      { ...row, state: 'unknown', unknownReason: 'timeout after sending' },
      'now',
    );
    expect(unknown).toMatchObject({
      detailType: 'GiftRequestFailed',
      detail: {
        outcome: 'unknown',
        errors: [expect.objectContaining({ message: 'timeout after sending' })],
      },
    });
  });

  it('says nothing for file rows, and nothing for rows still pending', async () => {
    // Prepare
    const { ledger, publisher, notifier } = await setUp();
    const row = await ledger.getRow(BATCH, 1);
    if (!row) throw new Error('no row');

    // Act
    const fileRows = await notifier.rowsDecided([{ batchId: 'staff-3f9a2b1c0d4e', row: 1 }]);
    const sending = await notifier.rowsDecided([{ batchId: BATCH, row: 1 }]);

    // Assess
    expect([fileRows, sending]).toEqual([0, 0]);
    expect(outcomeEventOf({ ...row, idempotencyKey: null, state: 'rejected' }, 'now')).toBeNull();
    expect(publisher.published).toEqual([]);
  });
});
