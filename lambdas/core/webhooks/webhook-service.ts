import type { Clock } from '../../ports/clock.ts';
import type { GiftEventRecord, Ledger, TrackedGift } from '../../ports/ledger.ts';
import type { WebhookSignature } from '../../ports/webhook-signature.ts';
import { type RefusedDelivery, verifyDelivery, type WebhookDelivery } from './delivery.ts';
import { mergeGiftNews, readGiftNews } from './gift-event.ts';

/**
 * How long an event id is remembered. &Open keeps the id across its retries but does not publish
 * how long it retries; a week outlasts any plausible schedule, and the items expire on their own.
 */
export const EVENT_ID_RETENTION_S = 7 * 24 * 3600;

/** News of a gift no row holds yet is kept this long: far past any poller safety net. */
export const UNMATCHED_NEWS_RETENTION_S = 24 * 3600;

/** Optimistic writes lost to a concurrent change (the poller, another delivery) before giving up. */
const MAX_ATTEMPTS = 3;

/** What became of a delivery; every kind but `refused` is answered 2xx, so &Open stops retrying. */
export type WebhookOutcome =
  | (RefusedDelivery & { kind: 'refused' })
  | {
      kind: 'applied' | 'unchanged' | 'duplicate';
      eventId: string;
      giftRequestId: string;
      batchId: string;
      row: number;
      giftStatus: string | null;
      /** The row's URL arrived with this event (the poller stops following it). */
      settled: boolean;
    }
  | { kind: 'unknown-gift'; eventId: string; giftRequestId: string }
  | { kind: 'not-a-gift'; eventId: string; eventType: string }
  | { kind: 'gave-up'; eventId: string; giftRequestId: string };

export class WebhookService {
  readonly #ledger: Ledger;
  readonly #signature: WebhookSignature;
  readonly #clock: Clock;

  constructor(deps: { ledger: Ledger; signature: WebhookSignature; clock: Clock }) {
    this.#ledger = deps.ledger;
    this.#signature = deps.signature;
    this.#clock = deps.clock;
  }

  /**
   * Primary course:
   * 1. Authenticate the delivery: signature over the raw bytes, timestamp within five minutes.
   * 2. Read the gift request from the payload (the event type is opaque).
   * 3. Find its row by the gift request id (one index lookup).
   * 4. Decide the row's new status and URL, never backwards.
   * 5. Record the event id and that change in one conditional write; a repeated event id changes
   *    nothing, and a row changed meanwhile is read again and decided again.
   * Alternative course: no row holds the gift request (yet). Keep the news for the poller's safety
   * net, which applies it instead of calling &Open; answer 2xx either way, since the gift may well
   * belong to another system on the same &Open account and a retry would not change that.
   */
  async receive(delivery: WebhookDelivery): Promise<WebhookOutcome> {
    const verified = verifyDelivery(delivery, this.#signature, this.#clock.now());
    if ('refused' in verified) return { kind: 'refused', ...verified };
    const { eventId, eventType } = verified;

    const news = readGiftNews(parseJson(delivery.body));
    if (news === null) return { kind: 'not-a-gift', eventId, eventType };

    let tracked = await this.#ledger.findGift(news.id);
    for (let attempt = 1; tracked !== null && attempt <= MAX_ATTEMPTS; attempt += 1) {
      if (tracked.state !== 'created') break;
      const change = mergeGiftNews(tracked, news);
      const record: GiftEventRecord = {
        eventId,
        eventType,
        expiresAt: Math.floor(this.#clock.now() / 1000) + EVENT_ID_RETENTION_S,
        batchId: tracked.batchId,
        row: tracked.row,
        seen: {
          giftStatus: tracked.giftStatus,
          redemptionUrl: tracked.redemptionUrl,
          giftUpdatedAt: tracked.giftUpdatedAt,
          following: tracked.following,
        },
        change,
      };
      const result = await this.#ledger.recordGiftEvent(record, this.#isoNow());
      if (result !== 'conflict') {
        return {
          kind: result === 'duplicate' ? 'duplicate' : change === null ? 'unchanged' : 'applied',
          eventId,
          giftRequestId: news.id,
          batchId: tracked.batchId,
          row: tracked.row,
          giftStatus: change?.giftStatus ?? tracked.giftStatus,
          settled: result === 'recorded' && change?.settles === true,
        };
      }
      // The index may lag the table: read the row itself before deciding again.
      tracked = await this.#reread(tracked);
    }
    if (tracked !== null && tracked.state === 'created') {
      return { kind: 'gave-up', eventId, giftRequestId: news.id };
    }
    // Not created (yet): the sender may still be recording the create answer of this very gift.
    await this.#ledger.keepUnmatchedNews(
      {
        giftRequestId: news.id,
        giftStatus: news.status,
        redemptionUrl: news.redemptionUrl,
        giftUpdatedAt: news.updatedAt,
        expiresAt: Math.floor(this.#clock.now() / 1000) + UNMATCHED_NEWS_RETENTION_S,
      },
      this.#isoNow(),
    );
    return { kind: 'unknown-gift', eventId, giftRequestId: news.id };
  }

  async #reread(tracked: TrackedGift): Promise<TrackedGift | null> {
    const row = await this.#ledger.getRow(tracked.batchId, tracked.row);
    if (row === null) return null;
    return {
      batchId: row.batchId,
      row: row.row,
      state: row.state,
      giftStatus: row.giftStatus,
      redemptionUrl: row.redemptionUrl,
      giftUpdatedAt: row.giftUpdatedAt,
      following: row.pollDueAt !== null,
    };
  }

  #isoNow(): string {
    return new Date(this.#clock.now()).toISOString();
  }
}

function parseJson(body: Uint8Array): unknown {
  try {
    return JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(body)) as unknown;
  } catch {
    return undefined;
  }
}
