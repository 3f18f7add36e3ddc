import {
  type EventBridgeClient,
  PutEventsCommand,
  type PutEventsRequestEntry,
} from '@aws-sdk/client-eventbridge';
import {
  type GiftOutcomeEvent,
  OUTCOME_EVENT_SOURCE,
  type OutcomePublisher,
} from '../ports/outcome-events.ts';

/** PutEvents takes at most 10 entries per call. */
const ENTRIES_PER_CALL = 10;

export interface EventBridgeOutcomePublisherOptions {
  client: EventBridgeClient;
  busName: string;
  /** Attempts for an entry EventBridge failed (the first included). Default 4. */
  maxAttempts?: number;
  baseRetryDelayMs?: number;
  /** Where events given up on are reported (the handler's logger). */
  onLost?: (event: GiftOutcomeEvent, reason: string) => void;
  sleep?: (ms: number) => Promise<void>;
}

/**
 * Outcome events onto the stack's EventBridge bus: PutEvents ten at a time, entries EventBridge
 * failed (throttling, internal errors) retried with a growing pause, and any still failing reported
 * through `onLost`, never thrown: the ledger already holds the outcome, and a failed notification
 * must not fail the send that decided it.
 */
export class EventBridgeOutcomePublisher implements OutcomePublisher {
  readonly #client: EventBridgeClient;
  readonly #busName: string;
  readonly #maxAttempts: number;
  readonly #baseRetryDelayMs: number;
  readonly #onLost: (event: GiftOutcomeEvent, reason: string) => void;
  readonly #sleep: (ms: number) => Promise<void>;

  constructor(options: EventBridgeOutcomePublisherOptions) {
    this.#client = options.client;
    this.#busName = options.busName;
    this.#maxAttempts = options.maxAttempts ?? 4;
    this.#baseRetryDelayMs = options.baseRetryDelayMs ?? 100;
    this.#onLost = options.onLost ?? (() => undefined);
    this.#sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
  }

  async publish(events: GiftOutcomeEvent[]): Promise<void> {
    for (let start = 0; start < events.length; start += ENTRIES_PER_CALL) {
      await this.#putChunk(events.slice(start, start + ENTRIES_PER_CALL));
    }
  }

  async #putChunk(chunk: GiftOutcomeEvent[]): Promise<void> {
    let pending = chunk;
    let lastReason = '';
    for (let attempt = 1; pending.length > 0 && attempt <= this.#maxAttempts; attempt += 1) {
      if (attempt > 1) await this.#sleep(this.#baseRetryDelayMs * 2 ** (attempt - 2));
      try {
        const response = await this.#client.send(
          new PutEventsCommand({ Entries: pending.map((event) => this.#entry(event)) }),
        );
        const entries = response.Entries ?? [];
        const failed = pending.filter((_event, index) => entries[index]?.ErrorCode !== undefined);
        lastReason = entries.find((entry) => entry.ErrorCode)?.ErrorMessage ?? lastReason;
        pending = failed;
      } catch (error) {
        lastReason = error instanceof Error ? error.message : String(error);
      }
    }
    for (const event of pending) this.#onLost(event, lastReason || 'PutEvents failed');
  }

  #entry(event: GiftOutcomeEvent): PutEventsRequestEntry {
    return {
      EventBusName: this.#busName,
      Source: OUTCOME_EVENT_SOURCE,
      DetailType: event.detailType,
      Detail: JSON.stringify(event.detail),
      Time: new Date(event.detail.occurred_at),
    };
  }
}
