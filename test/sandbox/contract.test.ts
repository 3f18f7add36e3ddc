import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  DEMO_CAMPAIGNS,
  demoVariantId,
  SANDBOX_API_KEY,
  type Sandbox,
  startSandbox,
} from '../../sandbox/index.ts';
import {
  API_HEADERS,
  address,
  call,
  choiceBody,
  directBody,
  manualClock,
  REQUEST_ID,
  T0,
  UUID,
} from './helpers.ts';

const OTHER_TENANT_KEY = 'ao-v1-staging-othertenantkey';
const EXPIRED_KEY = 'ao-v1-staging-expiredkey';
const READ_ONLY_KEY = 'ao-v1-staging-readonlykey';

let sandbox: Sandbox;

beforeEach(async () => {
  sandbox = await startSandbox({
    now: manualClock().now,
    apiKeys: [SANDBOX_API_KEY, { key: OTHER_TENANT_KEY, tenant: 'other' }],
    expiredKeys: [EXPIRED_KEY],
    forbiddenKeys: [READ_ONLY_KEY],
  });
});

afterEach(async () => {
  await sandbox.stop();
});

const withToken = (token: string) => ({ ...API_HEADERS, Authorization: `Bearer ${token}` });
const codes = (json: { errors: { code: string; param?: string }[] }) =>
  json.errors.map(({ code, param }) => ({ code, param }));

describe('version and authentication', () => {
  it('rejects a missing API version before looking at the (also missing) token', async () => {
    // Prepare
    const headers = { 'Content-Type': 'application/json' };

    // Act
    const reply = await call(sandbox, 'POST', '/gift_requests', choiceBody(), headers);

    // Assess
    expect(reply.status).toBe(400);
    expect(reply.json.errors).toEqual([
      expect.objectContaining({ type: 'api_error', code: 'unsupported_api_version' }),
    ]);
  });

  it('rejects the 2025-10 version even with a valid token', async () => {
    // Prepare
    const headers = { ...API_HEADERS, 'AndOpen-API-Version': '2025-10' };

    // Act
    const reply = await call(
      sandbox,
      'GET',
      `/campaigns/${DEMO_CAMPAIGNS.choice}`,
      undefined,
      headers,
    );

    // Assess
    expect(reply.status).toBe(400);
    expect(reply.json.errors[0].code).toBe('unsupported_api_version');
  });

  it.each([
    ['no Authorization header', undefined, 'missing_token'],
    ['another scheme', 'Basic dXNlcjpwYXNz', 'missing_token'],
    ['an unknown token', 'Bearer ao-v1-staging-nosuchkey', 'invalid_token'],
    ['a token of another environment', 'Bearer ao-v1-production-sandboxdemokey', 'invalid_token'],
    ['an expired token', `Bearer ${EXPIRED_KEY}`, 'expired_token'],
  ])('answers 401 to %s', async (_case, authorization, code) => {
    // Prepare
    const headers: Record<string, string> = { 'AndOpen-API-Version': '2026-05' };
    if (authorization !== undefined) headers.Authorization = authorization;

    // Act
    const reply = await call(sandbox, 'POST', '/gift_requests', choiceBody(), headers);

    // Assess
    expect(reply.status).toBe(401);
    expect(reply.json.errors).toEqual([
      { type: 'authentication_error', code, message: expect.any(String) },
    ]);
    expect(sandbox.journal.gifts).toHaveLength(0);
  });

  it('answers 403 insufficient_scope to a key without the scope', async () => {
    // Act
    const reply = await call(
      sandbox,
      'POST',
      '/gift_requests',
      choiceBody(),
      withToken(READ_ONLY_KEY),
    );

    // Assess
    expect(reply.status).toBe(403);
    expect(reply.json.errors[0]).toMatchObject({
      type: 'authorization_error',
      code: 'insufficient_scope',
    });
  });

  it('never writes the token into the journal, only the tenant label', async () => {
    // Act
    await call(sandbox, 'POST', '/gift_requests', choiceBody(), withToken(OTHER_TENANT_KEY));
    await call(sandbox, 'POST', '/gift_requests', choiceBody());

    // Assess
    expect(sandbox.journal.requests.map((entry) => entry.tenant)).toEqual(['other', 'demo']);
    expect(JSON.stringify(sandbox.journal)).not.toContain('ao-v1-');
  });
});

describe('POST /gift_requests: success', () => {
  it('creates a choice-mode gift request with the documented flat shape', async () => {
    // Act
    const reply = await call(sandbox, 'POST', '/gift_requests', choiceBody());

    // Assess
    expect(reply.status).toBe(201);
    expect(reply.headers.get('content-type')).toBe('application/json');
    expect(reply.headers.get('request-id')).toMatch(REQUEST_ID);
    expect(reply.json).toEqual({
      id: expect.stringMatching(UUID),
      status: 'submitted',
      campaign_id: DEMO_CAMPAIGNS.choice,
      redemption_url: null,
      recipient: {
        id: expect.stringMatching(UUID),
        first_name: 'Alice',
        last_name: 'Smith',
        email: 'alice@example.com',
      },
      shipping_address: null,
      line_items: null,
      created_at: new Date(T0).toISOString(),
      updated_at: new Date(T0).toISOString(),
    });
    expect(Object.keys(reply.json)).toEqual([
      'id',
      'status',
      'campaign_id',
      'redemption_url',
      'recipient',
      'shipping_address',
      'line_items',
      'created_at',
      'updated_at',
    ]);
  });

  it('creates a direct-send gift request with resolved line items, by sku and by variant_id', async () => {
    // Prepare
    const body = directBody([
      { sku: 'HOODIE-L-BLK', quantity: 2 },
      { variant_id: demoVariantId('MUG-WHT'), quantity: 1 },
      { sku: 'HOODIE-S-BLK', variant_id: demoVariantId('HOODIE-S-BLK'), quantity: 1 },
    ]);

    // Act
    const reply = await call(sandbox, 'POST', '/gift_requests', body);

    // Assess
    expect(reply.status).toBe(201);
    expect(reply.json.shipping_address).toEqual({
      id: expect.stringMatching(UUID),
      ...address(),
      address2: null,
    });
    expect(reply.json.line_items).toEqual([
      {
        id: expect.any(String),
        sku: 'HOODIE-L-BLK',
        variant_id: demoVariantId('HOODIE-L-BLK'),
        quantity: 2,
      },
      { id: expect.any(String), sku: 'MUG-WHT', variant_id: demoVariantId('MUG-WHT'), quantity: 1 },
      {
        id: expect.any(String),
        sku: 'HOODIE-S-BLK',
        variant_id: demoVariantId('HOODIE-S-BLK'),
        quantity: 1,
      },
    ]);
    expect(reply.json.recipient.email).toBeNull();
  });

  it('ignores unknown fields and server-set fields sent in the body', async () => {
    // Prepare
    const body = {
      ...choiceBody(),
      id: '00000000-0000-4000-8000-000000000000',
      status: 'delivered',
      created_at: '2020-01-01T00:00:00.000Z',
      colour: 'teal',
    };

    // Act
    const reply = await call(sandbox, 'POST', '/gift_requests', body);

    // Assess
    expect(reply.status).toBe(201);
    expect(reply.json.id).not.toBe(body.id);
    expect(reply.json.status).toBe('submitted');
    expect(reply.json.created_at).toBe(new Date(T0).toISOString());
    expect(reply.json).not.toHaveProperty('colour');
    expect(sandbox.journal.gifts[0]?.body).toEqual(body);
  });

  it('reads the gift request back with GET, and hides it from another tenant', async () => {
    // Prepare
    const created = await call(sandbox, 'POST', '/gift_requests', choiceBody());

    // Act
    const mine = await call(sandbox, 'GET', `/gift_requests/${created.json.id}`);
    const theirs = await call(
      sandbox,
      'GET',
      `/gift_requests/${created.json.id}`,
      undefined,
      withToken(OTHER_TENANT_KEY),
    );

    // Assess
    expect(mine.status).toBe(200);
    expect(mine.json).toEqual(created.json);
    expect(theirs.status).toBe(404);
    expect(theirs.json.errors[0]).toMatchObject({ type: 'not_found_error', code: 'not_found' });
  });
});

describe('POST /gift_requests: validation', () => {
  it('returns every error at once with the API params', async () => {
    // Prepare
    const body = {
      campaign_id: '  ',
      recipient: { first_name: 'Alice', last_name: ' ', email: 'not-an-email' },
      shipping_address: { ...address(), city: '', country_code: 'ie', phone: 42 },
      line_items: [
        { sku: 'MUG-WHT', quantity: 0 },
        { quantity: 1.5 },
        { sku: 'MUG-WHT', quantity: '1' },
      ],
    };

    // Act
    const reply = await call(sandbox, 'POST', '/gift_requests', body);

    // Assess
    expect(reply.status).toBe(422);
    expect(
      reply.json.errors.every((error: { type: string }) => error.type === 'validation_error'),
    ).toBe(true);
    expect(codes(reply.json)).toEqual([
      { code: 'required', param: 'campaign_id' },
      { code: 'required', param: 'recipient.last_name' },
      { code: 'invalid_format', param: 'recipient.email' },
      { code: 'required', param: 'shipping_address.city' },
      { code: 'invalid_format', param: 'shipping_address.phone' },
      { code: 'invalid_format', param: 'shipping_address.country_code' },
      { code: 'invalid', param: 'line_items[0].quantity' },
      { code: 'invalid_format', param: 'line_items[1].quantity' },
      { code: 'invalid', param: 'line_items[1]' },
      { code: 'invalid_format', param: 'line_items[2].quantity' },
    ]);
    expect(sandbox.journal.gifts).toHaveLength(0);
  });

  it('requires the direct-send address fields and each quantity', async () => {
    // Prepare
    const body = directBody([{ sku: 'MUG-WHT' }]);
    body.shipping_address = {} as ReturnType<typeof address>;

    // Act
    const reply = await call(sandbox, 'POST', '/gift_requests', body);

    // Assess
    expect(codes(reply.json)).toEqual([
      { code: 'required', param: 'shipping_address.address1' },
      { code: 'required', param: 'shipping_address.city' },
      { code: 'required', param: 'shipping_address.region' },
      { code: 'required', param: 'shipping_address.postal_code' },
      { code: 'required', param: 'shipping_address.country_code' },
      { code: 'required', param: 'shipping_address.phone' },
      { code: 'required', param: 'line_items[0].quantity' },
    ]);
  });

  it('requires campaign_id and recipient, and rejects wrong JSON types as invalid_format', async () => {
    // Act
    const missing = await call(sandbox, 'POST', '/gift_requests', {});
    const wrongTypes = await call(sandbox, 'POST', '/gift_requests', {
      campaign_id: 7,
      recipient: { first_name: ['A'], last_name: true },
    });

    // Assess
    expect(codes(missing.json)).toEqual([
      { code: 'required', param: 'campaign_id' },
      { code: 'required', param: 'recipient' },
    ]);
    expect(codes(wrongTypes.json)).toEqual([
      { code: 'invalid_format', param: 'campaign_id' },
      { code: 'invalid_format', param: 'recipient.first_name' },
      { code: 'invalid_format', param: 'recipient.last_name' },
    ]);
  });

  it('rejects the 2025-10 envelope: no campaign_id or recipient at the top level', async () => {
    // Prepare
    const envelope = {
      data: {
        type: 'gift_requests',
        attributes: { campaign_id: DEMO_CAMPAIGNS.choice, first_name: 'A', last_name: 'B' },
      },
    };

    // Act
    const reply = await call(sandbox, 'POST', '/gift_requests', envelope);

    // Assess
    expect(reply.status).toBe(422);
    expect(codes(reply.json)).toEqual([
      { code: 'required', param: 'campaign_id' },
      { code: 'required', param: 'recipient' },
    ]);
  });

  it.each([
    ['shipping_address without line_items', { shipping_address: address() }, 'line_items'],
    [
      'line_items without shipping_address',
      { line_items: [{ sku: 'MUG-WHT', quantity: 1 }] },
      'shipping_address',
    ],
  ])('enforces both-or-neither: %s', async (_case, extra, param) => {
    // Prepare
    const body = { ...choiceBody(), campaign_id: DEMO_CAMPAIGNS.directSend, ...extra };

    // Act
    const reply = await call(sandbox, 'POST', '/gift_requests', body);

    // Assess
    expect(reply.status).toBe(422);
    expect(codes(reply.json)).toEqual([{ code: 'invalid', param }]);
  });

  it('rejects an explicit null for either direct-send field and an empty line_items', async () => {
    // Act
    const nullAddress = await call(sandbox, 'POST', '/gift_requests', {
      ...directBody(),
      shipping_address: null,
    });
    const nullItems = await call(sandbox, 'POST', '/gift_requests', {
      ...directBody(),
      line_items: null,
    });
    const empty = await call(sandbox, 'POST', '/gift_requests', directBody([]));

    // Assess
    expect(codes(nullAddress.json)).toEqual([{ code: 'invalid', param: 'shipping_address' }]);
    expect(codes(nullItems.json)).toEqual([{ code: 'invalid', param: 'line_items' }]);
    expect(codes(empty.json)).toEqual([{ code: 'invalid', param: 'line_items' }]);
  });

  it('rejects a lowercase country code as invalid_format', async () => {
    // Prepare
    const body = directBody();
    body.shipping_address.country_code = 'ie';

    // Act
    const reply = await call(sandbox, 'POST', '/gift_requests', body);

    // Assess
    expect(reply.json.errors).toEqual([
      {
        type: 'validation_error',
        code: 'invalid_format',
        message: expect.any(String),
        param: 'shipping_address.country_code',
      },
    ]);
  });

  it('rejects an unknown campaign as invalid with no param, and so another tenant’s campaign', async () => {
    // Act
    const unknown = await call(sandbox, 'POST', '/gift_requests', {
      ...choiceBody(),
      campaign_id: '99999999-9999-4999-8999-999999999999',
    });
    const otherTenant = await call(
      sandbox,
      'POST',
      '/gift_requests',
      choiceBody(),
      withToken(OTHER_TENANT_KEY),
    );

    // Assess
    for (const reply of [unknown, otherTenant]) {
      expect(reply.status).toBe(422);
      expect(reply.json.errors).toEqual([
        { type: 'validation_error', code: 'invalid', message: 'campaign_id does not exist' },
      ]);
      expect(reply.json.errors[0]).not.toHaveProperty('param');
    }
  });

  it('rejects an archived campaign and a direct-send to a choice campaign', async () => {
    // Act
    const archived = await call(sandbox, 'POST', '/gift_requests', {
      ...choiceBody(),
      campaign_id: DEMO_CAMPAIGNS.archived,
    });
    const directToChoice = await call(sandbox, 'POST', '/gift_requests', {
      ...directBody(),
      campaign_id: DEMO_CAMPAIGNS.choice,
    });

    // Assess
    expect(codes(archived.json)).toEqual([{ code: 'invalid', param: 'campaign_id' }]);
    expect(codes(directToChoice.json)).toEqual([{ code: 'invalid', param: 'campaign_id' }]);
  });

  it.each([
    ['an unknown sku', { sku: 'NOPE-1', quantity: 1 }, 'line_items[0].sku'],
    ['a disabled variant', { sku: 'TEE-OLD', quantity: 1 }, 'line_items[0].sku'],
    [
      'a variant stocked only outside the fulfilment warehouse',
      { sku: 'PLANT-US', quantity: 1 },
      'line_items[0].sku',
    ],
    [
      'an unknown variant_id',
      { variant_id: '99999999-9999-4999-8999-999999999999', quantity: 1 },
      'line_items[0].variant_id',
    ],
    [
      'a disabled variant by id',
      { variant_id: demoVariantId('TEE-OLD'), quantity: 1 },
      'line_items[0].variant_id',
    ],
  ])('answers invalid_reference for %s', async (_case, item, param) => {
    // Act
    const reply = await call(sandbox, 'POST', '/gift_requests', directBody([item]));

    // Assess
    expect(reply.status).toBe(422);
    expect(codes(reply.json)).toEqual([{ code: 'invalid_reference', param }]);
  });

  it('rejects a sku and variant_id naming different variants', async () => {
    // Prepare
    const item = { sku: 'HOODIE-S-BLK', variant_id: demoVariantId('HOODIE-M-BLK'), quantity: 1 };

    // Act
    const reply = await call(sandbox, 'POST', '/gift_requests', directBody([item]));

    // Assess
    expect(codes(reply.json)).toEqual([{ code: 'invalid', param: 'line_items[0]' }]);
  });

  it.each([
    ['not JSON', '{"campaign_id": '],
    ['empty', ''],
    ['a JSON array', '[]'],
  ])('answers 400 malformed_request to a body that is %s', async (_case, raw) => {
    // Act
    const reply = await call(sandbox, 'POST', '/gift_requests', raw);

    // Assess
    expect(reply.status).toBe(400);
    expect(reply.json.errors).toEqual([
      { type: 'api_error', code: 'malformed_request', message: expect.any(String) },
    ]);
  });
});

describe('routing and Request-Id', () => {
  it('answers 404 to unknown paths and ids, 405 to wrong methods, each with a Request-Id', async () => {
    // Act
    const replies = [
      await call(sandbox, 'GET', '/nope'),
      await call(sandbox, 'GET', '/gift_requests/4fb4cb3f-9666-43b5-8884-7f5194483d1a'),
      await call(sandbox, 'GET', '/gift_requests'),
      await call(sandbox, 'DELETE', `/campaigns/${DEMO_CAMPAIGNS.choice}`),
    ];

    // Assess
    expect(replies.map((reply) => reply.status)).toEqual([404, 404, 405, 405]);
    expect(replies[0]?.json.errors[0]).toMatchObject({
      type: 'not_found_error',
      code: 'not_found',
    });
    expect(replies[2]?.headers.get('allow')).toBe('POST');
    expect(replies[2]?.json.errors[0]).toMatchObject({
      type: 'api_error',
      code: 'method_not_allowed',
    });
    const ids = replies.map((reply) => reply.headers.get('request-id'));
    for (const id of ids) expect(id).toMatch(REQUEST_ID);
    expect(new Set(ids).size).toBe(ids.length);
    for (const reply of replies) expect(reply.headers.get('content-type')).toBe('application/json');
  });

  it('puts the Request-Id of each answer in the journal', async () => {
    // Act
    const reply = await call(sandbox, 'POST', '/gift_requests', choiceBody());

    // Assess
    expect(sandbox.journal.requests).toEqual([
      {
        at: T0,
        method: 'POST',
        path: '/gift_requests',
        status: 201,
        requestId: reply.headers.get('request-id'),
        tenant: 'demo',
        giftId: reply.json.id,
        early: false,
      },
    ]);
    expect(sandbox.journal.gifts[0]).toMatchObject({
      id: reply.json.id,
      requestId: reply.headers.get('request-id'),
      mode: 'choice',
    });
  });
});
