import { afterEach, describe, expect, it } from 'vitest';
import { DEMO_CAMPAIGNS, type Sandbox, startSandbox } from '../../sandbox/index.ts';
import { call, directBody, manualClock, manyCampaigns, stockOf } from './helpers.ts';

const started: Sandbox[] = [];
async function start(options: Parameters<typeof startSandbox>[0] = {}): Promise<Sandbox> {
  const sandbox = await startSandbox({ now: manualClock().now, ...options });
  started.push(sandbox);
  return sandbox;
}

afterEach(async () => {
  await Promise.all(started.splice(0).map((sandbox) => sandbox.stop()));
});

const ids = (json: { data: { id: string }[] }) => json.data.map((campaign) => campaign.id);

describe('stock', () => {
  it('gives the last unit to exactly one of three concurrent requests', async () => {
    // Prepare
    const sandbox = await start();
    const body = directBody([{ sku: 'SOCKS-LAST', quantity: 1 }]);

    // Act
    const replies = await Promise.all(
      [1, 2, 3].map(() => call(sandbox, 'POST', '/gift_requests', body)),
    );

    // Assess
    expect(replies.map((reply) => reply.status).sort()).toEqual([201, 422, 422]);
    for (const reply of replies.filter((r) => r.status === 422)) {
      expect(reply.json.errors).toEqual([
        expect.objectContaining({ code: 'out_of_stock', param: 'line_items[0].sku' }),
      ]);
    }
    expect(sandbox.journal.gifts).toHaveLength(1);
    expect(await stockOf(sandbox, 'SOCKS-LAST')).toBe(0);
  });

  it('takes stock on a direct-send and refuses more than is left, across items', async () => {
    // Prepare
    const sandbox = await start();

    // Act
    const created = await call(
      sandbox,
      'POST',
      '/gift_requests',
      directBody([{ sku: 'MUG-WHT', quantity: 998 }]),
    );
    const tooMany = await call(
      sandbox,
      'POST',
      '/gift_requests',
      directBody([
        { sku: 'MUG-WHT', quantity: 1 },
        { sku: 'MUG-WHT', quantity: 2 },
      ]),
    );

    // Assess
    expect(created.status).toBe(201);
    expect(tooMany.json.errors).toEqual([
      expect.objectContaining({ code: 'out_of_stock', param: 'line_items[1].sku' }),
    ]);
    expect(await stockOf(sandbox, 'MUG-WHT')).toBe(2);
  });

  it('keeps stock per sandbox instance', async () => {
    // Prepare
    const first = await start();
    const second = await start();

    // Act
    await call(first, 'POST', '/gift_requests', directBody([{ sku: 'SOCKS-LAST', quantity: 1 }]));

    // Assess
    expect(await stockOf(first, 'SOCKS-LAST')).toBe(0);
    expect(await stockOf(second, 'SOCKS-LAST')).toBe(1);
  });
});

describe('GET /campaigns/{id}', () => {
  it('filters a campaign with a fulfilment warehouse to it: one stock level per variant', async () => {
    // Prepare
    const sandbox = await start();

    // Act
    const reply = await call(sandbox, 'GET', `/campaigns/${DEMO_CAMPAIGNS.directSend}`);

    // Assess
    expect(reply.status).toBe(200);
    expect(reply.json).toMatchObject({
      id: DEMO_CAMPAIGNS.directSend,
      name: 'Team Hoodies',
      status: 'available',
      invitation_method: 'sender_provided_address',
      fulfilment_warehouse: { id: expect.any(String), name: 'Dublin DC' },
    });
    const variants = reply.json.products.flatMap(
      (product: { variants: unknown[] }) => product.variants,
    );
    expect(variants.map((variant: { sku: string }) => variant.sku)).toEqual([
      'HOODIE-S-BLK',
      'HOODIE-M-BLK',
      'HOODIE-L-BLK',
      'MUG-WHT',
      'SOCKS-LAST',
      'TEE-OLD',
    ]);
    for (const variant of variants) {
      expect(variant.stock_levels).toHaveLength(1);
      expect(variant.stock_levels[0].warehouse.name).toBe('Dublin DC');
    }
    expect(variants.find((variant: { sku: string }) => variant.sku === 'TEE-OLD').enabled).toBe(
      false,
    );
  });

  it('shows every stock level of a campaign without a warehouse, and 404s an unknown id', async () => {
    // Prepare
    const sandbox = await start();

    // Act
    const choice = await call(sandbox, 'GET', `/campaigns/${DEMO_CAMPAIGNS.choice}`);
    const unknown = await call(sandbox, 'GET', '/campaigns/99999999-9999-4999-8999-999999999999');

    // Assess
    expect(choice.json.fulfilment_warehouse).toBeNull();
    expect(choice.json.invitation_method).not.toBe('sender_provided_address');
    expect(choice.json.products[0].variants[0].stock_levels).toHaveLength(2);
    expect(unknown.status).toBe(404);
    expect(unknown.json.errors[0]).toMatchObject({ type: 'not_found_error', code: 'not_found' });
  });
});

describe('GET /campaigns', () => {
  it('lists the demo campaigns newest first', async () => {
    // Prepare
    const sandbox = await start();

    // Act
    const reply = await call(sandbox, 'GET', '/campaigns');

    // Assess
    expect(ids(reply.json)).toEqual([
      DEMO_CAMPAIGNS.choice,
      DEMO_CAMPAIGNS.directSend,
      DEMO_CAMPAIGNS.archived,
    ]);
    expect(reply.json.has_more).toBe(false);
  });

  it('pages with limit and after', async () => {
    // Prepare
    const sandbox = await start();

    // Act
    const first = await call(sandbox, 'GET', '/campaigns?limit=2');
    const second = await call(sandbox, 'GET', `/campaigns?limit=2&after=${ids(first.json).at(-1)}`);

    // Assess
    expect(ids(first.json)).toEqual([DEMO_CAMPAIGNS.choice, DEMO_CAMPAIGNS.directSend]);
    expect(first.json.has_more).toBe(true);
    expect(ids(second.json)).toEqual([DEMO_CAMPAIGNS.archived]);
    expect(second.json.has_more).toBe(false);
  });

  it('defaults to and clamps at 25 per page', async () => {
    // Prepare
    const sandbox = await start({ campaigns: manyCampaigns(30) });

    // Act
    const byDefault = await call(sandbox, 'GET', '/campaigns');
    const clamped = await call(sandbox, 'GET', '/campaigns?limit=100');
    const rest = await call(
      sandbox,
      'GET',
      `/campaigns?limit=100&after=${ids(clamped.json).at(-1)}`,
    );

    // Assess
    expect(byDefault.json.data).toHaveLength(25);
    expect(clamped.json.data).toHaveLength(25);
    expect(clamped.json.has_more).toBe(true);
    expect(ids(clamped.json)[0]).toBe(manyCampaigns(30)[29]?.id);
    expect(rest.json.data).toHaveLength(5);
    expect(rest.json.has_more).toBe(false);
  });

  it.each(['abc', '0', '-1', '1.5', ''])('answers 400 to limit=%s', async (limit) => {
    // Prepare
    const sandbox = await start();

    // Act
    const reply = await call(sandbox, 'GET', `/campaigns?limit=${limit}`);

    // Assess
    expect(reply.status).toBe(400);
    expect(reply.json.errors[0]).toMatchObject({ type: 'api_error', param: 'limit' });
  });

  it('answers 400 to an after that references no campaign', async () => {
    // Prepare
    const sandbox = await start();

    // Act
    const reply = await call(
      sandbox,
      'GET',
      '/campaigns?after=99999999-9999-4999-8999-999999999999',
    );

    // Assess
    expect(reply.status).toBe(400);
    expect(reply.json.errors[0]).toMatchObject({ type: 'api_error', param: 'after' });
  });

  it('filters by status', async () => {
    // Prepare
    const sandbox = await start();

    // Act
    const archived = await call(sandbox, 'GET', '/campaigns?status=archived');
    const available = await call(sandbox, 'GET', '/campaigns?status=available&limit=1');

    // Assess
    expect(ids(archived.json)).toEqual([DEMO_CAMPAIGNS.archived]);
    expect(ids(available.json)).toEqual([DEMO_CAMPAIGNS.choice]);
    expect(available.json.has_more).toBe(true);
  });
});
