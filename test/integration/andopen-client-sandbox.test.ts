/**
 * The real AndOpenHttpClient against the real &Open sandbox over HTTP (127.0.0.1, a free port), each
 * answer classified with the core's classifyCreate / classifyGet. The sandbox implements the contract
 * on its own, so this is where a misreading in the client or the classification shows up. Every
 * Request-Id the client returns is checked against the sandbox's journal.
 *
 * Not covered: a missing AndOpen-API-Version (400 unsupported_api_version). The client always sends
 * 2026-05 and cannot be made to omit it; the sandbox's own tests cover that answer.
 */

import { afterEach, describe, expect, it } from 'vitest';
import {
  AndOpenHttpClient,
  CampaignListError,
} from '../../lambdas/adapters/andopen-http-client.ts';
import { classifyCreate, classifyGet } from '../../lambdas/core/outcome.ts';
import type {
  ApiCall,
  ApiResponse,
  Campaign,
  GiftRequestBody,
  ShippingAddressInput,
} from '../../lambdas/ports/gifting-api.ts';
import {
  DEMO_CAMPAIGNS,
  type InjectedFault,
  type JournalRequest,
  type RetryAfterFormat,
  SANDBOX_API_KEY,
  type Sandbox,
  type SandboxOptions,
  startSandbox,
} from '../../sandbox/index.ts';

/** A whole second, so HTTP-date Retry-After values (whole seconds) are easy to reason about. */
const T0 = Date.parse('2026-05-04T09:00:00.000Z');
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

const choiceBody = (): GiftRequestBody => ({
  campaign_id: DEMO_CAMPAIGNS.choice,
  recipient: { first_name: 'Alice', last_name: 'Smith', email: 'alice@example.com' },
});

const dublinAddress = (): ShippingAddressInput => ({
  address1: '12 Merrion Square',
  city: 'Dublin',
  region: 'Leinster',
  postal_code: 'D02 XY45',
  country_code: 'IE',
  phone: '+353871234567',
});

const directSendBody = (): GiftRequestBody => ({
  campaign_id: DEMO_CAMPAIGNS.directSend,
  recipient: { first_name: 'Zoë', last_name: 'Ó Briain' },
  shipping_address: dublinAddress(),
  line_items: [{ sku: 'HOODIE-L-BLK', quantity: 2 }],
});

interface Setup {
  sandbox: Sandbox;
  client: AndOpenHttpClient;
  /**
   * Another client of the same tenant (another container of the fleet): it has not heard the
   * Retry-After answers `client` heard, which hold that client's own requests back until they pass.
   */
  anotherClient(): AndOpenHttpClient;
  /** Moves the clock the sandbox and the client share: no sleeping, no timing. */
  advance(ms: number): void;
}

const cleanups: (() => Promise<void> | void)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function setup(
  options: SandboxOptions = {},
  { apiKey = SANDBOX_API_KEY, start = T0 } = {},
): Promise<Setup> {
  let time = start;
  const now = () => time;
  const sandbox = await startSandbox({ now, ...options });
  cleanups.push(() => sandbox.stop());
  const connect = () => {
    const client = new AndOpenHttpClient({ baseUrl: sandbox.url, apiKey, now, timeoutMs: 5_000 });
    cleanups.push(() => client.close());
    return client;
  };
  return {
    sandbox,
    client: connect(),
    anotherClient: connect,
    advance: (ms) => {
      time += ms;
    },
  };
}

function answered<T>(call: ApiCall<T>): ApiResponse<T> {
  if (call.kind !== 'response') {
    throw new Error(`expected an answer, got a transport failure: ${call.message}`);
  }
  return call;
}

/** The one journal entry with the Request-Id the client returned; its status must match. */
function journalEntryOf<T>(sandbox: Sandbox, call: ApiCall<T>): JournalRequest {
  const response = answered(call);
  expect(response.requestId).toMatch(/^req_/);
  const entries = sandbox.journal.requests.filter(
    (entry) => entry.requestId === response.requestId,
  );
  expect(entries).toHaveLength(1);
  const [entry] = entries as [JournalRequest];
  expect(entry.status).toBe(response.status);
  return entry;
}

describe('creating and reading gift requests', () => {
  it('creates a choice-mode gift: 201 → created, the journal holds it under the same Request-Id', async () => {
    // Prepare
    const { sandbox, client } = await setup();

    // Act
    const call = await client.createGiftRequest(choiceBody());
    const outcome = classifyCreate(call);

    // Assess
    expect(outcome.kind).toBe('created');
    if (outcome.kind !== 'created') return;
    expect(outcome.httpStatus).toBe(201);
    expect(outcome.gift).toMatchObject({
      status: 'submitted',
      campaign_id: DEMO_CAMPAIGNS.choice,
      // &Open generates the link shortly after creation.
      redemption_url: null,
      recipient: { first_name: 'Alice', last_name: 'Smith', email: 'alice@example.com' },
    });
    expect(outcome.gift.id).toMatch(UUID);
    const entry = journalEntryOf(sandbox, call);
    expect(entry).toMatchObject({ method: 'POST', path: '/gift_requests', status: 201 });
    expect(sandbox.journal.gifts).toHaveLength(1);
    expect(sandbox.journal.gifts[0]).toMatchObject({
      id: outcome.gift.id,
      mode: 'choice',
      requestId: outcome.requestId,
    });
  });

  it('creates a direct-send gift with its address and line items, sent exactly as given', async () => {
    // Prepare
    const { sandbox, client } = await setup();
    const body = directSendBody();

    // Act
    const call = await client.createGiftRequest(body);
    const outcome = classifyCreate(call);

    // Assess
    expect(outcome.kind).toBe('created');
    if (outcome.kind !== 'created') return;
    expect(outcome.gift.campaign_id).toBe(DEMO_CAMPAIGNS.directSend);
    expect(outcome.gift.shipping_address).toMatchObject({ city: 'Dublin', country_code: 'IE' });
    expect(outcome.gift.line_items).toHaveLength(1);
    expect(outcome.gift.line_items?.[0]).toMatchObject({ quantity: 2 });
    journalEntryOf(sandbox, call);
    expect(sandbox.journal.gifts[0]).toMatchObject({
      id: outcome.gift.id,
      mode: 'direct-send',
      requestId: outcome.requestId,
      body,
    });
  });

  it('gets a gift request: found, with its redemption URL once &Open has made it', async () => {
    // Prepare
    const { sandbox, client, advance } = await setup({ redemptionUrlDelayMs: 1_500 });
    const created = answered(await client.createGiftRequest(choiceBody()));
    const id = created.body?.id ?? '';
    advance(1_500);

    // Act
    const call = await client.getGiftRequest(id);
    const outcome = classifyGet(call);

    // Assess
    expect(outcome.kind).toBe('found');
    if (outcome.kind !== 'found') return;
    expect(outcome.gift.id).toBe(id);
    expect(outcome.gift.redemption_url).toMatch(/^https:\/\//);
    expect(journalEntryOf(sandbox, call)).toMatchObject({
      method: 'GET',
      path: `/gift_requests/${id}`,
      giftId: id,
    });
  });

  it('gets an unknown gift request: 404 → not-found', async () => {
    // Prepare
    const { sandbox, client } = await setup();

    // Act
    const call = await client.getGiftRequest('00000000-0000-4000-8000-000000000000');
    const outcome = classifyGet(call);

    // Assess
    expect(outcome).toMatchObject({ kind: 'not-found', httpStatus: 404 });
    journalEntryOf(sandbox, call);
  });
});

describe('campaigns', () => {
  it('gets a campaign with its catalogue filtered to its fulfilment warehouse', async () => {
    // Prepare
    const { sandbox, client } = await setup();

    // Act
    const call = await client.getCampaign(DEMO_CAMPAIGNS.directSend);

    // Assess
    const campaign = answered(call).body as Campaign;
    expect(campaign).toMatchObject({
      id: DEMO_CAMPAIGNS.directSend,
      status: 'available',
      invitation_method: 'sender_provided_address',
    });
    const variants = campaign.products.flatMap((product) => product.variants);
    const hoodie = variants.find((variant) => variant.sku === 'HOODIE-L-BLK');
    expect(hoodie?.stock_levels).toHaveLength(1);
    expect(hoodie?.stock_levels[0]?.quantity).toBe(500);
    expect(journalEntryOf(sandbox, call)).toMatchObject({
      path: `/campaigns/${DEMO_CAMPAIGNS.directSend}`,
    });
  });

  it('gets an unknown campaign: 404 with no body', async () => {
    // Prepare
    const { sandbox, client } = await setup();

    // Act
    const call = await client.getCampaign('99999999-9999-4999-8999-999999999999');

    // Assess
    expect(answered(call)).toMatchObject({ status: 404, body: null });
    expect(answered(call).errors[0]).toMatchObject({ type: 'not_found_error' });
    journalEntryOf(sandbox, call);
  });

  it('walks every page of the campaign list with listAllCampaigns (after = last id)', async () => {
    // Prepare
    const { sandbox, client } = await setup();

    // Act
    const campaigns: Campaign[] = [];
    for await (const campaign of client.listAllCampaigns({ limit: 1 })) campaigns.push(campaign);

    // Assess
    // Newest first: choice (2026-03), direct-send (2026-02), archived (2025-11).
    expect(campaigns.map((campaign) => campaign.id)).toEqual([
      DEMO_CAMPAIGNS.choice,
      DEMO_CAMPAIGNS.directSend,
      DEMO_CAMPAIGNS.archived,
    ]);
    expect(campaigns.map((campaign) => campaign.status)).toEqual([
      'available',
      'available',
      'archived',
    ]);
    // One request per page, each answered 200.
    expect(sandbox.journal.requests.map((entry) => [entry.path, entry.status])).toEqual([
      ['/campaigns', 200],
      ['/campaigns', 200],
      ['/campaigns', 200],
    ]);
  });

  it('stops the walk with CampaignListError when a page fails', async () => {
    // Prepare
    const { sandbox, client } = await setup();
    sandbox.injectNext('503', 1, 'any');

    // Act
    const walking = (async () => {
      for await (const _ of client.listAllCampaigns()) {
        // draining
      }
    })();

    // Assess
    const error = await walking.catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(CampaignListError);
    const call = (error as CampaignListError).call;
    expect(answered(call)).toMatchObject({ status: 503, retryAfterMs: 1_000 });
    journalEntryOf(sandbox, call);
  });
});

describe('answers that say "not created"', () => {
  it('a 422 is parsed with every error, its code and its param → rejected, no alarm', async () => {
    // Prepare
    const { sandbox, client } = await setup();
    const body = directSendBody();
    body.recipient = { first_name: '', last_name: 'Jones', email: 'not-an-email' };
    body.shipping_address = { ...dublinAddress(), country_code: 'ie' };
    body.line_items = [{ sku: 'HOODIE-L-BLK', quantity: 0 }];

    // Act
    const call = await client.createGiftRequest(body);
    const outcome = classifyCreate(call);

    // Assess
    expect(outcome).toMatchObject({ kind: 'rejected', httpStatus: 422, alarm: false });
    if (outcome.kind !== 'rejected') return;
    expect(outcome.errors).toEqual([
      {
        type: 'validation_error',
        code: 'required',
        message: 'is required',
        param: 'recipient.first_name',
      },
      {
        type: 'validation_error',
        code: 'invalid_format',
        message: expect.any(String),
        param: 'recipient.email',
      },
      {
        type: 'validation_error',
        code: 'invalid_format',
        message: expect.any(String),
        param: 'shipping_address.country_code',
      },
      {
        type: 'validation_error',
        code: 'invalid',
        message: expect.any(String),
        param: 'line_items[0].quantity',
      },
    ]);
    expect(outcome.requestId).toBe(journalEntryOf(sandbox, call).requestId);
    expect(sandbox.journal.gifts).toHaveLength(0);
  });

  it('an unknown campaign is a 422 invalid without a param (the contract, not a 404)', async () => {
    // Prepare
    const { sandbox, client } = await setup();
    const body = { ...choiceBody(), campaign_id: '99999999-9999-4999-8999-999999999999' };

    // Act
    const call = await client.createGiftRequest(body);
    const outcome = classifyCreate(call);

    // Assess
    expect(outcome).toMatchObject({ kind: 'rejected', httpStatus: 422, alarm: false });
    if (outcome.kind !== 'rejected') return;
    expect(outcome.errors).toEqual([
      {
        type: 'validation_error',
        code: 'invalid',
        message: 'campaign_id does not exist',
        param: null,
      },
    ]);
    journalEntryOf(sandbox, call);
  });

  it('a bad key is a 401 invalid_token → configuration-stop, for a create and a read alike', async () => {
    // Prepare
    const { sandbox, client } = await setup({}, { apiKey: 'ao-v1-staging-notakeyweknow' });

    // Act
    const createCall = await client.createGiftRequest(choiceBody());
    const getCall = await client.getGiftRequest('00000000-0000-4000-8000-000000000000');

    // Assess
    const expected = {
      kind: 'configuration-stop',
      reason: 'authentication',
      code: 'invalid_token',
      httpStatus: 401,
    };
    expect(classifyCreate(createCall)).toMatchObject(expected);
    expect(classifyGet(getCall)).toMatchObject(expected);
    expect(answered(createCall).errors[0]).toMatchObject({ type: 'authentication_error' });
    expect(journalEntryOf(sandbox, createCall).tenant).toBeNull();
    journalEntryOf(sandbox, getCall);
    expect(sandbox.journal.gifts).toHaveLength(0);
  });
});

describe('throttling and maintenance', () => {
  // The clock starts 250 ms past a whole second and the sandbox's wait is 1 s. As seconds that
  // reads "1" (1,000 ms). As an HTTP-date it names the whole second after T+1 s, 1,750 ms away,
  // which the client rounds up to whole seconds (never back early): 2,000 ms. Different on purpose,
  // so each case proves its own form was read.
  it.each<[RetryAfterFormat, number]>([
    ['seconds', 1_000],
    ['http-date', 2_000],
  ])('a 429 with Retry-After as %s → throttled for %i ms', async (format, expectedMs) => {
    // Prepare
    const { sandbox, client, anotherClient } = await setup(
      { rateLimit: { rps: 1, burst: 1, retryAfterFormat: format } },
      { start: T0 + 250 },
    );
    const first = await client.createGiftRequest(choiceBody());

    // Act: the GET from a client that has not heard the 429 (this one holds back until it passes).
    const createCall = await client.createGiftRequest(choiceBody());
    const getCall = await anotherClient().getGiftRequest(answered(first).body?.id ?? '');

    // Assess
    expect(classifyCreate(first).kind).toBe('created');
    expect(classifyCreate(createCall)).toMatchObject({
      kind: 'throttled',
      httpStatus: 429,
      retryAfterMs: expectedMs,
    });
    expect(classifyGet(getCall)).toMatchObject({
      kind: 'throttled',
      retryAfterMs: expectedMs,
    });
    expect(answered(createCall).errors[0]).toMatchObject({
      type: 'rate_limit_error',
      code: 'rate_limited',
    });
    journalEntryOf(sandbox, createCall);
    journalEntryOf(sandbox, getCall);
    expect(sandbox.journal.gifts).toHaveLength(1);
  });

  it('a maintenance window answers 503 with Retry-After to its end → unavailable, then serves', async () => {
    // Prepare
    const { sandbox, client, anotherClient, advance } = await setup({
      maintenance: [{ startMs: 0, durationMs: 120_000 }],
    });

    // Act: the GET from a client that has not heard the 503 (this one holds back until it passes).
    const createCall = await client.createGiftRequest(choiceBody());
    const getCall = await anotherClient().getGiftRequest('00000000-0000-4000-8000-000000000000');
    advance(120_000);
    const afterCall = await client.createGiftRequest(choiceBody());

    // Assess
    expect(classifyCreate(createCall)).toMatchObject({
      kind: 'unavailable',
      httpStatus: 503,
      retryAfterMs: 120_000,
    });
    expect(classifyGet(getCall)).toMatchObject({
      kind: 'retry-later',
      reason: 'unavailable',
      retryAfterMs: 120_000,
    });
    expect(classifyCreate(afterCall).kind).toBe('created');
    journalEntryOf(sandbox, createCall);
    journalEntryOf(sandbox, getCall);
    journalEntryOf(sandbox, afterCall);
    expect(sandbox.journal.gifts).toHaveLength(1);
  });
});

interface PostFaultCase {
  fault: InjectedFault;
  outcome: Record<string, unknown>;
  /** What the journal shows: did &Open create the gift although the client was not told so? */
  giftCreated: boolean;
  answered: boolean;
}

describe('injected faults on POST /gift_requests', () => {
  it.each<PostFaultCase>([
    {
      fault: '500-not-created',
      outcome: { kind: 'ambiguous', reason: 'server-error', httpStatus: 500 },
      giftCreated: false,
      answered: true,
    },
    {
      // The reason a 500 on a POST is never re-sent automatically: here the gift exists.
      fault: '500-created',
      outcome: { kind: 'ambiguous', reason: 'server-error', httpStatus: 500 },
      giftCreated: true,
      answered: true,
    },
    {
      fault: '502',
      outcome: { kind: 'ambiguous', reason: 'server-error', httpStatus: 502 },
      giftCreated: false,
      answered: true,
    },
    {
      fault: '504',
      outcome: { kind: 'ambiguous', reason: 'server-error', httpStatus: 504 },
      giftCreated: false,
      answered: true,
    },
    {
      fault: '503',
      outcome: { kind: 'unavailable', httpStatus: 503, retryAfterMs: 1_000 },
      giftCreated: false,
      answered: true,
    },
    {
      fault: '429',
      outcome: { kind: 'throttled', httpStatus: 429, retryAfterMs: 1_000 },
      giftCreated: false,
      answered: true,
    },
    {
      // Nothing was created, but the client cannot tell: the request was written and the socket
      // closed without an answer, exactly as in drop-after-create. Ambiguous is the only safe call.
      fault: 'drop-before-create',
      outcome: { kind: 'ambiguous', httpStatus: null, requestId: null },
      giftCreated: false,
      answered: false,
    },
    {
      fault: 'drop-after-create',
      outcome: { kind: 'ambiguous', httpStatus: null, requestId: null },
      giftCreated: true,
      answered: false,
    },
  ])('$fault → $outcome.kind (gift created: $giftCreated)', async (testCase) => {
    // Prepare
    const { sandbox, client } = await setup();
    sandbox.injectNext(testCase.fault, 1, 'post');

    // Act
    const call = await client.createGiftRequest(choiceBody());
    const outcome = classifyCreate(call);

    // Assess
    expect(outcome).toMatchObject(testCase.outcome);
    const [entry] = sandbox.journal.requests;
    expect(sandbox.journal.requests).toHaveLength(1);
    expect(entry?.fault).toBe(testCase.fault);
    if (testCase.answered) {
      expect(journalEntryOf(sandbox, call)).toBe(entry);
    } else {
      expect(call).toMatchObject({ kind: 'transport-failure', requestSent: true });
      expect(entry?.status).toBeNull();
    }
    expect(sandbox.journal.gifts).toHaveLength(testCase.giftCreated ? 1 : 0);
    if (testCase.giftCreated) {
      expect(sandbox.journal.gifts[0]).toMatchObject({
        fault: testCase.fault,
        requestId: entry?.requestId,
      });
    }
  });

  it('the two drops look identical to the client, though only one created a gift', async () => {
    // Prepare: both drops, back to back, then a normal create on the same keep-alive client.
    const { sandbox, client } = await setup();
    sandbox.injectNext('drop-before-create', 1, 'post');
    sandbox.injectNext('drop-after-create', 1, 'post');

    // Act
    const before = await client.createGiftRequest(choiceBody());
    const after = await client.createGiftRequest(choiceBody());
    const next = await client.createGiftRequest(choiceBody());

    // Assess
    expect(before).toMatchObject({ kind: 'transport-failure', requestSent: true });
    // Nothing in what the client got tells the two apart: so both must be ambiguous (unknown).
    expect(after).toEqual(before);
    expect(classifyCreate(before)).toMatchObject({ kind: 'ambiguous', httpStatus: null });
    expect(classifyCreate(next).kind).toBe('created');
    expect(sandbox.journal.gifts.map((gift) => gift.fault)).toEqual([
      'drop-after-create',
      undefined,
    ]);
  });
});

describe('injected faults on GET /gift_requests/{id}', () => {
  it('asks a GET dropped once on a reused keep-alive socket again, and finds the gift', async () => {
    // Prepare: the POST leaves its socket in the pool; the GET that reuses it is dropped.
    const { sandbox, client } = await setup();
    const created = answered(await client.createGiftRequest(choiceBody()));
    sandbox.injectNext('drop-before-create', 1, 'get');

    // Act
    const outcome = classifyGet(await client.getGiftRequest(created.body?.id ?? ''));

    // Assess
    expect(outcome).toMatchObject({ kind: 'found', httpStatus: 200 });
    const gets = sandbox.journal.requests.filter((request) => request.method === 'GET');
    expect(gets.map((request) => request.fault ?? null)).toEqual(['drop-before-create', null]);
  });

  it.each<[InjectedFault, Record<string, unknown>]>([
    ['500-not-created', { kind: 'retry-later', reason: 'server-error', httpStatus: 500 }],
    ['500-created', { kind: 'retry-later', reason: 'server-error', httpStatus: 500 }],
    ['502', { kind: 'retry-later', reason: 'server-error', httpStatus: 502 }],
    ['504', { kind: 'retry-later', reason: 'server-error', httpStatus: 504 }],
    ['503', { kind: 'retry-later', reason: 'unavailable', httpStatus: 503, retryAfterMs: 1_000 }],
    ['429', { kind: 'throttled', httpStatus: 429, retryAfterMs: 1_000 }],
    ['drop-before-create', { kind: 'retry-later', httpStatus: null }],
    ['drop-after-create', { kind: 'retry-later', httpStatus: null }],
  ])('%s → %o', async (fault, expected) => {
    // Prepare
    const { sandbox, client } = await setup();
    const created = answered(await client.createGiftRequest(choiceBody()));
    // A GET dropped on a reused keep-alive socket is asked again once: drop that one too.
    sandbox.injectNext(fault, fault.startsWith('drop-') ? 2 : 1, 'get');

    // Act
    const call = await client.getGiftRequest(created.body?.id ?? '');
    const outcome = classifyGet(call);

    // Assess
    expect(outcome).toMatchObject(expected);
    const entry = sandbox.journal.requests.at(-1);
    expect(entry).toMatchObject({ method: 'GET', fault });
    if (call.kind === 'response') expect(journalEntryOf(sandbox, call)).toBe(entry);
    else expect(entry?.status).toBeNull();
  });
});
