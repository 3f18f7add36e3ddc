/**
 * Stale keep-alive sockets: after a Lambda thaw, a pooled socket may look alive though the server
 * closed it long ago (timers do not run while frozen). Real node:http servers on 127.0.0.1 port 0
 * that reset a connection used again after it was idle longer than their limit; both sides read an
 * injected clock, so "a long freeze" takes no time.
 */

import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { AndOpenHttpClient } from '../../lambdas/adapters/andopen-http-client.ts';
import type { GiftRequestBody } from '../../lambdas/ports/gifting-api.ts';

const API_KEY = 'ao-v1-staging-stalesockets';
const SERVER_IDLE_LIMIT_MS = 5_000;

const BODY: GiftRequestBody = {
  campaign_id: 'a1b2c3d4-e5f6-7890-abcd-ef1234567890',
  recipient: { first_name: 'Alice', last_name: 'Smith' },
};

const GIFT = {
  id: '4fb4cb3f-9666-43b5-8884-7f5194483d1a',
  status: 'submitted',
  campaign_id: BODY.campaign_id,
  redemption_url: null,
  recipient: { id: 'r1', first_name: 'Alice', last_name: 'Smith' },
  shipping_address: null,
  line_items: null,
  created_at: '2026-04-16T10:30:00.000Z',
  updated_at: '2026-04-16T10:30:00.000Z',
};

interface IdleLimitedServer {
  url: string;
  /** Connections opened, and requests answered, so far. */
  connections: number;
  answered: { method: string; connection: number }[];
  /** Requests that arrived on a connection past its idle limit: reset, never read. */
  resets: number;
}

const cleanups: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A server that treats a connection idle longer than its limit (by `now`) as closed: it resets it. */
async function idleLimitedServer(now: () => number): Promise<IdleLimitedServer> {
  const idleSince = new WeakMap<Socket, number>();
  const numbers = new WeakMap<Socket, number>();
  const state: IdleLimitedServer = { url: '', connections: 0, answered: [], resets: 0 };
  const server = http.createServer((request, response) => {
    const socket = request.socket;
    const since = idleSince.get(socket);
    if (since !== undefined && now() - since > SERVER_IDLE_LIMIT_MS) {
      state.resets += 1;
      socket.resetAndDestroy();
      return;
    }
    request.resume();
    request.on('end', () => {
      state.answered.push({ method: request.method ?? '', connection: numbers.get(socket) ?? 0 });
      response.on('finish', () => idleSince.set(socket, now()));
      response.writeHead(request.method === 'POST' ? 201 : 200, {
        'Content-Type': 'application/json',
        'Request-Id': `req_${state.answered.length}`,
      });
      response.end(JSON.stringify(GIFT));
    });
  });
  server.keepAliveTimeout = 60_000;
  server.on('connection', (socket: Socket) => {
    state.connections += 1;
    numbers.set(socket, state.connections);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  return state;
}

function setUp(server: IdleLimitedServer, clock: { ms: number }) {
  const client = new AndOpenHttpClient({
    baseUrl: server.url,
    apiKey: API_KEY,
    now: () => clock.ms,
    postSocketMaxIdleMs: 2_000,
  });
  cleanups.push(async () => client.close());
  return client;
}

describe('AndOpenHttpClient and stale keep-alive sockets', () => {
  it('sends a POST on a fresh socket after a freeze longer than the idle limit, and it succeeds', async () => {
    // Prepare: one call leaves a pooled socket; then "Lambda is frozen" past the server's limit.
    const clock = { ms: Date.parse('2026-11-22T10:00:00.000Z') };
    const server = await idleLimitedServer(() => clock.ms);
    const client = setUp(server, clock);
    expect((await client.createGiftRequest(BODY)).kind).toBe('response');
    clock.ms += 60_000;

    // Act
    const call = await client.createGiftRequest(BODY);

    // Assess: a definite 201 on a second connection; the stale one never carried it.
    expect(call).toMatchObject({ kind: 'response', status: 201, requestId: 'req_2' });
    expect(server.resets).toBe(0);
    expect(server.answered).toEqual([
      { method: 'POST', connection: 1 },
      { method: 'POST', connection: 2 },
    ]);
  });

  it('keeps reusing a socket for POSTs while it is busy, so steady sending costs no new connections', async () => {
    // Prepare
    const clock = { ms: Date.parse('2026-11-22T10:00:00.000Z') };
    const server = await idleLimitedServer(() => clock.ms);
    const client = setUp(server, clock);

    // Act: three POSTs a second apart (by the clock), each within the idle limit.
    for (let index = 0; index < 3; index += 1) {
      expect((await client.createGiftRequest(BODY)).kind).toBe('response');
      clock.ms += 1_000;
    }

    // Assess
    expect(server.connections).toBe(1);
  });

  it('asks a GET again, once, on a fresh socket when a reused one resets', async () => {
    // Prepare: only the server's clock moves, so the client still trusts its pooled socket.
    const serverClock = { ms: Date.parse('2026-11-22T10:00:00.000Z') };
    const clientClock = { ms: serverClock.ms };
    const server = await idleLimitedServer(() => serverClock.ms);
    const client = setUp(server, clientClock);
    expect((await client.getGiftRequest(GIFT.id)).kind).toBe('response');
    serverClock.ms += 60_000;

    // Act
    const call = await client.getGiftRequest(GIFT.id);

    // Assess: the reused socket reset, and the same GET succeeded on a new one.
    expect(call).toMatchObject({ kind: 'response', status: 200 });
    expect(server.resets).toBe(1);
    expect(server.answered.map((answer) => answer.connection)).toEqual([1, 2]);
  });

  it('never repeats a POST that reset on a reused socket: that answer is ambiguous', async () => {
    // Prepare: the client's clock does not see the freeze, so the stale socket is reused.
    const serverClock = { ms: Date.parse('2026-11-22T10:00:00.000Z') };
    const clientClock = { ms: serverClock.ms };
    const server = await idleLimitedServer(() => serverClock.ms);
    const client = setUp(server, clientClock);
    expect((await client.createGiftRequest(BODY)).kind).toBe('response');
    serverClock.ms += 60_000;

    // Act
    const call = await client.createGiftRequest(BODY);

    // Assess
    expect(call).toMatchObject({ kind: 'transport-failure', requestSent: true, reason: 'reset' });
    expect(server.resets).toBe(1);
    expect(server.answered).toHaveLength(1);
  });
});
