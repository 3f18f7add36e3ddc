import type { Clock } from '../ports/clock.ts';
import type { GiftingApi } from '../ports/gifting-api.ts';
import type { Ledger, MovedFrom, RowError, SendRecord } from '../ports/ledger.ts';
import type { SendMessage } from '../ports/send-queue.ts';
import {
  type CreateOutcome,
  classifyCreate,
  describeConfigurationStop,
  retryAfterOf,
} from './outcome.ts';
import {
  type FleetRateLimiter,
  type LimiterFeedback,
  type Permits,
  sentAt,
} from './rate-limiter.ts';
import { settleFromKeptNews } from './webhooks/kept-news.ts';

/** How long a sender trusts what it last read of a batch's phase (a stop, a resume). */
const BATCH_PHASE_TTL_MS = 5_000;

export interface SendSettings {
  /** First look for a missing redemption URL this long after creation. */
  firstPollAfterMs: number;
  /** Stop waiting for a redemption URL this long after creation. */
  pollDeadlineMs: number;
  /**
   * Webhooks are on: right after recording a gift, apply the news a webhook left when it came
   * before this answer was recorded (the link then needs neither the safety-net poll nor a GET).
   */
  useWebhookNews?: boolean;
}

/**
 * What became of one message. `done` messages are deleted from the queue; `retry` ones come back
 * (throttled, unavailable, not sent, or the fleet stopped on a configuration error), with the row back
 * in `pending` so that the ledger still says what is true: nothing was created.
 */
export type SendResult =
  | {
      kind: 'done';
      state: 'created' | 'rejected' | 'unknown' | 'skipped';
      detail: string;
      /** A created gift whose redemption URL came with the answer: nothing left to follow. */
      settled?: boolean;
      /** The Request-Id of &Open's answer, for logs and support. */
      requestId?: string | null;
      /**
       * What the recorded answer replaced (see MovedFrom; absent: the sender's own claim), or null
       * when the row had moved on by another path and the answer was not recorded. The batch's
       * counters follow it: a replaced guess is taken back, an unrecorded answer is not counted.
       */
      movedFrom?: MovedFrom | null;
    }
  | {
      kind: 'retry';
      reason:
        | 'throttled'
        | 'unavailable'
        | 'not-sent'
        | 'configuration-stop'
        | 'batch-stopped'
        | 'paused';
      retryAfterMs: number | null;
      detail: string;
      requestId?: string | null;
      /** `unknown`: putting the row back replaced a redelivery's guess, which the counters take back. */
      movedFrom?: MovedFrom | null;
    };

/**
 * Sends the gift of one ledger row, at most once.
 *
 * Primary course:
 * 1. Wait for a slot of the fleet's shared rate (none while &Open's Retry-After runs); a wait longer
 *    than an invocation should sleep gives the row back to the queue instead.
 * 2. Claim the row (`pending → sending`) before anything leaves this process. A duplicate delivery
 *    finds it claimed or decided and does nothing; a row found in `sending` belonged to a sender that
 *    died mid-request, so it becomes `unknown`, never a second POST.
 * 3. POST the exact body the splitter recorded, and tell the limiter how &Open answered.
 * 4. Classify the answer and record it: created, rejected or unknown are final; anything that proves
 *    nothing was created puts the row back to `pending` for a later delivery.
 */
export class SendService {
  readonly #ledger: Ledger;
  readonly #api: GiftingApi;
  readonly #clock: Clock;
  readonly #settings: SendSettings;
  readonly #limiter: FleetRateLimiter | null;
  readonly #batchPhases = new Map<string, { stopReason: string | null; readAt: number }>();

  constructor(deps: {
    ledger: Ledger;
    api: GiftingApi;
    clock: Clock;
    settings: SendSettings;
    limiter?: FleetRateLimiter;
  }) {
    this.#ledger = deps.ledger;
    this.#api = deps.api;
    this.#clock = deps.clock;
    this.#settings = deps.settings;
    this.#limiter = deps.limiter ?? null;
  }

  /** `permits`: this invocation's share of the fleet's rate (see rate-limiter.ts); none: unlimited. */
  async send(message: SendMessage, permits?: Permits): Promise<SendResult> {
    const { batchId, row } = message;
    const stopReason = await this.#stopReason(batchId);
    if (stopReason !== null) {
      return { kind: 'retry', reason: 'batch-stopped', retryAfterMs: null, detail: stopReason };
    }
    const permit = permits
      ? await permits.acquire()
      : { kind: 'go' as const, at: this.#clock.now() };
    if (permit.kind === 'wait') {
      const waitMs = Math.max(0, permit.untilMs - this.#clock.now());
      return {
        kind: 'retry',
        reason: 'paused',
        retryAfterMs: waitMs,
        detail: 'waiting for the fleet rate',
      };
    }
    const claimedAt = this.#isoNow();
    const claim = await this.#ledger.claimRow(batchId, row, claimedAt);
    if (!claim.claimed) return this.#notClaimed(batchId, row, claim.state);

    const record = claim.row;
    if (!record.body) {
      // A pending row always carries its body; without one there is nothing safe to send.
      await this.#ledger.markUnknown(batchId, row, 'the ledger row has no request body', claimedAt);
      return { kind: 'done', state: 'unknown', detail: 'row without a request body' };
    }

    // The claim took a moment: a pause may have begun since the slot was cleared.
    if (this.#limiter && !(await this.#limiter.clearToSend())) {
      const movedFrom = await this.#ledger.releaseRow(batchId, row, this.#isoNow());
      const waitMs = this.#pauseLeftMs();
      return {
        kind: 'retry',
        reason: 'paused',
        retryAfterMs: waitMs,
        detail: 'the fleet is paused',
        movedFrom,
      };
    }
    const call = await this.#api.createGiftRequest(record.body);
    const outcome = classifyCreate(call);
    await this.#limiter?.answered(
      sentAt(call, permit.at),
      feedbackOf(outcome),
      retryAfterOf(outcome),
    );
    const result = await this.#record(batchId, row, outcome);
    return { ...result, requestId: 'requestId' in outcome ? outcome.requestId : null };
  }

  /** True when news a webhook kept for this gift brought its link (the row is then settled). */
  async #settleFromWebhookNews(
    batchId: string,
    row: number,
    gift: { id: string; status: string; updated_at: string | null },
  ): Promise<boolean> {
    if (!this.#settings.useWebhookNews) return false;
    return settleFromKeptNews(
      this.#ledger,
      {
        batchId,
        row,
        giftRequestId: gift.id,
        giftStatus: gift.status,
        redemptionUrl: null,
        giftUpdatedAt: gift.updated_at,
      },
      this.#isoNow(),
    );
  }

  async #notClaimed(batchId: string, row: number, state: string): Promise<SendResult> {
    if (state === 'sending') {
      const reason =
        'a sender stopped while this request was in flight: it may or may not have reached &Open';
      const marked = await this.#ledger.markUnknown(batchId, row, reason, this.#isoNow());
      if (marked) return { kind: 'done', state: 'unknown', detail: reason };
    }
    return { kind: 'done', state: 'skipped', detail: `row already ${state}` };
  }

  async #record(batchId: string, row: number, outcome: CreateOutcome): Promise<SendResult> {
    const now = this.#isoNow();
    switch (outcome.kind) {
      case 'created': {
        const createdAtMs = this.#clock.now();
        const hasUrl = outcome.gift.redemption_url !== null;
        const movedFrom = await this.#final(batchId, row, now, {
          state: 'created',
          requestId: outcome.requestId,
          giftRequestId: outcome.gift.id,
          giftStatus: outcome.gift.status,
          redemptionUrl: outcome.gift.redemption_url,
          giftCreatedAt: outcome.gift.created_at,
          giftUpdatedAt: outcome.gift.updated_at,
          pollDueAt: hasUrl ? null : createdAtMs + this.#settings.firstPollAfterMs,
          pollDeadlineAt: createdAtMs + this.#settings.pollDeadlineMs,
        });
        const settled =
          movedFrom !== null &&
          (hasUrl || (await this.#settleFromWebhookNews(batchId, row, outcome.gift)));
        return { kind: 'done', state: 'created', detail: outcome.gift.id, settled, movedFrom };
      }
      case 'rejected': {
        const movedFrom = await this.#final(batchId, row, now, {
          state: 'rejected',
          requestId: outcome.requestId,
          errors: outcome.errors.map(
            (error): RowError => ({
              type: error.type,
              code: error.code,
              param: error.param,
              message: error.message,
            }),
          ),
        });
        return {
          kind: 'done',
          state: 'rejected',
          detail: outcome.errors.map((error) => error.code).join(', '),
          movedFrom,
        };
      }
      case 'ambiguous': {
        const movedFrom = await this.#final(batchId, row, now, {
          state: 'unknown',
          requestId: outcome.requestId,
          reason: outcome.message,
        });
        return { kind: 'done', state: 'unknown', detail: outcome.message, movedFrom };
      }
      case 'throttled':
      case 'unavailable': {
        const movedFrom = await this.#ledger.releaseRow(batchId, row, now);
        return {
          kind: 'retry',
          reason: outcome.kind,
          retryAfterMs: outcome.retryAfterMs,
          detail: `HTTP ${outcome.httpStatus}`,
          movedFrom,
        };
      }
      case 'not-sent': {
        const movedFrom = await this.#ledger.releaseRow(batchId, row, now);
        // The &Open client holds back a request whose bytes would leave inside a pause that began
        // while it waited for a socket: it comes back when the pause ends, not a fixed 5 s later.
        const pausedForMs = this.#pauseLeftMs();
        return {
          kind: 'retry',
          reason: pausedForMs > 0 ? 'paused' : 'not-sent',
          retryAfterMs: pausedForMs > 0 ? pausedForMs : null,
          detail: outcome.message,
          movedFrom,
        };
      }
      case 'configuration-stop': {
        const movedFrom = await this.#ledger.releaseRow(batchId, row, now);
        const detail = describeConfigurationStop(outcome);
        await this.#ledger.setPhase(batchId, 'stopped', { stopReason: detail }, now);
        this.#batchPhases.set(batchId, { stopReason: detail, readAt: this.#clock.now() });
        return {
          kind: 'retry',
          reason: 'configuration-stop',
          retryAfterMs: null,
          detail,
          movedFrom,
        };
      }
    }
  }

  async #final(
    batchId: string,
    row: number,
    now: string,
    record: SendRecord,
  ): Promise<MovedFrom | null> {
    // The row was claimed by this sender a moment ago; only a redelivery that took this sender for
    // dead can have moved it (to `unknown`), and the ledger lets a definitive answer replace that.
    // Which of the two it replaced decides what the batch's counters must do (CountsByBatch).
    return this.#ledger.recordSend(batchId, row, record, now);
  }

  /** Why the batch is stopped, or null when it may send; read at most every few seconds. */
  async #stopReason(batchId: string): Promise<string | null> {
    const cached = this.#batchPhases.get(batchId);
    if (cached && this.#clock.now() - cached.readAt < BATCH_PHASE_TTL_MS) return cached.stopReason;
    const batch = await this.#ledger.getBatch(batchId);
    const stopReason =
      batch?.phase === 'stopped' ? (batch.stopReason ?? 'the batch was stopped') : null;
    this.#batchPhases.set(batchId, { stopReason, readAt: this.#clock.now() });
    return stopReason;
  }

  /** How long the fleet's pause still runs, as this sender knows it (0: not paused). */
  #pauseLeftMs(): number {
    return this.#limiter ? Math.max(0, this.#limiter.pausedUntil - this.#clock.now()) : 0;
  }

  #isoNow(): string {
    return new Date(this.#clock.now()).toISOString();
  }
}

/** What an answer to a POST tells the fleet's rate limiter. */
function feedbackOf(outcome: CreateOutcome): LimiterFeedback {
  switch (outcome.kind) {
    case 'throttled':
      return 'throttled';
    case 'unavailable':
      return 'unavailable';
    case 'ambiguous':
    case 'not-sent':
      return 'no-answer';
    case 'configuration-stop':
      // No request at all when there was no key: nothing to learn the rate from.
      return outcome.httpStatus === null ? 'no-answer' : 'accepted';
    default:
      return 'accepted';
  }
}
