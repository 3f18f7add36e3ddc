/**
 * What producers of event-driven sends hear back: one event per gift they asked for, published on
 * the stack's bus (EventBridge) or, on one machine, appended to a JSON Lines file.
 */
export const OUTCOME_EVENT_SOURCE = 'gift-batch';

export type OutcomeDetailType = 'GiftRequestCreated' | 'GiftRequestFailed';

/** The `detail` of an outcome event (version 1; documented in the README). */
export interface GiftOutcomeDetail {
  version: 1;
  idempotency_key: string;
  external_id: string | null;
  campaign_id: string | null;
  /** `created`, or why no gift is known: `rejected` | `invalid` | `unknown`. */
  outcome: 'created' | 'rejected' | 'invalid' | 'unknown';
  gift_request_id: string | null;
  /** &Open's status of the gift request (`submitted`, …); null when none was created. */
  status: string | null;
  /** The recipient's link: a bearer link to the gift. Null when none arrived before the wait ended. */
  redemption_url: string | null;
  errors: { type: string; code: string; param: string | null; message: string }[];
  /** The Request-Id of the &Open answer that decided the gift, for support. */
  request_id: string | null;
  metadata: Record<string, string> | null;
  /** Where the gift is in the ledger (status, results, export). */
  batch_id: string;
  row: number;
  occurred_at: string;
}

export interface GiftOutcomeEvent {
  detailType: OutcomeDetailType;
  detail: GiftOutcomeDetail;
}

export interface OutcomePublisher {
  /**
   * Publishes the events (the adapter batches them). Resolves once each is published or, after
   * retries, logged as lost: an outcome event is a notification; the ledger keeps the truth.
   */
  publish(events: GiftOutcomeEvent[]): Promise<void>;
}
