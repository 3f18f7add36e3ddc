import { connect } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SANDBOX_API_KEY, type Sandbox, startSandbox } from '../../sandbox/index.ts';
import { API_HEADERS, call, choiceBody, manualClock, REQUEST_ID } from './helpers.ts';

let sandbox: Sandbox;

beforeEach(async () => {
  sandbox = await startSandbox({ now: manualClock().now });
});

afterEach(async () => {
  await sandbox.stop();
});

/** Admin endpoints need no headers at all. */
const admin = (method: string, path: string, body?: unknown) =>
  call(sandbox, method, path, body, { 'Content-Type': 'application/json' });

describe('admin endpoints', () => {
  it('serves the journal without auth, and is neither journaled nor rate limited', async () => {
    // Prepare
    sandbox.configure({ rateLimit: { rps: 0.001, burst: 1 } });
    const created = await call(sandbox, 'POST', '/gift_requests', choiceBody());
    await call(sandbox, 'POST', '/gift_requests', choiceBody()); // 429

    // Act
    const first = await admin('GET', '/_sandbox/journal');
    const second = await admin('GET', '/_sandbox/journal');

    // Assess
    expect(first.status).toBe(200);
    expect(first.headers.get('request-id')).toMatch(REQUEST_ID);
    expect(second.json).toEqual(first.json);
    expect(first.json.summary).toMatchObject({
      requests: 2,
      byStatus: { '201': 1, '429': 1 },
      giftsCreated: 1,
    });
    expect(first.json.gifts[0]).toMatchObject({ id: created.json.id, body: choiceBody() });
    expect(first.json.requests).toHaveLength(2);
  });

  it('resets the journal', async () => {
    // Prepare
    await call(sandbox, 'POST', '/gift_requests', choiceBody());

    // Act
    const reply = await admin('DELETE', '/_sandbox/journal');

    // Assess
    expect(reply.json).toMatchObject({ requests: 0, giftsCreated: 0 });
    expect(sandbox.journal.requests).toHaveLength(0);
  });

  it('moves a gift along its lifecycle', async () => {
    // Prepare
    const created = await call(sandbox, 'POST', '/gift_requests', choiceBody());

    // Act
    const moved = await admin('POST', `/_sandbox/gift_requests/${created.json.id}/status`, {
      status: 'redeemed',
    });
    const read = await call(sandbox, 'GET', `/gift_requests/${created.json.id}`);
    const unknown = await admin('POST', '/_sandbox/gift_requests/nope/status', {
      status: 'redeemed',
    });
    const noStatus = await admin('POST', `/_sandbox/gift_requests/${created.json.id}/status`, {});

    // Assess
    expect(moved.status).toBe(200);
    expect(moved.json.status).toBe('redeemed');
    expect(read.json.status).toBe('redeemed');
    expect(unknown.status).toBe(404);
    expect(noStatus.status).toBe(400);
  });

  it('changes faults while running and rejects a bad patch', async () => {
    // Act
    const patched = await admin('POST', '/_sandbox/faults', {
      maintenance: [{ startMs: 0, durationMs: 60_000 }],
    });
    const during = await call(sandbox, 'GET', '/campaigns');
    const bad = await admin('POST', '/_sandbox/faults', { rateLimit: { rps: 'fast' } });
    const unknownOption = await admin('POST', '/_sandbox/faults', { chaos: true });

    // Assess
    expect(patched.status).toBe(200);
    expect(patched.json.faults.maintenance).toEqual([{ startMs: 0, durationMs: 60_000 }]);
    expect(during.status).toBe(503);
    expect(bad.status).toBe(400);
    expect(bad.json.errors[0]).toMatchObject({
      type: 'api_error',
      code: 'invalid_sandbox_request',
    });
    expect(unknownOption.status).toBe(400);
  });

  it('injects faults', async () => {
    // Act
    const injected = await admin('POST', '/_sandbox/inject', {
      fault: '504',
      count: 2,
      target: 'any',
    });
    const statuses = [
      (await call(sandbox, 'GET', '/campaigns')).status,
      (await call(sandbox, 'POST', '/gift_requests', choiceBody())).status,
      (await call(sandbox, 'POST', '/gift_requests', choiceBody())).status,
    ];
    const bad = await admin('POST', '/_sandbox/inject', { fault: 'gremlins' });

    // Assess
    expect(injected.json.pending).toEqual([{ fault: '504', target: 'any', remaining: 2 }]);
    expect(statuses).toEqual([504, 504, 201]);
    expect(bad.status).toBe(400);
  });

  it('revokes a key part-way: its requests get 401 expired_token, other keys still work', async () => {
    // Prepare
    const other = await startSandbox({ apiKeys: [SANDBOX_API_KEY, 'ao-v1-staging-secondkey'] });
    const withKey = (key: string) => ({ ...API_HEADERS, Authorization: `Bearer ${key}` });
    try {
      const before = await call(other, 'POST', '/gift_requests', choiceBody());

      // Act
      const revoked = await call(
        other,
        'POST',
        '/_sandbox/keys/revoke',
        { key: SANDBOX_API_KEY },
        { 'Content-Type': 'application/json' },
      );
      const after = await call(other, 'POST', '/gift_requests', choiceBody());
      const second = await call(
        other,
        'POST',
        '/gift_requests',
        choiceBody(),
        withKey('ao-v1-staging-secondkey'),
      );
      const again = await call(
        other,
        'POST',
        '/_sandbox/keys/revoke',
        { key: SANDBOX_API_KEY },
        { 'Content-Type': 'application/json' },
      );

      // Assess
      expect(before.status).toBe(201);
      expect(revoked.status).toBe(200);
      expect(JSON.stringify(revoked.json)).not.toContain(SANDBOX_API_KEY);
      expect(after.status).toBe(401);
      expect(after.json.errors[0].code).toBe('expired_token');
      expect(second.status).toBe(201);
      expect(again.status).toBe(400);
      expect(JSON.stringify(again.json)).not.toContain(SANDBOX_API_KEY);
    } finally {
      await other.stop();
    }
  });

  it('answers 404 to an unknown admin path', async () => {
    // Act
    const reply = await admin('GET', '/_sandbox/nope');

    // Assess
    expect(reply.status).toBe(404);
    expect(reply.json.errors[0].type).toBe('not_found_error');
  });
});

describe('stop()', () => {
  let other: Sandbox | undefined;
  afterEach(async () => {
    await other?.stop(); // stop() may be called again: it is idempotent
  });

  it('closes keep-alive connections and leaves nothing listening', async () => {
    // Prepare
    other = await startSandbox();
    await call(other, 'GET', '/campaigns'); // leaves a pooled keep-alive connection
    const port = Number(new URL(other.url).port);

    // Act
    await other.stop();

    // Assess
    await expect(fetch(`${other.url}/campaigns`)).rejects.toThrow();
    const refused = await new Promise<string>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.on('connect', () => {
        socket.destroy();
        resolve('connected');
      });
      socket.on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? 'error'));
    });
    expect(refused).toBe('ECONNREFUSED');
  });
});
