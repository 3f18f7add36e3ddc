/**
 * The client writes no request while a Retry-After runs: the last look at the pause happens as the
 * request's bytes leave, not when the request was started. A request started before a 429 was read
 * can still be waiting, for a free socket or for its new connection to open, when the 429 is read;
 * written then, &Open counts it early. Real node:http servers on 127.0.0.1 port 0.
 */

import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { AndOpenHttpClient } from '../../lambdas/adapters/andopen-http-client.ts';

const API_KEY = 'ao-v1-staging-retryafterhold';
const GIFT_ID = '4fb4cb3f-9666-43b5-8884-7f5194483d1a';

interface RefusingServer {
  url: string;
  /** The paths of the requests that reached the server, in order. */
  arrived: string[];
}

const cleanups: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** Answers every request 429 with `Retry-After: 2` (seconds), after `delayMs`. */
async function refusingServer(delayMs = 0): Promise<RefusingServer> {
  const state: RefusingServer = { url: '', arrived: [] };
  const server = http.createServer((request, response) => {
    state.arrived.push(request.url ?? '');
    request.resume();
    request.on('end', () => {
      setTimeout(() => {
        response.writeHead(429, { 'Content-Type': 'application/json', 'Retry-After': '2' });
        response.end(
          JSON.stringify({
            errors: [{ type: 'rate_limit_error', code: 'rate_limited', message: 'slow down' }],
          }),
        );
      }, delayMs);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  cleanups.push(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return state;
}

function client(url: string, options: { maxSockets?: number; pausedUntil?: () => number } = {}) {
  const api = new AndOpenHttpClient({ baseUrl: url, apiKey: API_KEY, ...options });
  cleanups.push(async () => api.close());
  return api;
}

describe('AndOpenHttpClient under a Retry-After', () => {
  it('does not write a request that waited for a free socket while a 429 was read', async () => {
    // Prepare: one socket, so the second request waits for the first one's socket to come free,
    // which happens once the first one's 429 has been read.
    const server = await refusingServer(20);
    const api = client(server.url, { maxSockets: 1 });

    // Act
    const [first, second] = await Promise.all([
      api.getGiftRequest('first'),
      api.getGiftRequest('second'),
    ]);

    // Assess
    expect(first).toMatchObject({ kind: 'response', status: 429, retryAfterMs: 2_000 });
    expect(second).toMatchObject({ kind: 'transport-failure', requestSent: false });
    expect(second.kind === 'transport-failure' && second.message).toContain('Retry-After');
    expect(server.arrived).toEqual(['/gift_requests/first']);
  });

  it('does not write a request whose new connection opened after the fleet paused', async () => {
    // Prepare: the fleet's pause as the rate limiter knows it; no connection is open yet.
    const server = await refusingServer();
    let fleetPausedUntil = 0;
    const api = client(server.url, { pausedUntil: () => fleetPausedUntil });

    // Act: the request is started (its socket begins to connect), then, before the connection
    // opens, another part of the fleet hears a Retry-After.
    const call = api.createGiftRequest({
      campaign_id: 'a1b2c3d4-e5f6-7890-abcd-ef1234567890',
      recipient: { first_name: 'Alice', last_name: 'Smith' },
    });
    fleetPausedUntil = Date.now() + 1_000;
    const answer = await call;

    // Assess: nothing left this machine, so the row may be sent again (not `unknown`).
    expect(answer).toMatchObject({ kind: 'transport-failure', requestSent: false });
    expect(server.arrived).toEqual([]);
  });

  it('writes nothing while a Retry-After it heard runs, and carries on once it has passed', async () => {
    // Prepare: the clock the client reads, moved by hand.
    const server = await refusingServer();
    let now = Date.parse('2026-06-01T10:00:00.000Z');
    const api = new AndOpenHttpClient({ baseUrl: server.url, apiKey: API_KEY, now: () => now });
    cleanups.push(async () => api.close());
    await api.getGiftRequest(GIFT_ID);

    // Act
    now += 1_999;
    const during = await api.getGiftRequest(GIFT_ID);
    now += 1;
    const after = await api.getGiftRequest(GIFT_ID);

    // Assess
    expect(during).toMatchObject({ kind: 'transport-failure', requestSent: false });
    expect(after).toMatchObject({ kind: 'response', status: 429 });
    expect(server.arrived).toHaveLength(2);
  });

  it('says when it wrote each request: one that waited for a free socket, once that socket came free', async () => {
    // Prepare: a server that answers 404 after 30 ms and notes when each answer left; one socket,
    // so the second request waits for the first one's answer.
    const answersLeftAt: number[] = [];
    const server = http.createServer((request, response) => {
      request.resume();
      request.on('end', () => {
        setTimeout(() => {
          answersLeftAt.push(Date.now());
          response.writeHead(404, { 'Content-Type': 'application/json' });
          response.end(JSON.stringify({ errors: [{ type: 'invalid_request_error' }] }));
        }, 30);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanups.push(async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    });
    const api = client(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, {
      maxSockets: 1,
    });
    const startedAt = Date.now();

    // Act
    const [first, second] = await Promise.all([
      api.getGiftRequest(GIFT_ID),
      api.getGiftRequest(GIFT_ID),
    ]);

    // Assess: the rate limiter times its measurement by these instants.
    expect(first).toMatchObject({ kind: 'response', status: 404 });
    expect(second).toMatchObject({ kind: 'response', status: 404 });
    const writtenAt = (call: typeof first) => (call.kind === 'response' ? call.writtenAt : null);
    expect(writtenAt(first)).toBeGreaterThanOrEqual(startedAt);
    expect(writtenAt(first)).toBeLessThanOrEqual(answersLeftAt[0] ?? 0);
    expect(writtenAt(second)).toBeGreaterThanOrEqual(answersLeftAt[0] ?? Number.POSITIVE_INFINITY);
  });
});
