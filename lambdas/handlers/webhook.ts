import { Logger } from '@aws-lambda-powertools/logger';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type {
  APIGatewayProxyEventV2,
  APIGatewayProxyStructuredResultV2,
  Context,
} from 'aws-lambda';
import { DynamoDbLedger } from '../adapters/dynamodb-ledger.ts';
import { HmacWebhookSignature } from '../adapters/hmac-webhook-signature.ts';
import { readWebhookSecret } from '../adapters/secret-webhook.ts';
import { webhookConfig } from '../config.ts';
import { OutcomeNotifier } from '../core/events/outcome-events.ts';
import { type WebhookOutcome, WebhookService } from '../core/webhooks/webhook-service.ts';
import { systemClock } from '../ports/clock.ts';
import { createOutcomePublisher } from './outcome-publisher.ts';
import { answer, deliveryOf, responseOf } from './webhook-http.ts';

/**
 * Signed &Open webhooks behind a Lambda Function URL. Only the ledger and the signing secret are
 * needed: this handler does not share the other handlers' dependencies (queue, results bucket), so
 * its role and environment stay that small.
 */
const logger = new Logger({ serviceName: 'gift-batch' });
const config = webhookConfig();
const ledger = new DynamoDbLedger({
  client: new DynamoDBClient({}),
  tableName: config.ledgerTable,
});
// A gift event's producer hears of its gift when the link arrives, whether by webhook or by poll.
const outcomes = new OutcomeNotifier({
  ledger,
  publisher: createOutcomePublisher(logger),
  clock: systemClock,
});

let service: Promise<WebhookService> | undefined;

/** Built on first use, so the secret is read once per container. */
function webhookService(): Promise<WebhookService> {
  service ??= createService().catch((error: unknown) => {
    service = undefined; // a secret that could not be read is tried again on the next delivery
    throw error;
  });
  return service;
}

async function createService(): Promise<WebhookService> {
  const secret =
    config.secret.kind === 'env'
      ? config.secret.value
      : await readWebhookSecret(new SecretsManagerClient({}), config.secret.secretId);
  return new WebhookService({
    ledger,
    signature: new HmacWebhookSignature(secret),
    clock: systemClock,
  });
}

export const handler = async (
  event: APIGatewayProxyEventV2,
  context: Context,
): Promise<APIGatewayProxyStructuredResultV2> => {
  logger.addContext(context);
  if (
    event.requestContext?.http?.method !== undefined &&
    event.requestContext.http.method !== 'POST'
  ) {
    return answer(405, { error: 'webhooks are delivered with POST' });
  }
  let outcome: WebhookOutcome;
  try {
    outcome = await (await webhookService()).receive(deliveryOf(event));
  } catch (error) {
    // The ledger or the secret failed: &Open delivers again later, and the event was not recorded.
    logger.error('webhook not processed', { error });
    return answer(500, { error: 'not processed, deliver again' });
  }
  logOutcome(outcome);
  if (outcome.kind === 'applied' && outcome.settled) {
    // Only event-sourced rows publish; a lost event is logged, never a reason to refuse the delivery.
    await outcomes
      .rowsDecided([{ batchId: outcome.batchId, row: outcome.row }])
      .catch((error: unknown) => logger.error('could not publish outcome events', { error }));
  }
  return responseOf(outcome);
};

function logOutcome(outcome: WebhookOutcome): void {
  switch (outcome.kind) {
    case 'refused':
      logger.warn('webhook refused', { refused: outcome.refused, reason: outcome.reason });
      return;
    case 'unknown-gift':
      // It may belong to another system on the same &Open account: answered 200, never retried.
      logger.info('webhook for a gift request this ledger did not create', { ...outcome });
      return;
    case 'not-a-gift':
      logger.info('webhook without a gift request in it, ignored', { ...outcome });
      return;
    case 'gave-up':
      logger.warn('webhook lost every write to concurrent changes; asked &Open to deliver again', {
        ...outcome,
      });
      return;
    default:
      logger.info('webhook', { ...outcome });
  }
}
