import { describe, expect, it } from 'vitest';
import {
  parseCampaign,
  parseCampaignPage,
  parseErrors,
  parseGiftRequest,
  parseJson,
} from '../../../lambdas/adapters/andopen-parse.ts';

describe('parseJson', () => {
  it.each([
    ['an empty body', ''],
    ['an HTML page', '<html><body><h1>502 Bad Gateway</h1></body></html>'],
    ['truncated JSON', '{"id": "abc'],
  ])('answers undefined for %s instead of throwing', (_label, text) => {
    // Prepare
    const body = text;

    // Act
    const json = parseJson(body);

    // Assess
    expect(json).toBeUndefined();
  });
});

describe('parseErrors', () => {
  it('reads the 2026-05 model, every entry in order', () => {
    // Prepare
    const json = {
      errors: [
        {
          type: 'validation_error',
          code: 'required',
          message: 'is required',
          param: 'recipient.last_name',
        },
        { type: 'validation_error', code: 'invalid', message: 'campaign_id does not exist' },
      ],
    };

    // Act
    const errors = parseErrors(json, 422);

    // Assess
    expect(errors).toEqual([
      {
        type: 'validation_error',
        code: 'required',
        message: 'is required',
        param: 'recipient.last_name',
      },
      {
        type: 'validation_error',
        code: 'invalid',
        message: 'campaign_id does not exist',
        param: null,
      },
    ]);
  });

  it('keeps unknown types and codes verbatim', () => {
    // Prepare
    const json = { errors: [{ type: 'shiny_error', code: 'brand_new', message: 'm', param: 'x' }] };

    // Act
    const errors = parseErrors(json, 422);

    // Assess
    expect(errors).toEqual([{ type: 'shiny_error', code: 'brand_new', message: 'm', param: 'x' }]);
  });

  it('fills missing fields: type from the status, empty code and message, null param', () => {
    // Prepare
    const json = { errors: [{}, { code: 42, param: 7 }] };

    // Act
    const errors = parseErrors(json, 401);

    // Assess
    expect(errors).toEqual([
      { type: 'authentication_error', code: '', message: '', param: null },
      { type: 'authentication_error', code: '', message: '', param: null },
    ]);
  });

  it('maps the 2025-10 JSON:API shape (status/detail/source.pointer)', () => {
    // Prepare
    const json = {
      jsonapi: { version: '1.0' },
      errors: [
        {
          status: '422',
          title: 'Invalid attribute',
          detail: 'first_name is required',
          source: { pointer: '/data/attributes/first_name' },
        },
      ],
    };

    // Act
    const errors = parseErrors(json, 422);

    // Assess
    expect(errors).toEqual([
      {
        type: 'validation_error',
        code: '',
        message: 'first_name is required',
        param: 'first_name',
      },
    ]);
  });

  it('accepts a single error object where an array was expected', () => {
    // Prepare
    const json = { errors: { type: 'api_error', code: 'malformed_request', message: 'bad JSON' } };

    // Act
    const errors = parseErrors(json, 400);

    // Assess
    expect(errors).toEqual([
      { type: 'api_error', code: 'malformed_request', message: 'bad JSON', param: null },
    ]);
  });

  it('skips entries that are not objects or strings', () => {
    // Prepare
    const json = { errors: [null, 3, ['x'], 'plain text', { code: 'c' }] };

    // Act
    const errors = parseErrors(json, 500);

    // Assess
    expect(errors).toEqual([
      { type: 'api_error', code: '', message: 'plain text', param: null },
      { type: 'api_error', code: 'c', message: '', param: null },
    ]);
  });

  it('reads a gateway body { "message": … } as one error', () => {
    // Prepare
    const json = { message: 'Forbidden' };

    // Act
    const errors = parseErrors(json, 403);

    // Assess
    expect(errors).toEqual([
      { type: 'authorization_error', code: '', message: 'Forbidden', param: null },
    ]);
  });

  it.each([
    ['no body', undefined],
    ['a JSON array', [1, 2]],
    ['a JSON string', 'oops'],
    ['an object without errors', { hello: 'world' }],
    ['errors as a number', { errors: 5 }],
  ])('answers [] for %s', (_label, json) => {
    // Prepare
    const body: unknown = json;

    // Act
    const errors = parseErrors(body, 502);

    // Assess
    expect(errors).toEqual([]);
  });

  it('truncates a huge message', () => {
    // Prepare
    const json = { errors: [{ type: 'api_error', code: 'x', message: 'a'.repeat(50_000) }] };

    // Act
    const errors = parseErrors(json, 500);

    // Assess
    expect(errors[0]?.message.length).toBeLessThanOrEqual(1_001);
  });
});

describe('parseGiftRequest', () => {
  it('reads the documented response and keeps unknown fields', () => {
    // Prepare
    const json = {
      id: '4fb4cb3f-9666-43b5-8884-7f5194483d1a',
      status: 'submitted',
      campaign_id: 'a1b2c3d4-e5f6-7890-abcd-ef1234567890',
      redemption_url: 'https://gift.andopen.co/r/abc123',
      recipient: { id: 'r1', first_name: 'Alice', last_name: 'Smith', email: 'alice@example.com' },
      shipping_address: null,
      line_items: null,
      created_at: '2026-04-16T10:30:00.000Z',
      updated_at: '2026-04-16T10:30:00.000Z',
      tracking: { carrier: 'An Post' },
    };

    // Act
    const gift = parseGiftRequest(json);

    // Assess
    expect(gift).toEqual(json);
  });

  it('keeps an unknown status value as a string', () => {
    // Prepare
    const json = { id: 'g1', status: 'awaiting_customs' };

    // Act
    const gift = parseGiftRequest(json);

    // Assess
    expect(gift?.status).toBe('awaiting_customs');
  });

  it('turns missing nullable fields into null and a missing recipient into {}', () => {
    // Prepare
    const json = { id: 'g1', status: 'submitted' };

    // Act
    const gift = parseGiftRequest(json);

    // Assess
    expect(gift).toEqual({
      id: 'g1',
      status: 'submitted',
      campaign_id: null,
      redemption_url: null,
      recipient: {},
      shipping_address: null,
      line_items: null,
      created_at: null,
      updated_at: null,
    });
  });

  it('marks a missing status as "unknown" and drops wrongly typed recipient names', () => {
    // Prepare
    const json = { id: 'g1', recipient: { first_name: 5, last_name: 'Smith', email: 7 } };

    // Act
    const gift = parseGiftRequest(json);

    // Assess
    expect(gift?.status).toBe('unknown');
    expect(gift?.recipient).toEqual({ last_name: 'Smith', email: null });
  });

  it('keeps direct-send line items and address', () => {
    // Prepare
    const json = {
      id: 'g1',
      status: 'submitted',
      shipping_address: { city: 'Dublin' },
      line_items: [{ sku: 'HOODIE-L-BLK', quantity: 1 }, 'junk'],
    };

    // Act
    const gift = parseGiftRequest(json);

    // Assess
    expect(gift?.shipping_address).toEqual({ city: 'Dublin' });
    expect(gift?.line_items).toEqual([{ sku: 'HOODIE-L-BLK', quantity: 1 }]);
  });

  it('reads the 2025-10 envelope (data.id, attributes.state)', () => {
    // Prepare
    const json = {
      data: {
        type: 'gift_requests',
        id: 'g-old',
        attributes: { state: 'submitted', redemption_url: 'https://gift.andopen.co/r/x' },
      },
    };

    // Act
    const gift = parseGiftRequest(json);

    // Assess
    expect(gift).toMatchObject({
      id: 'g-old',
      status: 'submitted',
      redemption_url: 'https://gift.andopen.co/r/x',
    });
  });

  it.each([
    ['undefined (non-JSON body)', undefined],
    ['an array', [{ id: 'g1' }]],
    ['an object without id', { status: 'submitted' }],
    ['an empty id', { id: '' }],
    ['an object id', { id: { nested: true } }],
  ])('answers null for %s (never invents an id)', (_label, json) => {
    // Prepare
    const body: unknown = json;

    // Act
    const gift = parseGiftRequest(body);

    // Assess
    expect(gift).toBeNull();
  });
});

describe('parseCampaign', () => {
  it('reads the catalogue: products → variants → stock_levels → warehouse', () => {
    // Prepare
    const json = {
      id: 'c1',
      name: 'Welcome pack',
      status: 'available',
      invitation_method: 'sender_provided_address',
      theme: 'dark',
      products: [
        {
          id: 'p1',
          name: 'Hoodie',
          variants: [
            {
              id: 'v1',
              sku: 'HOODIE-L-BLK',
              enabled: false,
              stock_levels: [{ quantity: 12, warehouse: { id: 'w1', name: 'Dublin' } }],
            },
            { id: 'v2', sku: 'HOODIE-M-BLK', stock_levels: [{ quantity: '3' }] },
          ],
        },
      ],
    };

    // Act
    const campaign = parseCampaign(json);

    // Assess
    expect(campaign).toEqual({
      ...json,
      products: [
        {
          id: 'p1',
          name: 'Hoodie',
          variants: [
            {
              id: 'v1',
              sku: 'HOODIE-L-BLK',
              enabled: false,
              stock_levels: [{ quantity: 12, warehouse: { id: 'w1', name: 'Dublin' } }],
            },
            {
              id: 'v2',
              sku: 'HOODIE-M-BLK',
              enabled: true,
              stock_levels: [{ quantity: 3, warehouse: null }],
            },
          ],
        },
      ],
    });
  });

  it.each([
    ['invitation_type', { invitation_type: 'sender_provided_address' }],
    ['invitation_mode', { invitation_mode: 'sender_provided_address' }],
    ['a nested invitation.method', { invitation: { method: 'sender_provided_address' } }],
  ])('accepts the invitation method under %s', (_label, fields) => {
    // Prepare
    const json = { id: 'c1', status: 'available', ...fields };

    // Act
    const campaign = parseCampaign(json);

    // Assess
    expect(campaign?.invitation_method).toBe('sender_provided_address');
  });

  it('tolerates missing fields: name and invitation_method null, no products, status unknown', () => {
    // Prepare
    const json = { id: 'c1' };

    // Act
    const campaign = parseCampaign(json);

    // Assess
    expect(campaign).toEqual({
      id: 'c1',
      name: null,
      status: 'unknown',
      invitation_method: null,
      products: [],
    });
  });

  it('keeps an unknown campaign status and tolerates junk in the catalogue', () => {
    // Prepare
    const json = {
      id: 'c1',
      status: 'paused',
      products: [
        null,
        { variants: 'nope' },
        { variants: [{ stock_levels: [{ quantity: 'lots' }] }] },
      ],
    };

    // Act
    const campaign = parseCampaign(json);

    // Assess
    expect(campaign?.status).toBe('paused');
    expect(campaign?.products).toEqual([
      { id: null, name: null, variants: [] },
      {
        id: null,
        name: null,
        variants: [
          { id: null, sku: null, enabled: true, stock_levels: [{ quantity: 0, warehouse: null }] },
        ],
      },
    ]);
  });

  it('reads 2025-10 stock level names (variant_stock_levels, available)', () => {
    // Prepare
    const json = {
      id: 'c1',
      products: [{ id: 'p1', variants: [{ id: 'v1', variant_stock_levels: [{ available: 4 }] }] }],
    };

    // Act
    const campaign = parseCampaign(json);

    // Assess
    expect(campaign?.products[0]?.variants[0]?.stock_levels[0]?.quantity).toBe(4);
  });

  it('answers null without an id', () => {
    // Prepare
    const json = { name: 'No id' };

    // Act
    const campaign = parseCampaign(json);

    // Assess
    expect(campaign).toBeNull();
  });
});

describe('parseCampaignPage', () => {
  it('reads data and has_more, dropping items without an id', () => {
    // Prepare
    const json = { data: [{ id: 'c1' }, { name: 'broken' }, { id: 'c2' }], has_more: true };

    // Act
    const page = parseCampaignPage(json);

    // Assess
    expect(page?.data.map((campaign) => campaign.id)).toEqual(['c1', 'c2']);
    expect(page?.has_more).toBe(true);
  });

  it('treats anything but has_more: true as the last page', () => {
    // Prepare
    const json = { data: [], has_more: 'yes' };

    // Act
    const page = parseCampaignPage(json);

    // Assess
    expect(page).toEqual({ data: [], has_more: false });
  });

  it('answers null when data is not an array', () => {
    // Prepare
    const json = { data: { id: 'c1' } };

    // Act
    const page = parseCampaignPage(json);

    // Assess
    expect(page).toBeNull();
  });
});
