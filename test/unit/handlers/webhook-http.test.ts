import { createHmac } from 'node:crypto';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { HmacWebhookSignature } from '../../../lambdas/adapters/hmac-webhook-signature.ts';
import { verifyDelivery } from '../../../lambdas/core/webhooks/delivery.ts';
import { deliveryOf, responseOf } from '../../../lambdas/handlers/webhook-http.ts';

const SECRET = 'whsec_http';
const NOW_S = 1_795_000_000;

function functionUrlEvent(body: string, isBase64Encoded: boolean, signedBody: Buffer) {
  const timestamp = String(NOW_S);
  const signature = createHmac('sha256', SECRET)
    .update(`${timestamp}.`)
    .update(signedBody)
    .digest('hex');
  return {
    version: '2.0',
    rawPath: '/',
    headers: {
      // Function URLs lowercase header names; a proxy in front might not.
      'AndOpen-Webhook-Signature': signature,
      'andopen-webhook-dispatch-timestamp': timestamp,
      'andopen-webhook-event-id': '7d0c7e38-62cf-4a6b-9a55-0d6b2b7f4f1e',
      'content-type': 'application/json',
    },
    requestContext: { http: { method: 'POST' } },
    body,
    isBase64Encoded,
  } as unknown as APIGatewayProxyEventV2;
}

describe('the webhook Function URL', () => {
  it('decodes a base64 body to the exact bytes signed, non-UTF-8 bytes included', () => {
    // Prepare
    const bytes = Buffer.concat([
      Buffer.from('{"id":"g1","note":"'),
      Buffer.from([0xe9]),
      Buffer.from('"}'),
    ]);
    const event = functionUrlEvent(bytes.toString('base64'), true, bytes);

    // Act
    const delivery = deliveryOf(event);

    // Assess
    expect(Buffer.from(delivery.body).equals(bytes)).toBe(true);
    const verified = verifyDelivery(delivery, new HmacWebhookSignature(SECRET), NOW_S * 1000);
    expect(verified).not.toHaveProperty('refused');
  });

  it('keeps a plain text body byte for byte, and reads header names in any case', () => {
    // Prepare
    const text = '{ "id": "g1", "status": "submitted", "name": "Zoë" }';
    const event = functionUrlEvent(text, false, Buffer.from(text, 'utf8'));

    // Act
    const delivery = deliveryOf(event);

    // Assess
    expect(new TextDecoder().decode(delivery.body)).toBe(text);
    expect(verifyDelivery(delivery, new HmacWebhookSignature(SECRET), NOW_S * 1000)).toMatchObject({
      eventId: '7d0c7e38-62cf-4a6b-9a55-0d6b2b7f4f1e',
    });
  });

  it('a base64 body read as text would not verify (the decode matters)', () => {
    // Prepare
    const bytes = Buffer.from('{"id":"g1","status":"submitted"}');
    const event = functionUrlEvent(bytes.toString('base64'), false, bytes);

    // Act
    const verified = verifyDelivery(
      deliveryOf(event),
      new HmacWebhookSignature(SECRET),
      NOW_S * 1000,
    );

    // Assess
    expect(verified).toMatchObject({ refused: 'bad-signature' });
  });

  it.each([
    [{ kind: 'refused', refused: 'malformed', reason: 'missing header' } as const, 400],
    [{ kind: 'refused', refused: 'bad-signature', reason: 'no match' } as const, 401],
    [{ kind: 'refused', refused: 'stale', reason: 'old' } as const, 401],
    [{ kind: 'unknown-gift', eventId: 'e', giftRequestId: 'g' } as const, 200],
    [{ kind: 'not-a-gift', eventId: 'e', eventType: 't' } as const, 200],
    [{ kind: 'gave-up', eventId: 'e', giftRequestId: 'g' } as const, 503],
    [
      {
        kind: 'duplicate',
        eventId: 'e',
        giftRequestId: 'g',
        batchId: 'b',
        row: 1,
        giftStatus: 'submitted',
        settled: false,
      } as const,
      200,
    ],
  ])('answers %o with HTTP %i', (outcome, status) => {
    // Act
    const response = responseOf(outcome);

    // Assess
    expect(response.statusCode).toBe(status);
  });
});
