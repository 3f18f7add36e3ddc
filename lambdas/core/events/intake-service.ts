import type { Clock } from '../../ports/clock.ts';
import type { EventRowClaim, Ledger, NewRow, RowState } from '../../ports/ledger.ts';
import type { OutcomePublisher } from '../../ports/outcome-events.ts';
import type { SendQueue } from '../../ports/send-queue.ts';
import { eventBatchIdOf, eventBatchSource } from './event-batch.ts';
import {
  EVENT_VALIDATION_ERROR_TYPE,
  type KeyedGiftEvent,
  payloadHash,
  readGiftEvent,
} from './gift-event.ts';
import { outcomeEventOf } from './outcome-events.ts';

/** The error of a second, different payload under an idempotency key already used. */
export const IDEMPOTENCY_CONFLICT_CODE = 'idempotency_conflict';

/** What became of one intake message. */
export type IntakeResult =
  /** A new row: `pending` (queued to send) or `invalid` (recorded with every error, never sent). */
  | { kind: 'accepted'; batchId: string; row: number; state: 'pending' | 'invalid'; key: string }
  /** The same payload under a key already recorded: nothing new; its row as it stands. */
  | { kind: 'duplicate'; batchId: string; row: number; state: RowState | 'missing'; key: string }
  /**
   * A different payload under a key already used: recorded once as an `invalid` row and reported
   * (`row` null when this conflict was already recorded by an earlier delivery).
   */
  | {
      kind: 'conflict';
      batchId: string | null;
      row: number | null;
      key: string;
      original: { batchId: string; row: number };
    }
  /** No readable key: it cannot be recorded exactly once, so the message goes to the DLQ. */
  | { kind: 'unreadable'; reason: string };

/**
 * Turns one event into at most one gift.
 *
 * Primary course:
 * 1. Read the message (EventBridge envelope or the raw contract) and its idempotency key; a message
 *    without a readable key cannot be recorded exactly once and is left to the dead-letter queue.
 * 2. Look the key up. The same payload again: nothing new (its row is queued again while still
 *    pending, and its outcome reported again once decided). A different payload: recorded once as
 *    an `invalid` row saying so, and reported as GiftRequestFailed.
 * 3. A new key: validate by the same schema as a file row, take the next row number of today's
 *    event batch, and write the row with its idempotency item in one transaction (a concurrent
 *    delivery of the same key loses it and becomes step 2).
 * 4. Queue a valid row on the send queue (same claim, rate limit and polling as a file row); report
 *    an invalid one as GiftRequestFailed.
 */
export class IntakeService {
  readonly #ledger: Ledger;
  readonly #queue: SendQueue;
  readonly #outcomes: OutcomePublisher;
  readonly #clock: Clock;

  constructor(deps: {
    ledger: Ledger;
    queue: SendQueue;
    outcomes: OutcomePublisher;
    clock: Clock;
  }) {
    this.#ledger = deps.ledger;
    this.#queue = deps.queue;
    this.#outcomes = deps.outcomes;
    this.#clock = deps.clock;
  }

  async intake(body: string): Promise<IntakeResult> {
    const event = readGiftEvent(body);
    if (event.kind === 'unreadable') return event;
    const hash = await payloadHash(event.payload);
    // Twice at most: a concurrent delivery that wins the key between the look-up and the write
    // makes the second pass find it.
    for (let attempt = 0; attempt < 2; attempt += 1) {
      const known = await this.#ledger.findIdempotencyKey(event.idempotencyKey);
      if (known && known.payloadHash === hash) return this.#duplicate(event, known);
      if (known) return this.#conflict(event, hash, known);
      const recorded = await this.#record(event, this.#newRow(event), {
        key: event.idempotencyKey,
        payloadHash: hash,
        conflict: false,
      });
      if (recorded) return recorded;
    }
    throw new Error(
      `idempotency key ${JSON.stringify(event.idempotencyKey)} could not be recorded`,
    );
  }

  async #duplicate(
    event: KeyedGiftEvent,
    known: { batchId: string; row: number },
  ): Promise<IntakeResult> {
    const row = await this.#ledger.getRow(known.batchId, known.row);
    if (row?.state === 'pending') {
      // Its message may be lost (a crash right after the row was written): queuing it again is
      // harmless, since the claim lets one delivery send it.
      await this.#queue.enqueue([{ batchId: known.batchId, row: known.row }]);
    } else if (row) {
      const outcome = outcomeEventOf(row, this.#isoNow());
      if (outcome) await this.#outcomes.publish([outcome]);
    }
    return {
      kind: 'duplicate',
      batchId: known.batchId,
      row: known.row,
      state: row?.state ?? 'missing',
      key: event.idempotencyKey,
    };
  }

  async #conflict(
    event: KeyedGiftEvent,
    hash: string,
    original: { batchId: string; row: number },
  ): Promise<IntakeResult> {
    const row: NewRow = {
      ...this.#newRow(event),
      state: 'invalid',
      body: null,
      errors: [
        {
          type: EVENT_VALIDATION_ERROR_TYPE,
          code: IDEMPOTENCY_CONFLICT_CODE,
          param: 'idempotency_key',
          message: `idempotency key ${JSON.stringify(event.idempotencyKey)} was used with a different payload (batch ${original.batchId}, row ${original.row}); this event was not sent`,
        },
      ],
    };
    const recorded = await this.#record(event, row, {
      key: event.idempotencyKey,
      payloadHash: hash,
      conflict: true,
    });
    const at = { original: { batchId: original.batchId, row: original.row } };
    if (!recorded) {
      return { kind: 'conflict', batchId: null, row: null, key: event.idempotencyKey, ...at };
    }
    return {
      kind: 'conflict',
      batchId: recorded.batchId,
      row: recorded.row,
      key: event.idempotencyKey,
      ...at,
    };
  }

  /** Writes the row and its claim; null when the claim exists already (another delivery won). */
  async #record(
    event: KeyedGiftEvent,
    template: NewRow,
    claim: EventRowClaim,
  ): Promise<Extract<IntakeResult, { kind: 'accepted' }> | null> {
    const now = this.#isoNow();
    const batchId = eventBatchIdOf(this.#clock.now());
    const row = await this.#ledger.nextEventRow({
      batchId,
      source: eventBatchSource(batchId),
      createdAt: now,
    });
    const newRow: NewRow = { ...template, batchId, row };
    if (!(await this.#ledger.putEventRow(newRow, claim, now))) return null;
    if (newRow.state === 'pending') {
      await this.#queue.enqueue([{ batchId, row }]);
    } else {
      const recorded = await this.#ledger.getRow(batchId, row);
      const outcome = recorded ? outcomeEventOf(recorded, now) : null;
      if (outcome) await this.#outcomes.publish([outcome]);
    }
    return { kind: 'accepted', batchId, row, state: newRow.state, key: event.idempotencyKey };
  }

  #newRow(event: KeyedGiftEvent): NewRow {
    return {
      batchId: '',
      row: 0,
      // Events have no line in a file.
      line: 0,
      echo: { externalId: event.externalId, ...event.echo },
      state: event.body ? 'pending' : 'invalid',
      body: event.body,
      errors: event.errors,
      idempotencyKey: event.idempotencyKey,
      metadata: event.metadata,
    };
  }

  #isoNow(): string {
    return new Date(this.#clock.now()).toISOString();
  }
}
