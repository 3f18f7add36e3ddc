import { appendFile } from 'node:fs/promises';
import {
  type GiftOutcomeEvent,
  OUTCOME_EVENT_SOURCE,
  type OutcomePublisher,
} from '../ports/outcome-events.ts';

/**
 * Outcome events for local runs, where there is no EventBridge: one JSON line per event, shaped as
 * EventBridge delivers it to a target (`source`, `detail-type`, `time`, `detail`), appended to a
 * file that `gift-batch send` reads back.
 */
export class JsonLinesOutcomePublisher implements OutcomePublisher {
  readonly #path: string;

  constructor(options: { path: string }) {
    this.#path = options.path;
  }

  async publish(events: GiftOutcomeEvent[]): Promise<void> {
    if (events.length === 0) return;
    const lines = events.map((event) => `${JSON.stringify(toEnvelope(event))}\n`).join('');
    await appendFile(this.#path, lines, 'utf8');
  }
}

export function toEnvelope(event: GiftOutcomeEvent): Record<string, unknown> {
  return {
    source: OUTCOME_EVENT_SOURCE,
    'detail-type': event.detailType,
    time: event.detail.occurred_at,
    detail: event.detail,
  };
}
