import { afterEach, describe, expect, it } from 'vitest';
import { type Sandbox, startSandbox } from '../../sandbox/index.ts';
import { call, choiceBody } from './helpers.ts';

describe('early requests, counted from when a Retry-After was actually given', () => {
  let sandbox: Sandbox;

  afterEach(async () => {
    await sandbox.stop();
  });

  it('does not count a request that arrived while the 429 was still on its way, but counts one after it', async () => {
    // Prepare: one request a second, and every answer takes 300 ms to leave the sandbox.
    sandbox = await startSandbox({
      rateLimit: { rps: 1, burst: 1 },
      latencyMs: { min: 300, max: 300 },
    });
    await call(sandbox, 'POST', '/gift_requests', choiceBody());

    // Act: a throttled request, another sent before its 429 could be heard, then one after.
    const throttled = call(sandbox, 'POST', '/gift_requests', choiceBody());
    await new Promise((resolve) => setTimeout(resolve, 50));
    const inFlight = call(sandbox, 'POST', '/gift_requests', choiceBody());
    const [first, second] = await Promise.all([throttled, inFlight]);
    const afterHearing = await call(sandbox, 'POST', '/gift_requests', choiceBody());

    // Assess
    expect([first.status, second.status, afterHearing.status]).toEqual([429, 429, 429]);
    expect(sandbox.journal.earlyRequests).toHaveLength(1);
    expect(sandbox.journal.earlyRequests[0]?.requestId).toBe(
      afterHearing.headers.get('request-id'),
    );
    // It says since when it could have been known: the first 429 had left before it arrived, and
    // later than that 429's request arrived (the sandbox's latency), so before its instant.
    const [early] = sandbox.journal.earlyRequests;
    expect(early?.heardFrom).toBeLessThanOrEqual(early?.at ?? 0);
    expect(early?.heardFrom).toBeGreaterThan((early?.notBefore ?? 0) - 1_000);
    expect(early?.heardFrom).toBeLessThan(early?.notBefore ?? 0);
  });
});
