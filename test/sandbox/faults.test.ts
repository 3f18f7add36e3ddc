import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  DEMO_CAMPAIGNS,
  type Sandbox,
  SandboxConfigError,
  startSandbox,
} from '../../sandbox/index.ts';
import {
  API_HEADERS,
  call,
  choiceBody,
  directBody,
  manualClock,
  REQUEST_ID,
  stockOf,
} from './helpers.ts';

let sandbox: Sandbox;

beforeEach(async () => {
  sandbox = await startSandbox({ now: manualClock().now, seed: 7 });
});

afterEach(async () => {
  await sandbox.stop();
});

const socks = () => directBody([{ sku: 'SOCKS-LAST', quantity: 1 }]);

function postRaw(body: unknown): Promise<Response> {
  return fetch(`${sandbox.url}/gift_requests`, {
    method: 'POST',
    headers: API_HEADERS,
    body: JSON.stringify(body),
  });
}

describe('injected faults that create nothing', () => {
  it.each([
    ['500-not-created', 500, 'internal_error'],
    ['502', 502, 'bad_gateway'],
    ['504', 504, 'gateway_timeout'],
  ] as const)('%s answers %i and takes no stock', async (fault, status, code) => {
    // Prepare
    sandbox.injectNext(fault);

    // Act
    const reply = await call(sandbox, 'POST', '/gift_requests', socks());

    // Assess
    expect(reply.status).toBe(status);
    expect(reply.json.errors).toEqual([{ type: 'api_error', code, message: expect.any(String) }]);
    expect(reply.headers.get('request-id')).toMatch(REQUEST_ID);
    expect(sandbox.journal.gifts).toHaveLength(0);
    expect(sandbox.journal.requests[0]).toMatchObject({ status, fault });
    expect(await stockOf(sandbox, 'SOCKS-LAST')).toBe(1);
  });

  it.each([
    ['503', 503, 'api_error', 'service_unavailable'],
    ['429', 429, 'rate_limit_error', 'rate_limited'],
  ] as const)('%s answers with a Retry-After', async (fault, status, type, code) => {
    // Prepare
    sandbox.injectNext(fault);

    // Act
    const reply = await call(sandbox, 'POST', '/gift_requests', socks());

    // Assess
    expect(reply.status).toBe(status);
    expect(reply.headers.get('retry-after')).toBe('1');
    expect(reply.json.errors[0]).toMatchObject({ type, code });
    expect(sandbox.journal.gifts).toHaveLength(0);
  });

  it('drop-before-create closes the socket without an answer and creates nothing', async () => {
    // Prepare
    sandbox.injectNext('drop-before-create');

    // Act
    const attempt = postRaw(socks());

    // Assess
    await expect(attempt).rejects.toThrow();
    expect(sandbox.journal.gifts).toHaveLength(0);
    expect(sandbox.journal.requests[0]).toMatchObject({
      status: null,
      fault: 'drop-before-create',
    });
    expect(await stockOf(sandbox, 'SOCKS-LAST')).toBe(1);
  });
});

describe('injected faults that strike after the gift is created', () => {
  it('500-created answers 500, yet the gift exists and took its stock', async () => {
    // Prepare
    sandbox.injectNext('500-created');

    // Act
    const reply = await call(sandbox, 'POST', '/gift_requests', socks());

    // Assess
    expect(reply.status).toBe(500);
    expect(sandbox.journal.gifts).toEqual([
      expect.objectContaining({ fault: '500-created', mode: 'direct-send', body: socks() }),
    ]);
    const giftId = sandbox.journal.gifts[0]?.id;
    expect(sandbox.journal.requests[0]).toMatchObject({
      status: 500,
      fault: '500-created',
      giftId,
    });
    expect((await call(sandbox, 'GET', `/gift_requests/${giftId}`)).status).toBe(200);
    expect(await stockOf(sandbox, 'SOCKS-LAST')).toBe(0);
  });

  it('drop-after-create makes the fetch fail, yet the gift exists', async () => {
    // Prepare
    sandbox.injectNext('drop-after-create');

    // Act
    const attempt = postRaw(choiceBody());

    // Assess
    await expect(attempt).rejects.toThrow();
    expect(sandbox.journal.gifts).toEqual([
      expect.objectContaining({ fault: 'drop-after-create', campaignId: DEMO_CAMPAIGNS.choice }),
    ]);
    expect(sandbox.journal.summary()).toMatchObject({
      giftsCreated: 1,
      giftsCreatedUnacknowledged: 1,
      byStatus: { 'no-answer': 1 },
      byFault: { 'drop-after-create': 1 },
    });
  });
});

describe('injection queue', () => {
  it('applies a fault count times, then answers normally, in FIFO order', async () => {
    // Prepare
    sandbox.injectNext('502', 2);
    sandbox.injectNext('504');

    // Act
    const statuses: number[] = [];
    for (let i = 0; i < 4; i += 1) {
      statuses.push((await call(sandbox, 'POST', '/gift_requests', choiceBody())).status);
    }

    // Assess
    expect(statuses).toEqual([502, 502, 504, 201]);
  });

  it('leaves GETs alone by default, and hits them when targeted', async () => {
    // Prepare
    const created = await call(sandbox, 'POST', '/gift_requests', choiceBody());
    const path = `/gift_requests/${created.json.id}`;
    sandbox.injectNext('503', 1, 'get');

    // Act
    const campaigns = await call(sandbox, 'GET', '/campaigns');
    const post = await call(sandbox, 'POST', '/gift_requests', choiceBody());
    const get = await call(sandbox, 'GET', path);
    const getAgain = await call(sandbox, 'GET', path);

    // Assess
    expect([campaigns.status, post.status, get.status, getAgain.status]).toEqual([
      200, 201, 503, 200,
    ]);
  });

  it("hits any API request with target 'any'", async () => {
    // Prepare
    sandbox.injectNext('502', 1, 'any');

    // Act
    const campaigns = await call(sandbox, 'GET', '/campaigns');

    // Assess
    expect(campaigns.status).toBe(502);
  });

  it('rejects unknown faults and bad counts', () => {
    // Act
    const unknown = () => sandbox.injectNext('418' as never);
    const badCount = () => sandbox.injectNext('502', 0);

    // Assess
    expect(unknown).toThrow(SandboxConfigError);
    expect(badCount).toThrow(SandboxConfigError);
  });
});

describe('fault rates', () => {
  it('rolls faults on POST /gift_requests only', async () => {
    // Prepare
    sandbox.configure({ faultRates: { '502': 1 } });

    // Act
    const post = await call(sandbox, 'POST', '/gift_requests', choiceBody());
    const campaigns = await call(sandbox, 'GET', '/campaigns');

    // Assess
    expect(post.status).toBe(502);
    expect(campaigns.status).toBe(200);
  });

  it('rolls the same faults for the same seed', async () => {
    // Prepare
    const rolls = async (): Promise<number[]> => {
      const seeded = await startSandbox({ seed: 42, faultRates: { '500-not-created': 0.5 } });
      try {
        const statuses: number[] = [];
        for (let i = 0; i < 12; i += 1) {
          const reply = await call(seeded, 'POST', '/gift_requests', choiceBody());
          statuses.push(reply.status);
        }
        return statuses;
      } finally {
        await seeded.stop();
      }
    };

    // Act
    const first = await rolls();
    const second = await rolls();

    // Assess
    expect(first).toEqual(second);
    expect(first).toContain(500);
    expect(first).toContain(201);
  });

  it('rolls the same faults on the same POSTs whatever other requests came between them', async () => {
    // Prepare: one seeded sandbox sees POSTs only, the other a GET before each POST.
    const rolls = async (getsBetween: boolean): Promise<number[]> => {
      const seeded = await startSandbox({ seed: 42, faultRates: { '500-not-created': 0.5 } });
      try {
        const statuses: number[] = [];
        for (let i = 0; i < 12; i += 1) {
          if (getsBetween) await call(seeded, 'GET', '/campaigns');
          statuses.push((await call(seeded, 'POST', '/gift_requests', choiceBody())).status);
        }
        return statuses;
      } finally {
        await seeded.stop();
      }
    };

    // Act
    const postsOnly = await rolls(false);
    const withGets = await rolls(true);

    // Assess
    expect(withGets).toEqual(postsOnly);
    expect(postsOnly).toContain(500);
    expect(postsOnly).toContain(201);
  });

  it('rejects rates that do not make sense', () => {
    // Act
    const overOne = () => sandbox.configure({ faultRates: { '502': 0.7, '504': 0.5 } });
    const negativeRps = () => sandbox.configure({ rateLimit: { rps: -1 } });

    // Assess
    expect(overOne).toThrow(SandboxConfigError);
    expect(negativeRps).toThrow(SandboxConfigError);
  });
});

describe('latency', () => {
  it('still answers every request when latency is configured', async () => {
    // Prepare
    sandbox.configure({ latencyMs: { min: 1, max: 5 } });

    // Act
    const replies = await Promise.all([1, 2, 3].map(() => call(sandbox, 'GET', '/campaigns')));

    // Assess
    expect(replies.map((reply) => reply.status)).toEqual([200, 200, 200]);
  });
});
