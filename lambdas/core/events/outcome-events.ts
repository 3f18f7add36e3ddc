import type { Clock } from '../../ports/clock.ts';
import type { Ledger, RowRecord } from '../../ports/ledger.ts';
import type { GiftOutcomeEvent, OutcomePublisher } from '../../ports/outcome-events.ts';
import { isEventBatch } from './event-batch.ts';

/**
 * The outcome event of an event-sourced row, or null while it has none yet: a row still pending or
 * sending, or a created gift whose redemption URL is still awaited (GiftRequestCreated waits for the
 * URL, or for the end of the wait). File rows (no idempotency key) have none.
 */
export function outcomeEventOf(row: RowRecord, occurredAt: string): GiftOutcomeEvent | null {
  if (row.idempotencyKey === null) return null;
  let outcome: GiftOutcomeEvent['detail']['outcome'];
  switch (row.state) {
    case 'created':
      if (row.pollDueAt !== null) return null;
      outcome = 'created';
      break;
    case 'rejected':
    case 'invalid':
    case 'unknown':
      outcome = row.state;
      break;
    default:
      return null;
  }
  const errors =
    row.state === 'unknown'
      ? [
          {
            type: 'unknown_outcome',
            code: 'unknown',
            param: null,
            message: row.unknownReason ?? 'the request may or may not have reached &Open',
          },
        ]
      : row.errors.map(({ type, code, param, message }) => ({ type, code, param, message }));
  return {
    detailType: outcome === 'created' ? 'GiftRequestCreated' : 'GiftRequestFailed',
    detail: {
      version: 1,
      idempotency_key: row.idempotencyKey,
      external_id: row.echo.externalId,
      campaign_id: row.echo.campaignId ?? row.body?.campaign_id ?? null,
      outcome,
      gift_request_id: row.giftRequestId,
      status: row.giftStatus,
      redemption_url: row.redemptionUrl,
      errors: outcome === 'created' ? [] : errors,
      request_id: row.requestId,
      metadata: row.metadata,
      batch_id: row.batchId,
      row: row.row,
      occurred_at: occurredAt,
    },
  };
}

/**
 * Tells producers what became of the gifts they asked for.
 *
 * Primary course:
 * 1. Keep only rows of event batches (file rows have no producer to tell).
 * 2. Read each row as the ledger now has it (the decision was just recorded).
 * 3. Publish the outcome event of every row that has one, in one call.
 */
export class OutcomeNotifier {
  readonly #ledger: Ledger;
  readonly #publisher: OutcomePublisher;
  readonly #clock: Clock;

  constructor(deps: { ledger: Ledger; publisher: OutcomePublisher; clock: Clock }) {
    this.#ledger = deps.ledger;
    this.#publisher = deps.publisher;
    this.#clock = deps.clock;
  }

  /** Returns how many outcome events were published. */
  async rowsDecided(rows: readonly { batchId: string; row: number }[]): Promise<number> {
    const eventRows = rows.filter((row) => isEventBatch(row.batchId));
    if (eventRows.length === 0) return 0;
    const occurredAt = new Date(this.#clock.now()).toISOString();
    const events: GiftOutcomeEvent[] = [];
    for (const { batchId, row } of eventRows) {
      const record = await this.#ledger.getRow(batchId, row);
      const event = record ? outcomeEventOf(record, occurredAt) : null;
      if (event) events.push(event);
    }
    if (events.length > 0) await this.#publisher.publish(events);
    return events.length;
  }
}
