import {
  type CampaignSeed,
  DEMO_CAMPAIGNS,
  SANDBOX_API_KEY,
  type Sandbox,
} from '../../sandbox/index.ts';

export const T0 = Date.parse('2026-05-04T09:00:00.000Z');

/** A clock the test moves by hand: no sleeping, no timing. */
export function manualClock(start = T0) {
  let time = start;
  return {
    now: () => time,
    advance: (ms: number) => {
      time += ms;
    },
  };
}

export const API_HEADERS: Record<string, string> = {
  Authorization: `Bearer ${SANDBOX_API_KEY}`,
  'AndOpen-API-Version': '2026-05',
  'Content-Type': 'application/json',
};

export interface Reply {
  status: number;
  headers: Headers;
  // biome-ignore lint/suspicious/noExplicitAny: tests read arbitrary JSON answers
  json: any;
}

/** One request over real HTTP; `body` is JSON-encoded unless already a string. */
export async function call(
  sandbox: Sandbox,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = API_HEADERS,
): Promise<Reply> {
  const response = await fetch(`${sandbox.url}${path}`, {
    method,
    headers,
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, json: JSON.parse(text) };
}

export const choiceBody = () => ({
  campaign_id: DEMO_CAMPAIGNS.choice,
  recipient: { first_name: 'Alice', last_name: 'Smith', email: 'alice@example.com' },
});

export const address = () => ({
  address1: '12 Merrion Square',
  city: 'Dublin',
  region: 'Leinster',
  postal_code: 'D02 XY45',
  country_code: 'IE',
  phone: '+353871234567',
});

export const directBody = (lineItems: unknown[] = [{ sku: 'HOODIE-L-BLK', quantity: 1 }]) => ({
  campaign_id: DEMO_CAMPAIGNS.directSend,
  recipient: { first_name: 'Bob', last_name: 'Jones' },
  shipping_address: address(),
  line_items: lineItems,
});

/** The Dublin stock of one sku of the direct-send campaign, read over the API. */
export async function stockOf(sandbox: Sandbox, sku: string): Promise<number> {
  const { json } = await call(sandbox, 'GET', `/campaigns/${DEMO_CAMPAIGNS.directSend}`);
  for (const product of json.products) {
    for (const variant of product.variants) {
      if (variant.sku === sku) return variant.stock_levels[0].quantity;
    }
  }
  throw new Error(`no ${sku} in the direct-send campaign`);
}

/** `count` plain choice campaigns, one day apart, the last one newest. */
export function manyCampaigns(count: number): CampaignSeed[] {
  return Array.from({ length: count }, (_, index) => {
    const n = String(index).padStart(12, '0');
    const created = new Date(Date.parse('2026-01-01T00:00:00.000Z') + index * 86_400_000);
    return {
      id: `aaaaaaaa-aaaa-4aaa-8aaa-${n}`,
      name: `Campaign ${index}`,
      status: 'available',
      invitation_method: 'recipient_choice',
      fulfilment_warehouse: null,
      products: [],
      created_at: created.toISOString(),
      updated_at: created.toISOString(),
    };
  });
}

export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
export const REQUEST_ID = /^req_[0-9A-Za-z]{24}$/;
