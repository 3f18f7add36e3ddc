import type { WebhookSignature } from '../../ports/webhook-signature.ts';

/** The &Open webhook headers (2026-05), lowercase as HTTP/2 and Lambda Function URLs give them. */
export const WEBHOOK_HEADERS = {
  signature: 'andopen-webhook-signature',
  timestamp: 'andopen-webhook-dispatch-timestamp',
  eventId: 'andopen-webhook-event-id',
  eventType: 'andopen-webhook-event-type',
  apiVersion: 'andopen-webhook-api-version',
} as const;

/** &Open's rule: a delivery whose timestamp is further than this from now is refused (replays). */
export const MAX_CLOCK_SKEW_MS = 5 * 60_000;

/** One HTTP delivery as it arrived: header names lowercase, the body exactly as received. */
export interface WebhookDelivery {
  headers: Readonly<Record<string, string | undefined>>;
  body: Uint8Array;
}

export interface VerifiedDelivery {
  eventId: string;
  /** Opaque: &Open's type names are not public; the payload's fields decide what happens. */
  eventType: string;
  apiVersion: string | null;
  /** Dispatch time, Unix seconds. */
  timestamp: number;
}

/** Why a delivery is refused; `malformed` → 400, the others → 401. */
export type RefusedDelivery = {
  refused: 'malformed' | 'bad-signature' | 'stale';
  /** Names what was wrong, never the secret or the signature. */
  reason: string;
};

const HEX_SHA256 = /^[0-9a-f]{64}$/;
const UNIX_SECONDS = /^\d{1,12}$/;

/**
 * Authenticates a delivery: the signature over `{timestamp}.{raw body}` must match and the timestamp
 * must be within five minutes of now (either way: a clock ahead is as suspect as a replay).
 * The signature is the only authentication the endpoint has.
 */
export function verifyDelivery(
  delivery: WebhookDelivery,
  signature: WebhookSignature,
  nowMs: number,
): VerifiedDelivery | RefusedDelivery {
  const header = (name: string) => delivery.headers[name]?.trim() || null;
  const signatureHex = header(WEBHOOK_HEADERS.signature)?.toLowerCase() ?? null;
  const timestampText = header(WEBHOOK_HEADERS.timestamp);
  const eventId = header(WEBHOOK_HEADERS.eventId);
  if (signatureHex === null || timestampText === null || eventId === null) {
    const missing = [
      signatureHex === null ? WEBHOOK_HEADERS.signature : null,
      timestampText === null ? WEBHOOK_HEADERS.timestamp : null,
      eventId === null ? WEBHOOK_HEADERS.eventId : null,
    ].filter((name) => name !== null);
    return { refused: 'malformed', reason: `missing header ${missing.join(', ')}` };
  }
  if (!HEX_SHA256.test(signatureHex)) {
    return { refused: 'malformed', reason: 'the signature is not 64 hex digits' };
  }
  if (!UNIX_SECONDS.test(timestampText)) {
    return { refused: 'malformed', reason: 'the dispatch timestamp is not Unix seconds' };
  }
  const timestamp = Number(timestampText);
  const signed = concat(new TextEncoder().encode(`${timestampText}.`), delivery.body);
  // Check the signature before the clock, so that nothing about the clock leaks to a forger.
  if (!signature.matches(signed, signatureHex)) {
    return { refused: 'bad-signature', reason: 'the signature does not match the body' };
  }
  const skewMs = Math.abs(nowMs - timestamp * 1000);
  if (skewMs > MAX_CLOCK_SKEW_MS) {
    return {
      refused: 'stale',
      reason: `the dispatch timestamp is ${Math.round(skewMs / 1000)} s from now (at most ${MAX_CLOCK_SKEW_MS / 1000} s)`,
    };
  }
  return {
    eventId,
    eventType: header(WEBHOOK_HEADERS.eventType) ?? '',
    apiVersion: header(WEBHOOK_HEADERS.apiVersion),
    timestamp,
  };
}

function concat(head: Uint8Array, tail: Uint8Array): Uint8Array {
  const joined = new Uint8Array(head.length + tail.length);
  joined.set(head, 0);
  joined.set(tail, head.length);
  return joined;
}
