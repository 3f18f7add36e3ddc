import type { Logger } from '@aws-lambda-powertools/logger';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { EventBridgeOutcomePublisher } from '../adapters/eventbridge-outcome-publisher.ts';
import { JsonLinesOutcomePublisher } from '../adapters/jsonl-outcome-publisher.ts';
import { outcomeEventsConfig } from '../config.ts';
import type { OutcomePublisher } from '../ports/outcome-events.ts';

/**
 * Outcome events for producers of event-driven sends (GiftRequestCreated / GiftRequestFailed): on
 * the stack's bus in AWS, in a JSON Lines file on one machine, nowhere when neither is configured.
 * Its own module because the webhook handler publishes too, without the other handlers' shared
 * dependencies (queue, results bucket).
 */
export function createOutcomePublisher(logger: Logger): OutcomePublisher {
  const config = outcomeEventsConfig();
  switch (config.kind) {
    case 'eventbridge':
      return new EventBridgeOutcomePublisher({
        client: new EventBridgeClient({}),
        busName: config.busName,
        onLost: (event, reason) =>
          logger.error('outcome event lost after retries', {
            reason,
            detailType: event.detailType,
            batchId: event.detail.batch_id,
            row: event.detail.row,
            idempotencyKey: event.detail.idempotency_key,
          }),
      });
    case 'file':
      return new JsonLinesOutcomePublisher({ path: config.path });
    case 'none':
      return { publish: async () => undefined };
  }
}
