import type { GiftRequestBody } from '../../ports/gifting-api.ts';
import type { RowError } from '../../ports/ledger.ts';
import { buildBody, type Candidate, checkCandidate } from '../recipients/schema.ts';
import { unknownKeys } from '../recipients/validate.ts';

/**
 * The event contract for one gift (schemas/gift-event.v1.json), checked without a schema library so
 * the core stays dependency-free. The gift fields (campaign, recipient, shipping address, items) are
 * checked by THE recipient schema (recipients/schema.ts), exactly as a file row is; this module adds
 * only the event's own fields. A unit test holds this file and the JSON Schema to the same names and
 * limits.
 */
export const GIFT_EVENT_VERSION = 1;
/** EventBridge: the detail-type producers put on the stack's bus (any source). */
export const GIFT_REQUESTED_DETAIL_TYPE = 'Gift Requested';

export const GIFT_EVENT_LIMITS = {
  idempotencyKeyMaxLength: 200,
  externalIdMaxLength: 200,
  metadataMaxEntries: 20,
  metadataKeyMaxLength: 64,
  metadataValueMaxLength: 500,
} as const;

/** The contract's own top-level fields; the others are the &Open body's. */
export const EVENT_FIELDS = ['version', 'idempotency_key', 'external_id', 'metadata'] as const;
export const REQUIRED_EVENT_FIELDS = ['version', 'idempotency_key', 'campaign_id', 'recipient'];

/** Errors of an event, in the ledger's shape (local validation, named by the contract's path). */
export const EVENT_VALIDATION_ERROR_TYPE = 'local_validation_error';

/** How the event arrived: an EventBridge event on the bus, or the contract put straight on the queue. */
export type EventVia = 'eventbridge' | 'queue';

/** An event whose idempotency key is readable: it becomes a ledger row, valid or not. */
export interface KeyedGiftEvent {
  kind: 'keyed';
  via: EventVia;
  idempotencyKey: string;
  /** The contract object as sent (the EventBridge `detail`), for hashing and echoing. */
  payload: Candidate;
  /** Every problem at once; empty when the gift can be sent. */
  errors: RowError[];
  /** The exact &Open body when valid. */
  body: GiftRequestBody | null;
  externalId: string | null;
  metadata: Record<string, string> | null;
  echo: {
    campaignId: string | null;
    firstName: string | null;
    lastName: string | null;
    email: string | null;
  };
}

/** A message that cannot be tied to a key: it can only go to the dead-letter queue. */
export interface UnreadableGiftEvent {
  kind: 'unreadable';
  reason: string;
}

export type GiftEventReading = KeyedGiftEvent | UnreadableGiftEvent;

/**
 * Reads one intake message body: an EventBridge event (`detail-type` "Gift Requested", the contract
 * in `detail`) or the contract itself. Returns every error of a readable event, or why it is unreadable.
 */
export function readGiftEvent(body: string): GiftEventReading {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch (error) {
    return unreadable(`the message is not JSON (${(error as Error).message})`);
  }
  if (!isObject(parsed)) return unreadable('the message must be a JSON object');
  let via: EventVia = 'queue';
  let payload: Candidate = parsed;
  if ('detail-type' in parsed || 'detail' in parsed) {
    via = 'eventbridge';
    if (parsed['detail-type'] !== GIFT_REQUESTED_DETAIL_TYPE) {
      return unreadable(
        `an EventBridge event must have detail-type "${GIFT_REQUESTED_DETAIL_TYPE}" (got ${JSON.stringify(parsed['detail-type'])})`,
      );
    }
    if (!isObject(parsed.detail)) return unreadable('the EventBridge event has no detail object');
    payload = parsed.detail;
  }
  const key = payload.idempotency_key;
  if (typeof key !== 'string' || key.length === 0) {
    return unreadable('the event has no idempotency_key: it cannot be recorded exactly once');
  }
  if (key.length > GIFT_EVENT_LIMITS.idempotencyKeyMaxLength) {
    return unreadable(
      `idempotency_key is longer than ${GIFT_EVENT_LIMITS.idempotencyKeyMaxLength} characters`,
    );
  }
  return { kind: 'keyed', via, idempotencyKey: key, payload, ...checkGiftEvent(payload) };
}

/** Checks a contract object (its key already read) and builds the &Open body when it is valid. */
export function checkGiftEvent(
  payload: Candidate,
): Pick<KeyedGiftEvent, 'errors' | 'body' | 'externalId' | 'metadata' | 'echo'> {
  const errors: RowError[] = [];
  const fail = (param: string | null, code: string, message: string) =>
    errors.push({
      type: EVENT_VALIDATION_ERROR_TYPE,
      code,
      param,
      message: param === null ? message : `${param}: ${message}`,
    });

  if (payload.version === undefined) fail('version', 'required', 'is required (1)');
  else if (payload.version !== GIFT_EVENT_VERSION) {
    fail(
      'version',
      'invalid',
      `must be ${GIFT_EVENT_VERSION} (got ${JSON.stringify(payload.version)})`,
    );
  }

  const { version: _v, idempotency_key: _k, external_id, metadata, ...candidate } = payload;
  for (const error of checkCandidate(candidate, (_rule, param) => param)) {
    fail(error.param, error.code, error.message);
  }
  // A JSON event says what it means: a quantity is a number, not a numeric string as in a CSV cell.
  if (Array.isArray(candidate.line_items)) {
    candidate.line_items.forEach((item: unknown, index) => {
      if (isObject(item) && typeof item.quantity === 'string') {
        fail(
          `line_items[${index}].quantity`,
          'invalid_format',
          'must be a JSON integer, not a string',
        );
      }
    });
  }
  for (const path of unknownKeys(candidate)) {
    fail(path, 'unknown_field', 'is not a field of the gift event contract (version 1)');
  }

  let externalId: string | null = null;
  if (external_id !== undefined && external_id !== null) {
    if (typeof external_id !== 'string') fail('external_id', 'invalid_format', 'must be a string');
    else if (external_id.length > GIFT_EVENT_LIMITS.externalIdMaxLength) {
      fail(
        'external_id',
        'invalid',
        `must be at most ${GIFT_EVENT_LIMITS.externalIdMaxLength} characters`,
      );
    } else externalId = external_id.trim() || null;
  }
  const checkedMetadata = checkMetadata(metadata, fail);

  const recipient = isObject(candidate.recipient) ? candidate.recipient : {};
  return {
    errors,
    body: errors.length === 0 ? buildBody(candidate) : null,
    externalId,
    metadata: checkedMetadata,
    echo: {
      campaignId: text(candidate.campaign_id),
      firstName: text(recipient.first_name),
      lastName: text(recipient.last_name),
      email: text(recipient.email),
    },
  };
}

function checkMetadata(
  metadata: unknown,
  fail: (param: string | null, code: string, message: string) => void,
): Record<string, string> | null {
  if (metadata === undefined || metadata === null) return null;
  if (!isObject(metadata)) {
    fail('metadata', 'invalid_format', 'must be an object of string values');
    return null;
  }
  const limits = GIFT_EVENT_LIMITS;
  const entries = Object.entries(metadata);
  if (entries.length > limits.metadataMaxEntries) {
    fail(
      'metadata',
      'invalid',
      `has ${entries.length} entries; at most ${limits.metadataMaxEntries}`,
    );
  }
  const kept: Record<string, string> = {};
  for (const [key, value] of entries) {
    if (key.length === 0 || key.length > limits.metadataKeyMaxLength) {
      fail(
        'metadata',
        'invalid',
        `keys must be 1–${limits.metadataKeyMaxLength} characters (got "${key.slice(0, 80)}")`,
      );
    } else if (typeof value !== 'string') {
      fail(`metadata.${key}`, 'invalid_format', 'must be a string');
    } else if (value.length > limits.metadataValueMaxLength) {
      fail(
        `metadata.${key}`,
        'invalid',
        `must be at most ${limits.metadataValueMaxLength} characters`,
      );
    } else kept[key] = value;
  }
  return entries.length === 0 ? null : kept;
}

/**
 * The payload's identity for the idempotency check: its canonical JSON (keys sorted at every level),
 * hashed, so that the same event sent through EventBridge or straight to the queue, with its keys in
 * any order, is the same payload.
 */
export async function payloadHash(payload: Candidate): Promise<string> {
  const digest = await crypto.subtle.digest(
    'SHA-256',
    new TextEncoder().encode(canonicalJson(payload)),
  );
  return Array.from(new Uint8Array(digest), (byte) => byte.toString(16).padStart(2, '0')).join('');
}

export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (isObject(value)) {
    const keys = Object.keys(value)
      .filter((key) => value[key] !== undefined)
      .sort();
    return `{${keys.map((key) => `${JSON.stringify(key)}:${canonicalJson(value[key])}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

function unreadable(reason: string): UnreadableGiftEvent {
  return { kind: 'unreadable', reason };
}

function text(value: unknown): string | null {
  return typeof value === 'string' && value.trim() !== '' ? value.trim() : null;
}

function isObject(value: unknown): value is Candidate {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
