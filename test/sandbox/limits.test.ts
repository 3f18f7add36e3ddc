import { afterEach, describe, expect, it } from 'vitest';
import { SANDBOX_API_KEY, type Sandbox, startSandbox } from '../../sandbox/index.ts';
import { API_HEADERS, call, choiceBody, manualClock, REQUEST_ID, T0 } from './helpers.ts';

const OTHER_KEY = 'ao-v1-staging-othertenantkey';
const otherHeaders = { ...API_HEADERS, Authorization: `Bearer ${OTHER_KEY}` };

let sandbox: Sandbox | undefined;
afterEach(async () => {
  await sandbox?.stop();
  sandbox = undefined;
});

describe('rate limit', () => {
  it('answers 429 with Retry-After in whole seconds, with a Request-Id', async () => {
    // Prepare
    sandbox = await startSandbox({ now: manualClock().now, rateLimit: { rps: 2, burst: 2 } });
    await call(sandbox, 'POST', '/gift_requests', choiceBody());
    await call(sandbox, 'POST', '/gift_requests', choiceBody());

    // Act
    const limited = await call(sandbox, 'POST', '/gift_requests', choiceBody());

    // Assess
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('1');
    expect(limited.headers.get('request-id')).toMatch(REQUEST_ID);
    expect(limited.headers.get('content-type')).toBe('application/json');
    expect(limited.json.errors).toEqual([
      { type: 'rate_limit_error', code: 'rate_limited', message: expect.any(String) },
    ]);
    expect(sandbox.journal.gifts).toHaveLength(2);
  });

  it('shares one bucket per tenant between POSTs, GETs and campaigns', async () => {
    // Prepare
    sandbox = await startSandbox({
      now: manualClock().now,
      rateLimit: { rps: 1, burst: 1 },
      apiKeys: [SANDBOX_API_KEY, { key: OTHER_KEY, tenant: 'other' }],
    });
    await call(sandbox, 'POST', '/gift_requests', choiceBody());

    // Act
    const campaigns = await call(sandbox, 'GET', '/campaigns');
    const otherTenant = await call(sandbox, 'GET', '/campaigns', undefined, otherHeaders);

    // Assess
    expect(campaigns.status).toBe(429);
    expect(otherTenant.status).toBe(200);
  });

  it('counts requests that come before the Retry-After has passed as early, and not at the instant', async () => {
    // Prepare
    const clock = manualClock();
    sandbox = await startSandbox({ now: clock.now, rateLimit: { rps: 2, burst: 2 } });
    const post = () => call(sandbox as Sandbox, 'POST', '/gift_requests', choiceBody());
    await post();
    await post();
    const limited = await post(); // Retry-After: 1 → not before T0 + 1000

    // Act
    clock.advance(500);
    const earlyButServed = await post(); // a token is back, but the client did not wait as told
    clock.advance(499);
    const earlyAndLimited = await post(); // T0 + 999: Retry-After 1 again → not before T0 + 1999
    clock.advance(1000);
    const onTime = await post(); // T0 + 1999: exactly the instant given

    // Assess
    expect([limited, earlyButServed, earlyAndLimited, onTime].map((r) => r.status)).toEqual([
      429, 201, 429, 201,
    ]);
    const early = sandbox.journal.earlyRequests;
    expect(early.map((entry) => [entry.at - T0, entry.notBefore - T0, entry.status])).toEqual([
      [500, 1000, 201],
      [999, 1000, 429],
    ]);
    expect(sandbox.journal.requests.map((entry) => entry.early)).toEqual([
      false,
      false,
      false,
      true,
      true,
      false,
    ]);
    expect(sandbox.journal.summary().earlyRequests).toBe(2);
  });

  it('does not hold one tenant’s Retry-After against another tenant', async () => {
    // Prepare
    sandbox = await startSandbox({
      now: manualClock().now,
      rateLimit: { rps: 1, burst: 1 },
      apiKeys: [SANDBOX_API_KEY, { key: OTHER_KEY, tenant: 'other' }],
    });
    await call(sandbox, 'GET', '/campaigns');
    await call(sandbox, 'GET', '/campaigns'); // 429 for demo

    // Act
    await call(sandbox, 'GET', '/campaigns', undefined, otherHeaders);

    // Assess
    expect(sandbox.journal.earlyRequests).toHaveLength(0);
  });

  it('writes Retry-After as an HTTP-date when asked, rounded up to the second it names', async () => {
    // Prepare
    const clock = manualClock(T0 + 250);
    sandbox = await startSandbox({
      now: clock.now,
      rateLimit: { rps: 2, burst: 1, retryAfterFormat: 'http-date' },
    });
    await call(sandbox, 'GET', '/campaigns');

    // Act
    const limited = await call(sandbox, 'GET', '/campaigns');
    clock.advance(1749); // T0 + 1999
    await call(sandbox, 'GET', '/campaigns');
    clock.advance(1); // T0 + 2000, the instant the date names
    await call(sandbox, 'GET', '/campaigns');

    // Assess
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('Mon, 04 May 2026 09:00:02 GMT');
    expect(sandbox.journal.earlyRequests.map((entry) => entry.at - T0)).toEqual([1999]);
  });
});

describe('maintenance', () => {
  it('answers 503 with Retry-After until the window ends, after authentication', async () => {
    // Prepare
    const clock = manualClock();
    sandbox = await startSandbox({
      now: clock.now,
      maintenance: [{ startMs: 1000, durationMs: 5000 }],
    });
    const before = await call(sandbox, 'GET', '/campaigns');

    // Act
    clock.advance(1000);
    const start = await call(sandbox, 'GET', '/campaigns');
    const badToken = await call(sandbox, 'GET', '/campaigns', undefined, {
      ...API_HEADERS,
      Authorization: 'Bearer nope',
    });
    clock.advance(4500);
    const nearEnd = await call(sandbox, 'POST', '/gift_requests', choiceBody());
    clock.advance(1000); // as told: the window ended at T0 + 6000, Retry-After 1 said T0 + 6500
    const after = await call(sandbox, 'POST', '/gift_requests', choiceBody());

    // Assess
    expect([before, start, badToken, nearEnd, after].map((r) => r.status)).toEqual([
      200, 503, 401, 503, 201,
    ]);
    expect(start.headers.get('retry-after')).toBe('5');
    expect(start.headers.get('request-id')).toMatch(REQUEST_ID);
    expect(start.json.errors).toEqual([
      { type: 'api_error', code: 'service_unavailable', message: expect.any(String) },
    ]);
    expect(nearEnd.headers.get('retry-after')).toBe('1');
    expect(sandbox.journal.earlyRequests.map((entry) => entry.at - T0)).toEqual([5500]);
    expect(sandbox.journal.gifts).toHaveLength(1);
  });

  it('takes absolute windows on the sandbox clock, and windows set while running', async () => {
    // Prepare
    const clock = manualClock();
    sandbox = await startSandbox({ now: clock.now });
    sandbox.configure({
      maintenance: [{ startMs: T0 + 10_000, durationMs: 2000, absolute: true }],
    });

    // Act
    const before = await call(sandbox, 'GET', '/campaigns');
    clock.advance(10_000);
    const during = await call(sandbox, 'GET', '/campaigns');

    // Assess
    expect(before.status).toBe(200);
    expect(during.status).toBe(503);
    expect(during.headers.get('retry-after')).toBe('2');
  });
});
