/**
 * The &Open HTTP client against small real node:http servers on 127.0.0.1 (port 0), one per test:
 * the exact bytes it sends, how it reads every kind of answer, and every way a call can fail.
 */

import http from 'node:http';
import type { AddressInfo } from 'node:net';
import net from 'node:net';
import { inspect } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import {
  AndOpenClientConfigError,
  AndOpenHttpClient,
  type AndOpenHttpClientOptions,
  CampaignListError,
} from '../../lambdas/adapters/andopen-http-client.ts';
import type { GiftRequestBody } from '../../lambdas/ports/gifting-api.ts';

/** Recognisable, so a leak anywhere is found by a plain substring search. */
const API_KEY = 'ao-v1-staging-CANARY-7f3a9c1e5b';

const BODY: GiftRequestBody = {
  campaign_id: 'a1b2c3d4-e5f6-7890-abcd-ef1234567890',
  recipient: { first_name: 'Alice', last_name: 'Smith', email: 'alice@example.com' },
};

const GIFT = {
  id: '4fb4cb3f-9666-43b5-8884-7f5194483d1a',
  status: 'submitted',
  campaign_id: 'a1b2c3d4-e5f6-7890-abcd-ef1234567890',
  redemption_url: 'https://gift.andopen.co/r/abc123',
  recipient: { id: 'r1', first_name: 'Alice', last_name: 'Smith', email: 'alice@example.com' },
  shipping_address: null,
  line_items: null,
  created_at: '2026-04-16T10:30:00.000Z',
  updated_at: '2026-04-16T10:30:00.000Z',
};

interface SeenRequest {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  rawHeaderNames: string[];
  body: string;
}

interface TestServer {
  url: string;
  requests: SeenRequest[];
  connections: number;
  close(): Promise<void>;
}

type Reply = (request: SeenRequest, response: http.ServerResponse) => void;

const cleanups: (() => Promise<void> | void)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** An HTTP server that records each request (with its whole body) before `reply` answers it. */
async function startServer(reply: Reply): Promise<TestServer> {
  const requests: SeenRequest[] = [];
  const server = http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const seen: SeenRequest = {
        method: request.method ?? '',
        url: request.url ?? '',
        headers: request.headers,
        rawHeaderNames: request.rawHeaders.filter((_, index) => index % 2 === 0),
        body: Buffer.concat(chunks).toString('utf8'),
      };
      requests.push(seen);
      reply(seen, response);
    });
  });
  const state = { connections: 0 };
  server.on('connection', () => {
    state.connections += 1;
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  const testServer: TestServer = {
    url: `http://127.0.0.1:${port}`,
    requests,
    get connections() {
      return state.connections;
    },
    close,
  };
  cleanups.push(close);
  return testServer;
}

/** A raw TCP server for failures below HTTP (silence, resets). */
async function startTcpServer(onSocket: (socket: net.Socket) => void): Promise<number> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    onSocket(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  );
  return (server.address() as AddressInfo).port;
}

function newClient(options: Partial<AndOpenHttpClientOptions> & { baseUrl: string }) {
  const client = new AndOpenHttpClient({ apiKey: API_KEY, ...options });
  cleanups.push(() => client.close());
  return client;
}

function json(response: http.ServerResponse, status: number, body: unknown, headers = {}): void {
  response.writeHead(status, { 'Content-Type': 'application/json', ...headers });
  response.end(JSON.stringify(body));
}

describe('AndOpenHttpClient: what it sends', () => {
  it('creates with the exact request line, headers and flat JSON body', async () => {
    // Prepare
    const server = await startServer((_request, response) =>
      json(response, 201, GIFT, { 'Request-Id': 'req_create_1' }),
    );
    const client = newClient({ baseUrl: server.url, userAgent: 'gift-batch-test/1' });

    // Act
    const call = await client.createGiftRequest(BODY);

    // Assess
    const [sent] = server.requests;
    expect(sent?.method).toBe('POST');
    expect(sent?.url).toBe('/gift_requests');
    expect(sent?.headers['andopen-api-version']).toBe('2026-05');
    expect(sent?.headers.authorization).toBe(`Bearer ${API_KEY}`);
    expect(sent?.headers.accept).toBe('application/json');
    expect(sent?.headers['content-type']).toBe('application/json');
    expect(sent?.headers['content-length']).toBe(String(Buffer.byteLength(sent?.body ?? '')));
    expect(sent?.headers['user-agent']).toBe('gift-batch-test/1');
    expect(sent?.rawHeaderNames).toContain('AndOpen-API-Version');
    expect(sent?.body).toBe(JSON.stringify(BODY));
    expect(JSON.parse(sent?.body ?? '')).not.toHaveProperty('data');
    expect(call).toEqual({
      kind: 'response',
      status: 201,
      requestId: 'req_create_1',
      body: GIFT,
      errors: [],
      retryAfterMs: null,
      writtenAt: expect.any(Number),
    });
  });

  it('sends a direct-send body as is, UTF-8 names included', async () => {
    // Prepare
    const server = await startServer((_request, response) => json(response, 201, GIFT));
    const client = newClient({ baseUrl: server.url });
    const body: GiftRequestBody = {
      campaign_id: '22222222-2222-4222-8222-222222222222',
      recipient: { first_name: 'Zoë', last_name: 'Ó Briain' },
      shipping_address: {
        address1: '12 Merrion Square',
        city: 'Dublin',
        region: 'Leinster',
        postal_code: 'D02 XY45',
        country_code: 'IE',
        phone: '+353871234567',
      },
      line_items: [{ sku: 'HOODIE-L-BLK', quantity: 1 }],
    };

    // Act
    await client.createGiftRequest(body);

    // Assess
    const [sent] = server.requests;
    expect(JSON.parse(sent?.body ?? '')).toEqual(body);
    expect(sent?.headers['content-length']).toBe(String(Buffer.byteLength(JSON.stringify(body))));
  });

  it('gets a gift request by its encoded id, without a body or Content-Type', async () => {
    // Prepare
    const server = await startServer((_request, response) =>
      json(response, 200, GIFT, { 'Request-Id': 'req_get_1' }),
    );
    const client = newClient({ baseUrl: server.url });

    // Act
    const call = await client.getGiftRequest('gift/1 ?#');

    // Assess
    const [sent] = server.requests;
    expect(sent?.method).toBe('GET');
    expect(sent?.url).toBe('/gift_requests/gift%2F1%20%3F%23');
    expect(sent?.headers['andopen-api-version']).toBe('2026-05');
    expect(sent?.headers.authorization).toBe(`Bearer ${API_KEY}`);
    expect(sent?.headers.accept).toBe('application/json');
    expect(sent?.headers['content-type']).toBeUndefined();
    expect(sent?.body).toBe('');
    expect(call).toMatchObject({
      kind: 'response',
      status: 200,
      requestId: 'req_get_1',
      body: GIFT,
    });
  });

  it('gets a campaign with its catalogue', async () => {
    // Prepare
    const campaign = {
      id: 'c1',
      name: 'Welcome',
      status: 'available',
      invitation_method: 'sender_provided_address',
      products: [
        {
          id: 'p1',
          name: 'Hoodie',
          variants: [
            {
              id: 'v1',
              sku: 'HOODIE-L-BLK',
              enabled: true,
              stock_levels: [{ quantity: 5, warehouse: { id: 'w1' } }],
            },
          ],
        },
      ],
    };
    const server = await startServer((_request, response) => json(response, 200, campaign));
    const client = newClient({ baseUrl: server.url });

    // Act
    const call = await client.getCampaign('c1');

    // Assess
    expect(server.requests[0]?.url).toBe('/campaigns/c1');
    expect(call).toMatchObject({ kind: 'response', status: 200, body: campaign });
  });

  it('keeps a base URL path prefix (a proxy)', async () => {
    // Prepare
    const server = await startServer((_request, response) => json(response, 200, GIFT));
    const client = newClient({ baseUrl: `${server.url}/andopen/` });

    // Act
    await client.getGiftRequest('g1');

    // Assess
    expect(server.requests[0]?.url).toBe('/andopen/gift_requests/g1');
  });

  it('reuses one keep-alive connection for consecutive calls', async () => {
    // Prepare
    const server = await startServer((_request, response) => json(response, 200, GIFT));
    const client = newClient({ baseUrl: server.url });

    // Act
    await client.getGiftRequest('g1');
    await client.getGiftRequest('g2');
    await client.createGiftRequest(BODY);

    // Assess
    expect(server.requests).toHaveLength(3);
    expect(server.connections).toBe(1);
  });
});

describe('AndOpenHttpClient: campaign lists', () => {
  it('sends limit, after, status and sort as query parameters', async () => {
    // Prepare
    const server = await startServer((_request, response) =>
      json(response, 200, { data: [], has_more: false }),
    );
    const client = newClient({ baseUrl: server.url });

    // Act
    const call = await client.listCampaigns({
      limit: 25,
      after: 'c 9',
      status: 'available',
      sort: 'created_at',
    });

    // Assess
    expect(server.requests[0]?.url).toBe(
      '/campaigns?limit=25&after=c+9&status=available&sort=created_at',
    );
    expect(call).toMatchObject({ kind: 'response', body: { data: [], has_more: false } });
  });

  it('lists without parameters as a bare /campaigns', async () => {
    // Prepare
    const server = await startServer((_request, response) =>
      json(response, 200, { data: [], has_more: false }),
    );
    const client = newClient({ baseUrl: server.url });

    // Act
    await client.listCampaigns();

    // Assess
    expect(server.requests[0]?.url).toBe('/campaigns');
  });

  it('walks three pages following the cursor (after = id of the last item)', async () => {
    // Prepare
    const pages: Record<string, unknown> = {
      '': { data: [{ id: 'c1' }, { id: 'c2' }], has_more: true },
      c2: { data: [{ id: 'c3' }, { id: 'c4' }], has_more: true },
      c4: { data: [{ id: 'c5' }], has_more: false },
    };
    const server = await startServer((request, response) => {
      const after = new URL(request.url, 'http://x').searchParams.get('after') ?? '';
      json(response, 200, pages[after] ?? { errors: [] });
    });
    const client = newClient({ baseUrl: server.url });

    // Act
    const ids: string[] = [];
    for await (const campaign of client.listAllCampaigns({ limit: 2, status: 'available' })) {
      ids.push(campaign.id);
    }

    // Assess
    expect(ids).toEqual(['c1', 'c2', 'c3', 'c4', 'c5']);
    expect(server.requests.map((request) => request.url)).toEqual([
      '/campaigns?limit=2&status=available',
      '/campaigns?limit=2&after=c2&status=available',
      '/campaigns?limit=2&after=c4&status=available',
    ]);
  });

  it('stops the walk with CampaignListError when a page fails, keeping the call', async () => {
    // Prepare
    const server = await startServer((request, response) => {
      if (request.url.includes('after=')) {
        json(
          response,
          429,
          { errors: [{ type: 'rate_limit_error', code: 'rate_limited' }] },
          {
            'Request-Id': 'req_page_2',
          },
        );
      } else {
        json(response, 200, { data: [{ id: 'c1' }], has_more: true });
      }
    });
    const client = newClient({ baseUrl: server.url });

    // Act
    const ids: string[] = [];
    let caught: unknown;
    try {
      for await (const campaign of client.listAllCampaigns()) ids.push(campaign.id);
    } catch (error) {
      caught = error;
    }

    // Assess
    expect(ids).toEqual(['c1']);
    expect(caught).toBeInstanceOf(CampaignListError);
    expect((caught as CampaignListError).name).toBe('CampaignListError');
    expect((caught as CampaignListError).message).toContain('HTTP 429 rate_limited');
    expect((caught as CampaignListError).message).toContain('req_page_2');
    expect((caught as CampaignListError).call).toMatchObject({ kind: 'response', status: 429 });
  });

  it('stops a walk whose cursor does not move instead of looping forever', async () => {
    // Prepare
    const server = await startServer((_request, response) =>
      json(response, 200, { data: [{ id: 'same' }], has_more: true }),
    );
    const client = newClient({ baseUrl: server.url });

    // Act
    let pagesRead = 0;
    const walk = async () => {
      for await (const _campaign of client.listAllCampaigns()) pagesRead += 1;
    };

    // Assess
    await expect(walk()).rejects.toThrow(/cursor same repeated/);
    expect(pagesRead).toBe(2);
  });
});

describe('AndOpenHttpClient: reading answers', () => {
  it('keeps the Request-Id of an error and parses every error of a 422', async () => {
    // Prepare
    const errors = [
      {
        type: 'validation_error',
        code: 'required',
        message: 'is required',
        param: 'recipient.last_name',
      },
      {
        type: 'validation_error',
        code: 'invalid_format',
        message: 'must be an ISO 3166-1 alpha-2 country code in uppercase',
        param: 'shipping_address.country_code',
      },
      { type: 'validation_error', code: 'invalid', message: 'campaign_id does not exist' },
    ];
    const server = await startServer((_request, response) =>
      json(response, 422, { errors }, { 'Request-Id': 'req_422' }),
    );
    const client = newClient({ baseUrl: server.url });

    // Act
    const call = await client.createGiftRequest(BODY);

    // Assess
    expect(call).toEqual({
      kind: 'response',
      status: 422,
      requestId: 'req_422',
      body: null,
      errors: [errors[0], errors[1], { ...errors[2], param: null }],
      retryAfterMs: null,
      writtenAt: expect.any(Number),
    });
  });

  it('tolerates a non-JSON 502 page from a proxy', async () => {
    // Prepare
    const server = await startServer((_request, response) => {
      response.writeHead(502, { 'Content-Type': 'text/html', 'Request-Id': 'req_502' });
      response.end('<html><body><h1>502 Bad Gateway</h1></body></html>');
    });
    const client = newClient({ baseUrl: server.url });

    // Act
    const call = await client.createGiftRequest(BODY);

    // Assess
    expect(call).toEqual({
      kind: 'response',
      status: 502,
      requestId: 'req_502',
      body: null,
      errors: [],
      retryAfterMs: null,
      writtenAt: expect.any(Number),
    });
  });

  it('returns a 201 with an unreadable body as a response with body null (no invented id)', async () => {
    // Prepare
    const server = await startServer((_request, response) => {
      response.writeHead(201, { 'Content-Type': 'application/json', 'Request-Id': 'req_odd' });
      response.end('{"id": "4fb4cb3f-96');
    });
    const client = newClient({ baseUrl: server.url });

    // Act
    const call = await client.createGiftRequest(BODY);

    // Assess
    expect(call).toEqual({
      kind: 'response',
      status: 201,
      requestId: 'req_odd',
      body: null,
      errors: [],
      retryAfterMs: null,
      writtenAt: expect.any(Number),
    });
  });

  it('keeps unknown fields and an unknown status', async () => {
    // Prepare
    const answer = { ...GIFT, status: 'awaiting_customs', gift_note: { text: 'Thanks!' } };
    const server = await startServer((_request, response) => json(response, 200, answer));
    const client = newClient({ baseUrl: server.url });

    // Act
    const call = await client.getGiftRequest(GIFT.id);

    // Assess
    expect(call).toMatchObject({
      kind: 'response',
      body: { status: 'awaiting_customs', gift_note: { text: 'Thanks!' } },
    });
  });

  it('reads Retry-After in delta-seconds', async () => {
    // Prepare
    const server = await startServer((_request, response) =>
      json(
        response,
        429,
        { errors: [{ type: 'rate_limit_error', code: 'rate_limited' }] },
        {
          'Retry-After': '120',
        },
      ),
    );
    const client = newClient({ baseUrl: server.url });

    // Act
    const call = await client.createGiftRequest(BODY);

    // Assess
    expect(call).toMatchObject({ kind: 'response', status: 429, retryAfterMs: 120_000 });
  });

  it('reads Retry-After as an HTTP-date against the injected clock', async () => {
    // Prepare
    const now = Date.UTC(2026, 4, 20, 12, 0, 0);
    const server = await startServer((_request, response) =>
      json(response, 503, { errors: [] }, { 'Retry-After': 'Wed, 20 May 2026 12:05:00 GMT' }),
    );
    const client = newClient({ baseUrl: server.url, now: () => now });

    // Act
    const call = await client.getGiftRequest('g1');

    // Assess
    expect(call).toMatchObject({ kind: 'response', status: 503, retryAfterMs: 300_000 });
  });
});

describe('AndOpenHttpClient: failures', () => {
  it('a server that never answers → timeout with requestSent: true', async () => {
    // Prepare
    const server = await startServer(() => {});
    const client = newClient({ baseUrl: server.url, timeoutMs: 300 });

    // Act
    const call = await client.createGiftRequest(BODY);

    // Assess
    expect(server.requests).toHaveLength(1);
    expect(call).toEqual({
      kind: 'transport-failure',
      requestSent: true,
      reason: 'timeout',
      message: expect.stringContaining('timeout'),
    });
  });

  it('the timeout covers the body: headers then silence → timeout, requestSent: true', async () => {
    // Prepare
    const server = await startServer((_request, response) => {
      response.writeHead(201, { 'Content-Type': 'application/json' });
      response.write('{"id":');
    });
    const client = newClient({ baseUrl: server.url, timeoutMs: 300 });

    // Act
    const call = await client.createGiftRequest(BODY);

    // Assess
    expect(call).toMatchObject({ kind: 'transport-failure', requestSent: true, reason: 'timeout' });
  });

  it('a server that destroys the socket after reading the body → reset, requestSent: true', async () => {
    // Prepare
    const server = await startServer((_request, response) => response.socket?.destroy());
    const client = newClient({ baseUrl: server.url });

    // Act
    const call = await client.createGiftRequest(BODY);

    // Assess
    expect(server.requests).toHaveLength(1);
    expect(call).toMatchObject({
      kind: 'transport-failure',
      requestSent: true,
      reason: 'reset',
      message: expect.stringContaining('ECONNRESET'),
    });
  });

  it('a reset in the middle of the answer body → reset, requestSent: true', async () => {
    // Prepare
    const server = await startServer((_request, response) => {
      response.writeHead(201, { 'Content-Type': 'application/json', 'Content-Length': '500' });
      response.write('{"id":"4fb4', () => response.socket?.destroy());
    });
    const client = newClient({ baseUrl: server.url });

    // Act
    const call = await client.createGiftRequest(BODY);

    // Assess
    expect(call).toMatchObject({ kind: 'transport-failure', requestSent: true, reason: 'reset' });
  });

  it('a reset on a reused keep-alive connection after writing → reset, requestSent: true', async () => {
    // Prepare
    const server = await startServer((request, response) => {
      if (request.method === 'GET') json(response, 200, GIFT);
      else response.socket?.destroy();
    });
    const client = newClient({ baseUrl: server.url });
    await client.getGiftRequest('g1');

    // Act
    const call = await client.createGiftRequest(BODY);

    // Assess
    expect(server.connections).toBe(1);
    expect(call).toMatchObject({ kind: 'transport-failure', requestSent: true, reason: 'reset' });
  });

  it('connection refused (a port bound then closed) → requestSent: false', async () => {
    // Prepare
    const probe = net.createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const { port } = probe.address() as AddressInfo;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const client = newClient({ baseUrl: `http://127.0.0.1:${port}` });

    // Act
    const call = await client.createGiftRequest(BODY);

    // Assess
    expect(call).toEqual({
      kind: 'transport-failure',
      requestSent: false,
      reason: 'connection-refused',
      message: `POST 127.0.0.1:${port}: connection refused (ECONNREFUSED)`,
    });
  });

  it('an unresolvable host → dns, requestSent: false', async () => {
    // Prepare
    const client = newClient({ baseUrl: 'http://gift-batch-nonexistent.invalid' });

    // Act
    const call = await client.createGiftRequest(BODY);

    // Assess
    expect(call).toMatchObject({
      kind: 'transport-failure',
      requestSent: false,
      reason: 'dns',
      message: expect.stringContaining('gift-batch-nonexistent.invalid'),
    });
  });

  it('a TLS handshake that never completes → connect timeout, requestSent: false', async () => {
    // Prepare: TCP accepts, but nothing answers the TLS ClientHello, so no HTTP byte is ever sent.
    const port = await startTcpServer(() => {});
    const client = newClient({
      baseUrl: `https://127.0.0.1:${port}`,
      connectTimeoutMs: 200,
      timeoutMs: 5_000,
    });

    // Act
    const call = await client.createGiftRequest(BODY);

    // Assess
    expect(call).toEqual({
      kind: 'transport-failure',
      requestSent: false,
      reason: 'timeout',
      message: `POST 127.0.0.1:${port}: could not connect within 200 ms (connect timeout)`,
    });
  });

  it('an answer larger than maxResponseBytes is abandoned, requestSent: true', async () => {
    // Prepare
    const server = await startServer((_request, response) =>
      json(response, 200, { ...GIFT, padding: 'x'.repeat(10_000) }),
    );
    const client = newClient({ baseUrl: server.url, maxResponseBytes: 1_000 });

    // Act
    const call = await client.getGiftRequest('g1');

    // Assess
    expect(call).toMatchObject({ kind: 'transport-failure', requestSent: true, reason: 'other' });
  });

  it('a garbage HTTP answer → other, requestSent: true', async () => {
    // Prepare
    const port = await startTcpServer((socket) => {
      socket.once('data', () => socket.end('NOT HTTP AT ALL\r\n\r\n'));
    });
    const client = newClient({ baseUrl: `http://127.0.0.1:${port}` });

    // Act
    const call = await client.createGiftRequest(BODY);

    // Assess
    expect(call).toMatchObject({ kind: 'transport-failure', requestSent: true, reason: 'other' });
  });
});

describe('AndOpenHttpClient: configuration errors', () => {
  it.each([
    ['an empty key', { apiKey: '' }, /API key is empty/],
    ['a key with inner spaces', { apiKey: 'ao-v1 staging' }, /spaces or control characters/],
    ['an invalid base URL', { baseUrl: 'api.andopen.co' }, /"us", "eu", "staging"/],
    ['a zero timeout', { timeoutMs: 0 }, /timeoutMs must be a positive number/],
  ])('throws AndOpenClientConfigError for %s', (_label, options, message) => {
    // Prepare
    const all = { baseUrl: 'us', apiKey: API_KEY, ...options };

    // Act
    const act = () => new AndOpenHttpClient(all);

    // Assess
    expect(act).toThrow(AndOpenClientConfigError);
    expect(act).toThrow(message);
  });

  it('resolves region names and trims a trailing newline from the key', async () => {
    // Prepare
    const server = await startServer((_request, response) => json(response, 200, GIFT));
    const eu = new AndOpenHttpClient({ baseUrl: 'eu', apiKey: `${API_KEY}\n` });
    const local = newClient({ baseUrl: server.url, apiKey: `  ${API_KEY}\n` });

    // Act
    await local.getGiftRequest('g1');

    // Assess
    expect(eu.baseUrl).toBe('https://api.eu.andopen.co');
    expect(server.requests[0]?.headers.authorization).toBe(`Bearer ${API_KEY}`);
  });
});

describe('AndOpenHttpClient: the API key never leaks', () => {
  it('appears in no returned object, error, message, inspect or JSON output', async () => {
    // Prepare: one client per failure mode, and a server that quotes the token back.
    const answers = await startServer((request, response) => {
      const echoed = `token ${request.headers.authorization} is not valid`;
      if (request.url.startsWith('/gift_requests/')) {
        json(response, 401, {
          errors: [{ type: 'authentication_error', code: 'invalid_token', message: echoed }],
        });
      } else if (request.method === 'POST') {
        response.writeHead(502, { 'Content-Type': 'text/html' });
        response.end('<html>Bad Gateway</html>');
      } else {
        json(response, 200, { data: [], has_more: false });
      }
    });
    const silent = await startServer(() => {});
    const resetting = await startServer((_request, response) => response.socket?.destroy());
    const probe = net.createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const closedPort = (probe.address() as AddressInfo).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const tlsSilentPort = await startTcpServer(() => {});

    const clients = [
      newClient({ baseUrl: answers.url }),
      newClient({ baseUrl: silent.url, timeoutMs: 200 }),
      newClient({ baseUrl: resetting.url }),
      newClient({ baseUrl: `http://127.0.0.1:${closedPort}` }),
      newClient({ baseUrl: 'http://gift-batch-nonexistent.invalid' }),
      newClient({ baseUrl: `https://127.0.0.1:${tlsSilentPort}`, connectTimeoutMs: 200 }),
    ];

    // Act
    const outputs: unknown[] = [];
    for (const client of clients) {
      outputs.push(await client.createGiftRequest(BODY));
      outputs.push(await client.getGiftRequest('g1'));
      outputs.push(await client.listCampaigns());
      try {
        for await (const campaign of client.listAllCampaigns()) outputs.push(campaign);
      } catch (error) {
        outputs.push(error, (error as Error).message, (error as Error).stack);
      }
      outputs.push(inspect(client, { depth: 10, showHidden: true }), JSON.stringify(client));
      outputs.push(String(client), Object.keys(client), Object.getOwnPropertyNames(client));
    }
    for (const options of [
      { baseUrl: `https://x.example/?key=${API_KEY}`, apiKey: API_KEY },
      { baseUrl: API_KEY, apiKey: API_KEY },
      { baseUrl: 'ftp://x.example', apiKey: API_KEY },
      { baseUrl: 'us', apiKey: `${API_KEY} ${API_KEY}` },
      { baseUrl: 'us', apiKey: API_KEY, timeoutMs: -1 },
    ]) {
      try {
        new AndOpenHttpClient(options);
        outputs.push('constructed without error');
      } catch (error) {
        outputs.push(error, (error as Error).message, (error as Error).stack);
        outputs.push(inspect(error, { depth: 10, showHidden: true }));
      }
    }

    // Assess
    expect(outputs.filter((output) => output === 'constructed without error')).toEqual([]);
    const text = outputs
      .map((output) => inspect(output, { depth: 20, showHidden: true }))
      .join('\n');
    expect(text).toContain('invalid_token'); // the echoing server was reached…
    expect(text).toContain('[redacted]'); // …and its echo of the token was redacted
    expect(text).toContain('ECONNREFUSED');
    expect(text).not.toContain(API_KEY);
    expect(text).not.toContain('CANARY');
  });
});
