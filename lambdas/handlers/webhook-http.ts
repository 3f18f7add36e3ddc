import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import type { WebhookDelivery } from '../core/webhooks/delivery.ts';
import type { WebhookOutcome } from '../core/webhooks/webhook-service.ts';

/** The exact bytes &Open sent: a Function URL gives non-text bodies base64-encoded. */
export function deliveryOf(event: APIGatewayProxyEventV2): WebhookDelivery {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(event.headers ?? {})) {
    if (value !== undefined) headers[name.toLowerCase()] = value;
  }
  const body = event.body ?? '';
  return {
    headers,
    body: new Uint8Array(Buffer.from(body, event.isBase64Encoded ? 'base64' : 'utf8')),
  };
}

/** 2xx for everything &Open should not send again; 401/400 for what it must not have sent. */
export function responseOf(outcome: WebhookOutcome): APIGatewayProxyStructuredResultV2 {
  if (outcome.kind === 'refused') {
    return answer(outcome.refused === 'malformed' ? 400 : 401, { error: outcome.reason });
  }
  // Every optimistic write lost to a concurrent one: nothing recorded, so let &Open deliver again.
  if (outcome.kind === 'gave-up') return answer(503, { error: 'busy, deliver again' });
  return answer(200, { received: true, outcome: outcome.kind });
}

export function answer(statusCode: number, body: unknown): APIGatewayProxyStructuredResultV2 {
  return {
    statusCode,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  };
}
