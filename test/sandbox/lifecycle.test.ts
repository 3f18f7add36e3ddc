import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type Sandbox, SandboxNotFoundError, startSandbox } from '../../sandbox/index.ts';
import { call, choiceBody, directBody, manualClock, T0 } from './helpers.ts';

let sandbox: Sandbox;
let clock: ReturnType<typeof manualClock>;

beforeEach(async () => {
  clock = manualClock();
  sandbox = await startSandbox({ now: clock.now, redemptionUrlDelayMs: 1500 });
});

afterEach(async () => {
  await sandbox.stop();
});

describe('redemption_url', () => {
  it('is null until the delay has passed, then a stable sandbox link', async () => {
    // Prepare
    const created = await call(sandbox, 'POST', '/gift_requests', choiceBody());
    const path = `/gift_requests/${created.json.id}`;

    // Act
    clock.advance(1499);
    const early = await call(sandbox, 'GET', path);
    clock.advance(1);
    const ready = await call(sandbox, 'GET', path);
    clock.advance(60_000);
    const later = await call(sandbox, 'GET', path);

    // Assess
    expect(created.json.redemption_url).toBeNull();
    expect(early.json.redemption_url).toBeNull();
    expect(ready.json.redemption_url).toMatch(
      /^https:\/\/gift\.sandbox\.andopen\.test\/r\/[0-9A-Za-z]+$/,
    );
    expect(later.json.redemption_url).toBe(ready.json.redemption_url);
    expect(ready.json.updated_at).toBe(new Date(T0 + 1500).toISOString());
    expect(ready.json.created_at).toBe(new Date(T0).toISOString());
  });

  it('is set at once when the delay is zero', async () => {
    // Prepare
    sandbox.configure({ redemptionUrlDelayMs: 0 });

    // Act
    const created = await call(sandbox, 'POST', '/gift_requests', choiceBody());

    // Assess
    expect(created.json.redemption_url).toMatch(/^https:\/\/gift\.sandbox\.andopen\.test\/r\//);
  });
});

describe('advance()', () => {
  it('moves a choice gift through its lifecycle, locking one item at redemption', async () => {
    // Prepare
    const created = await call(sandbox, 'POST', '/gift_requests', choiceBody());
    const path = `/gift_requests/${created.json.id}`;

    // Act
    clock.advance(10_000);
    sandbox.advance(created.json.id, 'redeemed');
    const redeemed = await call(sandbox, 'GET', path);
    clock.advance(10_000);
    sandbox.advance(created.json.id, 'dispatched');
    const dispatched = await call(sandbox, 'GET', path);
    sandbox.advance(created.json.id, 'delivered');
    const delivered = await call(sandbox, 'GET', path);

    // Assess
    expect(created.json.line_items).toBeNull();
    expect(redeemed.json.status).toBe('redeemed');
    expect(redeemed.json.updated_at).toBe(new Date(T0 + 10_000).toISOString());
    expect(redeemed.json.line_items).toEqual([
      {
        id: expect.any(String),
        sku: 'COFFEE-SAMPLER',
        variant_id: expect.any(String),
        quantity: 1,
      },
    ]);
    expect(dispatched.json.status).toBe('dispatched');
    expect(dispatched.json.line_items).toEqual(redeemed.json.line_items);
    expect(delivered.json.status).toBe('delivered');
    expect(delivered.json.updated_at).toBe(new Date(T0 + 20_000).toISOString());
  });

  it('cancels a direct-send gift, keeping its items, and accepts a status &Open may add later', async () => {
    // Prepare
    const created = await call(sandbox, 'POST', '/gift_requests', directBody());
    const other = await call(sandbox, 'POST', '/gift_requests', choiceBody());

    // Act
    sandbox.advance(created.json.id, 'cancelled');
    sandbox.advance(other.json.id, 'returned_to_sender');
    const cancelled = await call(sandbox, 'GET', `/gift_requests/${created.json.id}`);
    const unknownStatus = await call(sandbox, 'GET', `/gift_requests/${other.json.id}`);

    // Assess
    expect(cancelled.json.status).toBe('cancelled');
    expect(cancelled.json.line_items).toEqual(created.json.line_items);
    expect(unknownStatus.json.status).toBe('returned_to_sender');
  });

  it('throws SandboxNotFoundError for an unknown gift', () => {
    // Act
    const act = () => sandbox.advance('4fb4cb3f-9666-43b5-8884-7f5194483d1a', 'redeemed');

    // Assess
    expect(act).toThrow(SandboxNotFoundError);
  });
});
