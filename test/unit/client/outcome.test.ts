import { describe, expect, it } from 'vitest';
import {
  classifyCreate,
  classifyGet,
  describeConfigurationStop,
} from '../../../lambdas/core/outcome.ts';
import type {
  ApiError,
  ApiResponse,
  GiftRequest,
  TransportFailure,
} from '../../../lambdas/ports/gifting-api.ts';

const GIFT: GiftRequest = {
  id: '4fb4cb3f-9666-43b5-8884-7f5194483d1a',
  status: 'submitted',
  campaign_id: 'a1b2c3d4-e5f6-7890-abcd-ef1234567890',
  redemption_url: null,
  recipient: { first_name: 'Alice', last_name: 'Smith' },
  shipping_address: null,
  line_items: null,
  created_at: '2026-04-16T10:30:00.000Z',
  updated_at: '2026-04-16T10:30:00.000Z',
};

function error(type: string, code: string, param: string | null = null): ApiError {
  return { type, code, message: `${code} happened`, param };
}

function answer(
  status: number,
  fields: Partial<Omit<ApiResponse<GiftRequest>, 'kind' | 'status'>> = {},
): ApiResponse<GiftRequest> {
  return {
    kind: 'response',
    status,
    requestId: 'req_123',
    body: null,
    errors: [],
    retryAfterMs: null,
    ...fields,
  };
}

function transportFailure(
  requestSent: boolean,
  reason: TransportFailure['reason'],
): TransportFailure {
  return { kind: 'transport-failure', requestSent, reason, message: `POST h: ${reason}` };
}

describe('classifyCreate: the table rows', () => {
  it('201 with a gift → created, with the gift and the Request-Id', () => {
    // Prepare
    const call = answer(201, { body: GIFT });

    // Act
    const outcome = classifyCreate(call);

    // Assess
    expect(outcome).toEqual({ kind: 'created', httpStatus: 201, requestId: 'req_123', gift: GIFT });
  });

  it('another 2xx with a parseable gift (200) → created', () => {
    // Prepare
    const call = answer(200, { body: GIFT });

    // Act
    const outcome = classifyCreate(call);

    // Assess
    expect(outcome.kind).toBe('created');
  });

  it('422 → rejected with every error (code, param, message) and no alarm', () => {
    // Prepare
    const errors = [
      error('validation_error', 'required', 'recipient.last_name'),
      error('validation_error', 'invalid_format', 'shipping_address.country_code'),
    ];
    const call = answer(422, { errors });

    // Act
    const outcome = classifyCreate(call);

    // Assess
    expect(outcome).toEqual({
      kind: 'rejected',
      httpStatus: 422,
      requestId: 'req_123',
      errors,
      alarm: false,
    });
  });

  it('422 with an unknown type and code → still rejected (any 422)', () => {
    // Prepare
    const call = answer(422, { errors: [error('brand_new_error', 'brand_new_code')] });

    // Act
    const outcome = classifyCreate(call);

    // Assess
    expect(outcome).toMatchObject({ kind: 'rejected', alarm: false });
  });

  it('400 malformed_request → rejected with alarm (a bug in us)', () => {
    // Prepare
    const errors = [error('api_error', 'malformed_request')];
    const call = answer(400, { errors });

    // Act
    const outcome = classifyCreate(call);

    // Assess
    expect(outcome).toEqual({
      kind: 'rejected',
      httpStatus: 400,
      requestId: 'req_123',
      errors,
      alarm: true,
    });
  });

  it('400 unsupported_api_version → configuration-stop', () => {
    // Prepare
    const call = answer(400, { errors: [error('api_error', 'unsupported_api_version')] });

    // Act
    const outcome = classifyCreate(call);

    // Assess
    expect(outcome).toMatchObject({
      kind: 'configuration-stop',
      reason: 'unsupported-api-version',
      code: 'unsupported_api_version',
      httpStatus: 400,
      requestId: 'req_123',
    });
  });

  it('401 → configuration-stop (authentication), keeping the code', () => {
    // Prepare
    const call = answer(401, { errors: [error('authentication_error', 'invalid_token')] });

    // Act
    const outcome = classifyCreate(call);

    // Assess
    expect(outcome).toMatchObject({
      kind: 'configuration-stop',
      reason: 'authentication',
      code: 'invalid_token',
    });
  });

  it('403 → configuration-stop (authorization)', () => {
    // Prepare
    const call = answer(403, { errors: [error('authorization_error', 'forbidden')] });

    // Act
    const outcome = classifyCreate(call);

    // Assess
    expect(outcome).toMatchObject({ kind: 'configuration-stop', reason: 'authorization' });
  });

  it('404 on POST → configuration-stop (wrong URL), code null without errors', () => {
    // Prepare
    const call = answer(404);

    // Act
    const outcome = classifyCreate(call);

    // Assess
    expect(outcome).toMatchObject({
      kind: 'configuration-stop',
      reason: 'endpoint-not-found',
      code: null,
    });
  });

  it('429 → throttled with retryAfterMs', () => {
    // Prepare
    const call = answer(429, { retryAfterMs: 30_000 });

    // Act
    const outcome = classifyCreate(call);

    // Assess
    expect(outcome).toMatchObject({ kind: 'throttled', retryAfterMs: 30_000, httpStatus: 429 });
  });

  it('429 without Retry-After → throttled with retryAfterMs null (caller backs off)', () => {
    // Prepare
    const call = answer(429);

    // Act
    const outcome = classifyCreate(call);

    // Assess
    expect(outcome).toMatchObject({ kind: 'throttled', retryAfterMs: null });
  });

  it('503 → unavailable with retryAfterMs', () => {
    // Prepare
    const call = answer(503, { retryAfterMs: 120_000 });

    // Act
    const outcome = classifyCreate(call);

    // Assess
    expect(outcome).toMatchObject({ kind: 'unavailable', retryAfterMs: 120_000, httpStatus: 503 });
  });

  it.each([500, 502, 504, 501, 599])('%i on POST → ambiguous (may have been created)', (status) => {
    // Prepare
    const call = answer(status);

    // Act
    const outcome = classifyCreate(call);

    // Assess
    expect(outcome).toMatchObject({
      kind: 'ambiguous',
      reason: 'server-error',
      httpStatus: status,
      requestId: 'req_123',
    });
  });

  it('a 2xx without a parseable gift → ambiguous (created, but no id to keep)', () => {
    // Prepare
    const call = answer(201, { body: null });

    // Act
    const outcome = classifyCreate(call);

    // Assess
    expect(outcome).toMatchObject({
      kind: 'ambiguous',
      reason: 'unparseable-body',
      httpStatus: 201,
      requestId: 'req_123',
    });
  });

  it.each(['timeout', 'reset', 'other'] as const)(
    'transport failure %s after the request was sent → ambiguous',
    (reason) => {
      // Prepare
      const call = transportFailure(true, reason);

      // Act
      const outcome = classifyCreate(call);

      // Assess
      expect(outcome).toMatchObject({
        kind: 'ambiguous',
        reason,
        httpStatus: null,
        requestId: null,
      });
      expect(outcome.kind === 'ambiguous' && outcome.message).toContain(reason);
    },
  );

  it.each(['connection-refused', 'dns', 'timeout'] as const)(
    'transport failure %s with nothing sent → not-sent',
    (reason) => {
      // Prepare
      const call = transportFailure(false, reason);

      // Act
      const outcome = classifyCreate(call);

      // Assess
      expect(outcome).toEqual({ kind: 'not-sent', reason, message: `POST h: ${reason}` });
    },
  );
});

describe('classifyCreate: the cases the table leaves open (decided)', () => {
  it('400 with another code → rejected with alarm (400 = "could not be processed at all")', () => {
    // Prepare
    const call = answer(400, { errors: [error('api_error', 'some_new_code')] });

    // Act
    const outcome = classifyCreate(call);

    // Assess
    expect(outcome).toMatchObject({ kind: 'rejected', alarm: true });
  });

  it('400 without a readable body (a proxy page) → rejected with alarm', () => {
    // Prepare
    const call = answer(400, { errors: [] });

    // Act
    const outcome = classifyCreate(call);

    // Assess
    expect(outcome).toMatchObject({ kind: 'rejected', alarm: true, errors: [] });
  });

  it('407 proxy authentication → configuration-stop (authentication)', () => {
    // Prepare
    const call = answer(407);

    // Act
    const outcome = classifyCreate(call);

    // Assess
    expect(outcome).toMatchObject({ kind: 'configuration-stop', reason: 'authentication' });
  });

  it.each([405, 410])('%i → configuration-stop (wrong endpoint)', (status) => {
    // Prepare
    const call = answer(status);

    // Act
    const outcome = classifyCreate(call);

    // Assess
    expect(outcome).toMatchObject({ kind: 'configuration-stop', reason: 'endpoint-not-found' });
  });

  it.each([406, 411, 414, 415, 421, 426, 431])(
    '%i → configuration-stop (request refused the same way for every row)',
    (status) => {
      // Prepare
      const call = answer(status);

      // Act
      const outcome = classifyCreate(call);

      // Assess
      expect(outcome).toMatchObject({ kind: 'configuration-stop', reason: 'request-refused' });
    },
  );

  it('413 → rejected with alarm (this row is too big; not processed)', () => {
    // Prepare
    const call = answer(413);

    // Act
    const outcome = classifyCreate(call);

    // Assess
    expect(outcome).toMatchObject({ kind: 'rejected', alarm: true, httpStatus: 413 });
  });

  it.each([408, 425])('%i → unavailable (the server says it did not process it)', (status) => {
    // Prepare
    const call = answer(status, { retryAfterMs: 5_000 });

    // Act
    const outcome = classifyCreate(call);

    // Assess
    expect(outcome).toMatchObject({ kind: 'unavailable', retryAfterMs: 5_000 });
  });

  it.each([409, 418, 423, 451, 499])(
    'undocumented %i → ambiguous (doubt: it may have been created)',
    (status) => {
      // Prepare
      const call = answer(status);

      // Act
      const outcome = classifyCreate(call);

      // Assess
      expect(outcome).toMatchObject({ kind: 'ambiguous', reason: 'unexpected-status' });
    },
  );

  it.each([301, 302, 307, 308])(
    '%i redirect → configuration-stop (the base URL redirects)',
    (status) => {
      // Prepare
      const call = answer(status);

      // Act
      const outcome = classifyCreate(call);

      // Assess
      expect(outcome).toMatchObject({ kind: 'configuration-stop', reason: 'redirect' });
    },
  );

  it('303 See Other → ambiguous (how a server answers a POST it processed)', () => {
    // Prepare
    const call = answer(303);

    // Act
    const outcome = classifyCreate(call);

    // Assess
    expect(outcome).toMatchObject({ kind: 'ambiguous', reason: 'unexpected-status' });
  });

  it.each([101, 600, 0])('status %i outside the HTTP classes → ambiguous', (status) => {
    // Prepare
    const call = answer(status);

    // Act
    const outcome = classifyCreate(call);

    // Assess
    expect(outcome.kind).toBe('ambiguous');
  });

  it('204 No Content → ambiguous (a success without a gift)', () => {
    // Prepare
    const call = answer(204);

    // Act
    const outcome = classifyCreate(call);

    // Assess
    expect(outcome).toMatchObject({ kind: 'ambiguous', reason: 'unparseable-body' });
  });
});

describe('classifyGet: the table rows', () => {
  it('200 → found with the gift', () => {
    // Prepare
    const call = answer(200, { body: GIFT });

    // Act
    const outcome = classifyGet(call);

    // Assess
    expect(outcome).toEqual({ kind: 'found', httpStatus: 200, requestId: 'req_123', gift: GIFT });
  });

  it('404 → not-found', () => {
    // Prepare
    const call = answer(404, { errors: [error('not_found_error', 'not_found')] });

    // Act
    const outcome = classifyGet(call);

    // Assess
    expect(outcome).toMatchObject({ kind: 'not-found', httpStatus: 404, requestId: 'req_123' });
  });

  it('429 → throttled with retryAfterMs', () => {
    // Prepare
    const call = answer(429, { retryAfterMs: 2_000 });

    // Act
    const outcome = classifyGet(call);

    // Assess
    expect(outcome).toMatchObject({ kind: 'throttled', retryAfterMs: 2_000 });
  });

  it('503 → retry-later honouring retryAfterMs', () => {
    // Prepare
    const call = answer(503, { retryAfterMs: 60_000 });

    // Act
    const outcome = classifyGet(call);

    // Assess
    expect(outcome).toMatchObject({
      kind: 'retry-later',
      reason: 'unavailable',
      retryAfterMs: 60_000,
      httpStatus: 503,
    });
  });

  it.each([500, 502, 504, 507])('%i → retry-later (a GET changes nothing)', (status) => {
    // Prepare
    const call = answer(status);

    // Act
    const outcome = classifyGet(call);

    // Assess
    expect(outcome).toMatchObject({
      kind: 'retry-later',
      reason: 'server-error',
      httpStatus: status,
    });
  });

  it.each([
    [true, 'timeout'],
    [true, 'reset'],
    [false, 'connection-refused'],
    [false, 'dns'],
  ] as const)('transport failure (sent: %s, %s) → retry-later', (requestSent, reason) => {
    // Prepare
    const call = transportFailure(requestSent, reason);

    // Act
    const outcome = classifyGet(call);

    // Assess
    expect(outcome).toMatchObject({ kind: 'retry-later', reason, httpStatus: null });
  });

  it('400 unsupported_api_version → configuration-stop', () => {
    // Prepare
    const call = answer(400, { errors: [error('api_error', 'unsupported_api_version')] });

    // Act
    const outcome = classifyGet(call);

    // Assess
    expect(outcome).toMatchObject({
      kind: 'configuration-stop',
      reason: 'unsupported-api-version',
      code: 'unsupported_api_version',
    });
  });

  it('401 → configuration-stop', () => {
    // Prepare
    const call = answer(401, { errors: [error('authentication_error', 'expired_token')] });

    // Act
    const outcome = classifyGet(call);

    // Assess
    expect(outcome).toMatchObject({
      kind: 'configuration-stop',
      reason: 'authentication',
      code: 'expired_token',
    });
  });

  it('403 → configuration-stop', () => {
    // Prepare
    const call = answer(403, { errors: [error('authorization_error', 'insufficient_scope')] });

    // Act
    const outcome = classifyGet(call);

    // Assess
    expect(outcome).toMatchObject({ kind: 'configuration-stop', reason: 'authorization' });
  });
});

describe('classifyGet: the cases the table leaves open (decided)', () => {
  it('a 2xx without a parseable gift → retry-later', () => {
    // Prepare
    const call = answer(200);

    // Act
    const outcome = classifyGet(call);

    // Assess
    expect(outcome).toMatchObject({ kind: 'retry-later', reason: 'unparseable-body' });
  });

  it('410 Gone → not-found', () => {
    // Prepare
    const call = answer(410);

    // Act
    const outcome = classifyGet(call);

    // Assess
    expect(outcome.kind).toBe('not-found');
  });

  it.each([408, 425])('%i → retry-later (not processed)', (status) => {
    // Prepare
    const call = answer(status, { retryAfterMs: 1_000 });

    // Act
    const outcome = classifyGet(call);

    // Assess
    expect(outcome).toMatchObject({
      kind: 'retry-later',
      reason: 'unavailable',
      retryAfterMs: 1_000,
    });
  });

  it('400 with another code → configuration-stop (a read has no row data to blame)', () => {
    // Prepare
    const call = answer(400, { errors: [error('api_error', 'malformed_request')] });

    // Act
    const outcome = classifyGet(call);

    // Assess
    expect(outcome).toMatchObject({ kind: 'configuration-stop', reason: 'request-refused' });
  });

  it.each([409, 415, 418])('other 4xx (%i) → configuration-stop', (status) => {
    // Prepare
    const call = answer(status);

    // Act
    const outcome = classifyGet(call);

    // Assess
    expect(outcome.kind).toBe('configuration-stop');
  });

  it.each([301, 303, 308])('%i redirect → configuration-stop (redirect)', (status) => {
    // Prepare
    const call = answer(status);

    // Act
    const outcome = classifyGet(call);

    // Assess
    expect(outcome).toMatchObject({ kind: 'configuration-stop', reason: 'redirect' });
  });

  it('a status outside the HTTP classes → retry-later', () => {
    // Prepare
    const call = answer(600);

    // Act
    const outcome = classifyGet(call);

    // Assess
    expect(outcome).toMatchObject({ kind: 'retry-later', reason: 'unexpected-status' });
  });
});

describe('no usable API key (its secret is missing or empty): nothing was sent', () => {
  const call = {
    kind: 'no-credentials' as const,
    message: 'secret prod/andopen is empty: put the &Open API key in it',
  };

  it('stops the fleet on a POST and on a GET, like a refused key', () => {
    // Act
    const outcomes = [classifyCreate(call), classifyGet(call)];

    // Assess
    for (const outcome of outcomes) {
      expect(outcome).toEqual({
        kind: 'configuration-stop',
        reason: 'no-credentials',
        httpStatus: null,
        requestId: null,
        code: null,
        errors: [],
        message: call.message,
      });
    }
  });

  it('is described as what a person does: put the key in, then resume', () => {
    // Prepare
    const outcome = classifyCreate(call);
    if (outcome.kind !== 'configuration-stop') throw new Error(outcome.kind);

    // Act
    const description = describeConfigurationStop(outcome);

    // Assess
    expect(description).toBe(
      'no usable &Open API key (secret prod/andopen is empty: put the &Open API key in it): ' +
        'put the key in its secret, then resume',
    );
  });

  it('keeps the HTTP status and code in the description of a refused key', () => {
    // Prepare
    const outcome = classifyCreate(
      answer(401, { errors: [error('authentication_error', 'invalid_token')] }),
    );
    if (outcome.kind !== 'configuration-stop') throw new Error(outcome.kind);

    // Act
    const description = describeConfigurationStop(outcome);

    // Assess
    expect(description).toBe(
      '&Open refused our configuration (HTTP 401, invalid_token): authentication',
    );
  });
});
