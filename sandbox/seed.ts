import { nameUuid } from './random.ts';
import type { CampaignSeed, StockLevel, VariantSeed, Warehouse } from './types.ts';

/** Fixed ids: examples/recipients.csv and other code rely on them. */
export const DEMO_CAMPAIGNS = {
  choice: '11111111-1111-4111-8111-111111111111',
  directSend: '22222222-2222-4222-8222-222222222222',
  archived: '33333333-3333-4333-8333-333333333333',
} as const;

/** The demo key: a sandbox accepts it unless told otherwise. Not a secret: it opens nothing real. */
export const SANDBOX_API_KEY = 'ao-v1-staging-sandboxdemokey';

/** The tenant `SANDBOX_API_KEY` belongs to and that owns the seeded campaigns. */
export const DEMO_TENANT = 'demo';

const DUBLIN: Warehouse = { id: nameUuid('warehouse:dublin'), name: 'Dublin DC' };
const NEWARK: Warehouse = { id: nameUuid('warehouse:newark'), name: 'Newark DC' };

/** A variant's id, derived from its sku so tests can send by `variant_id` without a lookup. */
export function demoVariantId(sku: string): string {
  return nameUuid(`variant:${sku}`);
}

function variant(
  sku: string,
  name: string,
  stock: [Warehouse, number][],
  enabled = true,
): VariantSeed {
  const stock_levels: StockLevel[] = stock.map(([warehouse, quantity]) => ({
    id: nameUuid(`stock:${sku}:${warehouse.name}`),
    quantity,
    warehouse,
  }));
  return { id: demoVariantId(sku), sku, name, enabled, stock_levels };
}

const DEMO_SEED: readonly CampaignSeed[] = [
  {
    id: DEMO_CAMPAIGNS.choice,
    name: 'Welcome Gifts 2026',
    status: 'available',
    invitation_method: 'recipient_choice',
    fulfilment_warehouse: null,
    products: [
      {
        id: nameUuid('product:coffee'),
        name: 'Coffee Sampler',
        variants: [
          variant('COFFEE-SAMPLER', 'Coffee Sampler', [
            [DUBLIN, 300],
            [NEWARK, 300],
          ]),
        ],
      },
      {
        id: nameUuid('product:notebook'),
        name: 'Notebook',
        variants: [
          variant('NOTEBOOK-A5-BLU', 'Notebook A5 Blue', [[DUBLIN, 200]]),
          variant('NOTEBOOK-A5-GRN', 'Notebook A5 Green', [[NEWARK, 200]]),
        ],
      },
      {
        id: nameUuid('product:bottle'),
        name: 'Steel Water Bottle',
        variants: [variant('BOTTLE-STEEL', 'Steel Water Bottle', [[DUBLIN, 150]])],
      },
    ],
    created_at: '2026-03-01T09:00:00.000Z',
    updated_at: '2026-03-01T09:00:00.000Z',
  },
  {
    id: DEMO_CAMPAIGNS.directSend,
    name: 'Team Hoodies',
    status: 'available',
    invitation_method: 'sender_provided_address',
    fulfilment_warehouse: DUBLIN,
    products: [
      {
        id: nameUuid('product:hoodie'),
        name: 'Team Hoodie',
        variants: [
          // Newark stock exists but is filtered out: the campaign fulfils from Dublin only.
          variant('HOODIE-S-BLK', 'Hoodie S Black', [
            [DUBLIN, 500],
            [NEWARK, 80],
          ]),
          variant('HOODIE-M-BLK', 'Hoodie M Black', [
            [DUBLIN, 500],
            [NEWARK, 80],
          ]),
          variant('HOODIE-L-BLK', 'Hoodie L Black', [
            [DUBLIN, 500],
            [NEWARK, 80],
          ]),
        ],
      },
      {
        id: nameUuid('product:mug'),
        name: 'Mug',
        variants: [variant('MUG-WHT', 'Mug White', [[DUBLIN, 1000]])],
      },
      {
        id: nameUuid('product:socks'),
        name: 'Socks',
        // One unit: for tests where several rows compete for the last one.
        variants: [variant('SOCKS-LAST', 'Socks (last pair)', [[DUBLIN, 1]])],
      },
      {
        id: nameUuid('product:tee'),
        name: 'Tee',
        variants: [variant('TEE-OLD', 'Tee (discontinued)', [[DUBLIN, 50]], false)],
      },
      {
        // Stocked only outside the fulfilment warehouse: invisible in this campaign, not sendable.
        id: nameUuid('product:plant'),
        name: 'Desk Plant',
        variants: [variant('PLANT-US', 'Desk Plant', [[NEWARK, 40]])],
      },
    ],
    created_at: '2026-02-01T09:00:00.000Z',
    updated_at: '2026-02-01T09:00:00.000Z',
  },
  {
    id: DEMO_CAMPAIGNS.archived,
    name: 'Holiday 2025',
    status: 'archived',
    invitation_method: 'recipient_choice',
    fulfilment_warehouse: null,
    products: [
      {
        id: nameUuid('product:ornament'),
        name: 'Ornament',
        variants: [variant('ORNAMENT-RED', 'Ornament Red', [[DUBLIN, 20]])],
      },
    ],
    created_at: '2025-11-01T09:00:00.000Z',
    updated_at: '2026-01-10T09:00:00.000Z',
  },
];

/** A fresh, deep copy of the demo campaigns: stock is per sandbox instance. */
export function demoCampaigns(): CampaignSeed[] {
  return structuredClone(DEMO_SEED) as CampaignSeed[];
}
