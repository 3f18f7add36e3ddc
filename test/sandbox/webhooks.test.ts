import { createHmac } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { type Sandbox, startSandbox } from '../../sandbox/index.ts';
import { call, choiceBody } from './helpers.ts';

const SECRET = 'whsec_sandbox_test';

interface Received {
  eventId: string;
  eventType: string;
  timestamp: string;
  signatureValid: boolean;
  body: string;
  // biome-ignore lint/suspicious/noExplicitAny: the delivered gift request, read by field
  json: any;
}

/** A receiver on 127.0.0.1 that checks each signature independently and answers as told. */
async function startReceiver(answers: number[] = []): Promise<{
  url: string;
  received: Received[];
  stop: () => Promise<void>;
}> {
  const received: Received[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const timestamp = String(req.headers['andopen-webhook-dispatch-timestamp']);
      const expected = createHmac('sha256', SECRET).update(`${timestamp}.${body}`).digest('hex');
      received.push({
        eventId: String(req.headers['andopen-webhook-event-id']),
        eventType: String(req.headers['andopen-webhook-event-type']),
        timestamp,
        signatureValid: req.headers['andopen-webhook-signature'] === expected,
        body,
        json: JSON.parse(body),
      });
      res.writeHead(answers.shift() ?? 200).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hooks`,
    received,
    stop: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

async function until(condition: () => boolean): Promise<void> {
  for (let waited = 0; !condition(); waited += 10) {
    if (waited > 10_000) throw new Error('condition not met');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('sandbox webhooks', () => {
  let sandbox: Sandbox | undefined;
  let receiver: Awaited<ReturnType<typeof startReceiver>> | undefined;

  afterEach(async () => {
    await sandbox?.stop();
    await receiver?.stop();
    sandbox = undefined;
    receiver = undefined;
  });

  it('signs and delivers the gift at creation and again when its link appears', async () => {
    // Prepare
    receiver = await startReceiver();
    sandbox = await startSandbox({
      redemptionUrlDelayMs: 50,
      webhooks: { url: receiver.url, secret: SECRET },
    });

    // Act
    const created = await call(sandbox, 'POST', '/gift_requests', choiceBody());
    await until(() => (receiver?.received.length ?? 0) >= 2);
    await sandbox.webhooksIdle();

    // Assess
    const [first, second] = receiver.received;
    expect(receiver.received).toHaveLength(2);
    expect(receiver.received.every((r) => r.signatureValid)).toBe(true);
    expect(first?.json).toMatchObject({ id: created.json.id, redemption_url: null });
    expect(second?.json).toMatchObject({ id: created.json.id, status: 'submitted' });
    expect(second?.json.redemption_url).toMatch(/^https:\/\//);
    expect(first?.eventId).not.toBe(second?.eventId);
    expect(Number(first?.timestamp)).toBeGreaterThan(1_700_000_000);
    expect(sandbox.journal.webhooks.map((w) => w.answer)).toEqual([200, 200]);
  });

  it('the link event carries the link even when its timer fires before the clock reaches it', async () => {
    // Prepare: a clock that reads a few milliseconds behind the timers once the gift exists (Node
    // fires a timer on its cached loop time, which can be ahead of Date.now()).
    receiver = await startReceiver();
    let lagMs = 0;
    sandbox = await startSandbox({
      now: () => Date.now() - lagMs,
      redemptionUrlDelayMs: 50,
      webhooks: { url: receiver.url, secret: SECRET },
    });

    // Act
    const created = await call(sandbox, 'POST', '/gift_requests', choiceBody());
    lagMs = 20;
    await until(() => (receiver?.received.length ?? 0) >= 2);
    await sandbox.webhooksIdle();

    // Assess
    const link = receiver.received.find((r) => r.eventType === 'gift_request.updated');
    expect(link?.json.id).toBe(created.json.id);
    expect(link?.json.redemption_url).toMatch(/^https:\/\//);
  });

  it('delivers a status change, and journals every attempt without the secret', async () => {
    // Prepare
    receiver = await startReceiver();
    sandbox = await startSandbox({
      redemptionUrlDelayMs: 0,
      webhooks: { url: receiver.url, secret: SECRET },
    });
    const created = await call(sandbox, 'POST', '/gift_requests', choiceBody());

    // Act
    sandbox.advance(created.json.id, 'redeemed');
    await until(() => (receiver?.received.length ?? 0) >= 2);

    // Assess
    expect(receiver.received.map((r) => r.json.status)).toEqual(['submitted', 'redeemed']);
    expect(JSON.stringify(sandbox.journal.toJSON())).not.toContain(SECRET);
  });

  it('retries a refused delivery with the same event id and a fresh signature', async () => {
    // Prepare
    receiver = await startReceiver([500, 503]);
    sandbox = await startSandbox({
      redemptionUrlDelayMs: 0,
      webhooks: { url: receiver.url, secret: SECRET, retryDelaysMs: [10] },
    });

    // Act
    await call(sandbox, 'POST', '/gift_requests', choiceBody());
    await until(() => (receiver?.received.length ?? 0) >= 3);
    await sandbox.webhooksIdle();

    // Assess
    expect(new Set(receiver.received.map((r) => r.eventId)).size).toBe(1);
    expect(receiver.received.every((r) => r.signatureValid)).toBe(true);
    expect(sandbox.journal.webhooks.map((w) => [w.attempt, w.answer])).toEqual([
      [1, 500],
      [2, 503],
      [3, 200],
    ]);
    expect(sandbox.webhookSummary()).toMatchObject({ events: 1, delivered: 1, abandoned: 0 });
  });

  it('gives up after maxAttempts and counts the event abandoned', async () => {
    // Prepare
    receiver = await startReceiver([500, 500, 500]);
    sandbox = await startSandbox({
      redemptionUrlDelayMs: 0,
      webhooks: { url: receiver.url, secret: SECRET, retryDelaysMs: [5], maxAttempts: 2 },
    });

    // Act
    await call(sandbox, 'POST', '/gift_requests', choiceBody());
    await until(() => (receiver?.received.length ?? 0) >= 2);
    await sandbox.webhooksIdle();

    // Assess
    expect(receiver.received).toHaveLength(2);
    expect(sandbox.webhookSummary()).toMatchObject({ events: 1, delivered: 0, abandoned: 1 });
  });

  it('duplicates: the same event id arrives twice', async () => {
    // Prepare
    receiver = await startReceiver();
    sandbox = await startSandbox({
      redemptionUrlDelayMs: 0,
      webhooks: { url: receiver.url, secret: SECRET, duplicateRate: 1 },
    });

    // Act
    await call(sandbox, 'POST', '/gift_requests', choiceBody());
    await until(() => (receiver?.received.length ?? 0) >= 2);
    await sandbox.webhooksIdle();

    // Assess
    const [first, second] = receiver.received;
    expect(first?.eventId).toBe(second?.eventId);
    expect(first?.body).toBe(second?.body);
    expect(sandbox.journal.webhooks.map((w) => w.fault)).toContain('duplicate');
  });

  it('out of order: the older news (no link) arrives after the newer (with the link)', async () => {
    // Prepare
    receiver = await startReceiver();
    sandbox = await startSandbox({
      redemptionUrlDelayMs: 20,
      webhooks: {
        url: receiver.url,
        secret: SECRET,
        outOfOrderRate: 1,
        // Far longer than the link's 20 ms: a loaded machine's timer lag must not reorder them back.
        outOfOrderDelayMs: 2_000,
      },
    });

    // Act
    await call(sandbox, 'POST', '/gift_requests', choiceBody());
    await until(() => (receiver?.received.length ?? 0) >= 2);

    // Assess
    const [first, second] = receiver.received;
    expect(first?.json.redemption_url).not.toBeNull();
    expect(second?.json.redemption_url).toBeNull();
    expect(Date.parse(second?.json.updated_at)).toBeLessThan(Date.parse(first?.json.updated_at));
  });

  it('is configured and switched off through the admin endpoint, never showing the secret', async () => {
    // Prepare
    receiver = await startReceiver();
    sandbox = await startSandbox({ redemptionUrlDelayMs: 0 });

    // Act
    const configured = await call(sandbox, 'POST', '/_sandbox/webhooks', {
      url: receiver.url,
      secret: SECRET,
    });
    await call(sandbox, 'POST', '/gift_requests', choiceBody());
    await until(() => (receiver?.received.length ?? 0) >= 1);
    const shown = await call(sandbox, 'GET', '/_sandbox/webhooks');
    await call(sandbox, 'DELETE', '/_sandbox/webhooks');
    await call(sandbox, 'POST', '/gift_requests', choiceBody());
    await sandbox.webhooksIdle();
    const refused = await call(sandbox, 'POST', '/_sandbox/webhooks', { url: 'ftp://x' });

    // Assess
    expect(configured.status).toBe(200);
    expect(shown.json.webhooks).toEqual({ url: receiver.url });
    expect(JSON.stringify(shown.json)).not.toContain(SECRET);
    expect(receiver.received).toHaveLength(1);
    expect(refused.status).toBe(400);
  });
});
