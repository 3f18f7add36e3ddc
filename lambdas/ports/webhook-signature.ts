/**
 * Checks an &Open webhook signature: lowercase hex HMAC-SHA256, with the webhook secret, over the
 * exact bytes `{timestamp}.{raw body}`. The adapter holds the secret and compares in constant time;
 * the core decides what to sign and when a delivery is fresh.
 */
export interface WebhookSignature {
  /** True when `signatureHex` is the signature of `signedBytes`. Never throws on a malformed one. */
  matches(signedBytes: Uint8Array, signatureHex: string): boolean;
}
