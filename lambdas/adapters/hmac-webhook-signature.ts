import { createHmac, timingSafeEqual } from 'node:crypto';
import type { WebhookSignature } from '../ports/webhook-signature.ts';

const HEX_SHA256 = /^[0-9a-f]{64}$/;

/** &Open's webhook signature with node:crypto: HMAC-SHA256 under the secret, compared in constant time. */
export class HmacWebhookSignature implements WebhookSignature {
  readonly #secret: Buffer;

  constructor(secret: string) {
    if (secret === '') throw new Error('the webhook secret is empty');
    this.#secret = Buffer.from(secret, 'utf8');
  }

  matches(signedBytes: Uint8Array, signatureHex: string): boolean {
    // A fixed length first, so that timingSafeEqual compares equal sizes and reveals nothing.
    if (!HEX_SHA256.test(signatureHex)) return false;
    const expected = createHmac('sha256', this.#secret).update(signedBytes).digest();
    return timingSafeEqual(expected, Buffer.from(signatureHex, 'hex'));
  }
}
