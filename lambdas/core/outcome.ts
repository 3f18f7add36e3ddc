/**
 * THE outcome classification: what an answer (or a missing answer) from &Open means for a ledger row
 * and for the sender fleet. Pure functions over `ApiCall`; the ledger and the sender act on the kind.
 *
 * The rule behind every line: a POST is only called `rejected` or `not-sent` when the answer PROVES
 * nothing was created, because those rows may be sent again (after a fix or a backoff), and &Open has no
 * idempotency key to catch a second send. When in doubt the row is `ambiguous` (the ledger's
 * `unknown`): a person checks it, it is never re-sent automatically. Failures that would hit every row
 * the same way (bad key, wrong version, wrong URL) are `configuration-stop`: the row stays pending and
 * the fleet stops, so a bad key never burns a whole batch.
 *
 * POST /gift_requests (classifyCreate):
 * | answer                                                  | kind               | why                   |
 * |---------------------------------------------------------|--------------------|-----------------------|
 * | 2xx with a parseable gift                               | created            |                       |
 * | 2xx without a parseable gift (incl. 204)                | ambiguous          | created, id unknown   |
 * | 422 (any code)                                          | rejected           | validation            |
 * | 400 unsupported_api_version                             | configuration-stop | every row would fail  |
 * | 400 malformed_request, any other 400 (or no body)       | rejected + alarm   | "could not be processed at all": not created, a bug in us |
 * | 401, 403, 407                                           | configuration-stop | credentials           |
 * | 404, 405, 410 on POST                                   | configuration-stop | wrong URL or method   |
 * | 406, 411, 414, 415, 421, 426, 431                       | configuration-stop | request shape refused before processing, same for every row |
 * | 413                                                     | rejected + alarm   | this row's body is too big: not processed |
 * | 408, 425                                                | unavailable        | the server says it did not process it; retry |
 * | 429                                                     | throttled          | retryAfterMs or null  |
 * | 503                                                     | unavailable        | retryAfterMs or null  |
 * | 500, 502, 504, any other 5xx                            | ambiguous          | may have been created |
 * | 3xx except 303                                          | configuration-stop | the base URL redirects (http→https, moved host): nothing processed there |
 * | 303                                                     | ambiguous          | "see other" is how a server answers a POST it processed |
 * | any other 4xx (409, 418, 423…), 1xx, ≥ 600              | ambiguous          | not documented: doubt |
 * | transport failure, requestSent: true                    | ambiguous          | timeout/reset after writing |
 * | transport failure, requestSent: false                   | not-sent           | refused, DNS, connect timeout |
 * | no credentials (the key's secret is missing or empty)   | configuration-stop | nothing sent; every row would fail the same way |
 *
 * GET /gift_requests/{id} (classifyGet): a GET changes nothing, so anything transient is `retry-later`.
 * | answer                                                  | kind               |
 * |---------------------------------------------------------|--------------------|
 * | 2xx with a parseable gift                               | found              |
 * | 2xx without a parseable gift                            | retry-later        |
 * | 404, 410                                                | not-found          |
 * | 429                                                     | throttled          |
 * | 503, 408, 425                                           | retry-later (honours retryAfterMs) |
 * | 500, 502, 504, any other 5xx                            | retry-later        |
 * | every transport failure (sent or not)                   | retry-later        |
 * | 400 unsupported_api_version, 401, 403, 407              | configuration-stop |
 * | no credentials (the key's secret is missing or empty)   | configuration-stop |
 * | 3xx, any other 4xx (incl. other 400 codes)              | configuration-stop: a read has no row-specific body, so these are a bug or wrong configuration; retrying would loop silently |
 * | 1xx, ≥ 600                                              | retry-later        |
 */

import type { ApiCall, ApiError, GiftRequest, TransportFailure } from '../ports/gifting-api.ts';

type TransportReason = TransportFailure['reason'];

/** Why the fleet must stop; `code` on the outcome carries &Open's own error code when it sent one. */
export type ConfigurationStopReason =
  | 'unsupported-api-version'
  | 'authentication'
  | 'authorization'
  | 'endpoint-not-found'
  | 'redirect'
  | 'request-refused'
  /** No request was made: the API key's secret is missing, empty or cannot be read. */
  | 'no-credentials';

interface Answered {
  httpStatus: number;
  /** The `Request-Id` of the answer that decided the row (support asks for it). */
  requestId: string | null;
}

export interface CreatedOutcome extends Answered {
  kind: 'created';
  /** id, status, redemption_url (may be null until &Open generates it). */
  gift: GiftRequest;
}

export interface RejectedOutcome extends Answered {
  kind: 'rejected';
  /** Every error &Open returned (type, code, param, message), in its order. */
  errors: ApiError[];
  /** True when the rejection points at a bug in us rather than at the row's data. */
  alarm: boolean;
}

export interface ConfigurationStopOutcome {
  kind: 'configuration-stop';
  reason: ConfigurationStopReason;
  /** Null when no request was made (`no-credentials`). */
  httpStatus: number | null;
  requestId: string | null;
  /** For `no-credentials`: which secret and what is wrong with it (never its value). */
  message?: string;
  /** &Open's error code (e.g. `invalid_token`), or null when the answer carried none. */
  code: string | null;
  errors: ApiError[];
}

export interface ThrottledOutcome extends Answered {
  kind: 'throttled';
  /** Null when &Open gave no usable Retry-After: the caller applies its own backoff. */
  retryAfterMs: number | null;
  errors: ApiError[];
}

export interface UnavailableOutcome extends Answered {
  kind: 'unavailable';
  retryAfterMs: number | null;
  errors: ApiError[];
}

export type AmbiguousReason =
  | 'server-error'
  | 'unparseable-body'
  | 'unexpected-status'
  | TransportReason;

export interface AmbiguousOutcome {
  kind: 'ambiguous';
  reason: AmbiguousReason;
  /** Null when no answer arrived (transport failure after the request was written). */
  httpStatus: number | null;
  requestId: string | null;
  errors: ApiError[];
  /** A short description for the results file and logs (never secrets). */
  message: string;
}

export interface NotSentOutcome {
  kind: 'not-sent';
  reason: TransportReason;
  message: string;
}

export type CreateOutcome =
  | CreatedOutcome
  | RejectedOutcome
  | ConfigurationStopOutcome
  | ThrottledOutcome
  | UnavailableOutcome
  | AmbiguousOutcome
  | NotSentOutcome;

export interface FoundOutcome extends Answered {
  kind: 'found';
  gift: GiftRequest;
}

export interface NotFoundOutcome extends Answered {
  kind: 'not-found';
  errors: ApiError[];
}

export type RetryLaterReason =
  | 'unavailable'
  | 'server-error'
  | 'unparseable-body'
  | 'unexpected-status'
  | TransportReason;

export interface RetryLaterOutcome {
  kind: 'retry-later';
  reason: RetryLaterReason;
  httpStatus: number | null;
  requestId: string | null;
  /** Honour it when present (503 maintenance); null → the caller's own backoff. */
  retryAfterMs: number | null;
  errors: ApiError[];
  message: string;
}

export type GetOutcome =
  | FoundOutcome
  | NotFoundOutcome
  | ThrottledOutcome
  | RetryLaterOutcome
  | ConfigurationStopOutcome;

/** Statuses that refuse the request itself (not the row's data) before anything is processed. */
const REQUEST_REFUSED_STATUSES = new Set([406, 411, 414, 415, 421, 426, 431]);
/** The server says it did not process the request and it may be repeated. */
const NOT_PROCESSED_RETRYABLE_STATUSES = new Set([408, 425]);

export function classifyCreate(call: ApiCall<GiftRequest>): CreateOutcome {
  if (call.kind === 'no-credentials') return noCredentials(call.message);
  if (call.kind === 'transport-failure') {
    if (!call.requestSent) return { kind: 'not-sent', reason: call.reason, message: call.message };
    return {
      kind: 'ambiguous',
      reason: call.reason,
      httpStatus: null,
      requestId: null,
      errors: [],
      message: `no answer after the request was sent (${call.message})`,
    };
  }

  const { status, requestId, errors } = call;
  const answered = { httpStatus: status, requestId };
  const ambiguous = (reason: AmbiguousReason, message: string): AmbiguousOutcome => ({
    kind: 'ambiguous',
    reason,
    ...answered,
    errors,
    message,
  });

  if (isSuccess(status)) {
    if (call.body !== null) return { kind: 'created', ...answered, gift: call.body };
    return ambiguous('unparseable-body', `HTTP ${status} without a readable gift request`);
  }
  if (status === 422) return { kind: 'rejected', ...answered, errors, alarm: false };
  if (status === 400) {
    if (hasCode(errors, 'unsupported_api_version')) {
      return configurationStop(answered, errors, 'unsupported-api-version');
    }
    return { kind: 'rejected', ...answered, errors, alarm: true };
  }
  if (status === 429)
    return { kind: 'throttled', ...answered, retryAfterMs: call.retryAfterMs, errors };
  if (status === 503 || NOT_PROCESSED_RETRYABLE_STATUSES.has(status)) {
    return { kind: 'unavailable', ...answered, retryAfterMs: call.retryAfterMs, errors };
  }
  if (status >= 500 && status <= 599) {
    return ambiguous('server-error', `HTTP ${status}: the gift request may have been created`);
  }
  const stopReason = createStopReason(status);
  if (stopReason !== null) return configurationStop(answered, errors, stopReason);
  if (status === 413) return { kind: 'rejected', ...answered, errors, alarm: true };
  return ambiguous(
    'unexpected-status',
    `unexpected HTTP ${status}: the gift request may have been created`,
  );
}

export function classifyGet(call: ApiCall<GiftRequest>): GetOutcome {
  if (call.kind === 'no-credentials') return noCredentials(call.message);
  if (call.kind === 'transport-failure') {
    return {
      kind: 'retry-later',
      reason: call.reason,
      httpStatus: null,
      requestId: null,
      retryAfterMs: null,
      errors: [],
      message: call.message,
    };
  }

  const { status, requestId, errors, retryAfterMs } = call;
  const answered = { httpStatus: status, requestId };
  const retryLater = (reason: RetryLaterReason, message: string): RetryLaterOutcome => ({
    kind: 'retry-later',
    reason,
    ...answered,
    retryAfterMs,
    errors,
    message,
  });

  if (isSuccess(status)) {
    if (call.body !== null) return { kind: 'found', ...answered, gift: call.body };
    return retryLater('unparseable-body', `HTTP ${status} without a readable gift request`);
  }
  if (status === 404 || status === 410) return { kind: 'not-found', ...answered, errors };
  if (status === 429) return { kind: 'throttled', ...answered, retryAfterMs, errors };
  if (status === 503 || NOT_PROCESSED_RETRYABLE_STATUSES.has(status)) {
    return retryLater('unavailable', `HTTP ${status}`);
  }
  if (status >= 500 && status <= 599) return retryLater('server-error', `HTTP ${status}`);
  if (status >= 300 && status <= 499) {
    return configurationStop(answered, errors, getStopReason(status, errors));
  }
  return retryLater('unexpected-status', `unexpected HTTP ${status}`);
}

/** The configuration-stop reason for a non-2xx POST answer, or null when it is not one. */
function createStopReason(status: number): ConfigurationStopReason | null {
  if (status === 401 || status === 407) return 'authentication';
  if (status === 403) return 'authorization';
  if (status === 404 || status === 405 || status === 410) return 'endpoint-not-found';
  if (REQUEST_REFUSED_STATUSES.has(status)) return 'request-refused';
  if (status >= 300 && status <= 399 && status !== 303) return 'redirect';
  return null;
}

function getStopReason(status: number, errors: ApiError[]): ConfigurationStopReason {
  if (status === 400 && hasCode(errors, 'unsupported_api_version'))
    return 'unsupported-api-version';
  if (status === 401 || status === 407) return 'authentication';
  if (status === 403) return 'authorization';
  if (status === 405) return 'endpoint-not-found';
  if (status >= 300 && status <= 399) return 'redirect';
  return 'request-refused';
}

function configurationStop(
  answered: Answered,
  errors: ApiError[],
  reason: ConfigurationStopReason,
): ConfigurationStopOutcome {
  return {
    kind: 'configuration-stop',
    ...answered,
    reason,
    code: errors.find((error) => error.code !== '')?.code ?? null,
    errors,
  };
}

function noCredentials(message: string): ConfigurationStopOutcome {
  return {
    kind: 'configuration-stop',
    reason: 'no-credentials',
    httpStatus: null,
    requestId: null,
    code: null,
    errors: [],
    message,
  };
}

/**
 * A configuration stop in words, for the batch's stop reason, alarms and logs: what was refused and
 * what a person does about it.
 */
export function describeConfigurationStop(outcome: ConfigurationStopOutcome): string {
  if (outcome.reason === 'no-credentials') {
    return `no usable &Open API key (${outcome.message ?? 'the key could not be read'}): put the key in its secret, then resume`;
  }
  return `&Open refused our configuration (HTTP ${outcome.httpStatus}${
    outcome.code ? `, ${outcome.code}` : ''
  }): ${outcome.reason}`;
}

function isSuccess(status: number): boolean {
  return status >= 200 && status <= 299;
}

function hasCode(errors: ApiError[], code: string): boolean {
  return errors.some((error) => error.code === code);
}

/** The Retry-After an outcome carries (429, 503, retry-later), or null. */
export function retryAfterOf(outcome: CreateOutcome | GetOutcome): number | null {
  return 'retryAfterMs' in outcome ? outcome.retryAfterMs : null;
}
