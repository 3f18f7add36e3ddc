import type {
  ApiCall,
  Campaign,
  CampaignVariant,
  GiftingApi,
  GiftRequest,
  Page,
} from '../../lambdas/ports/gifting-api.ts';

/**
 * &Open's campaigns in memory, for unit tests of the core: `GET /campaigns/{id}` answers from a map
 * (404 for an unknown id), or from a script of answers queued per id (429s, 503s, refusals). Records
 * every id asked for, so tests can count the GETs.
 */
export class InMemoryCatalogueApi implements GiftingApi {
  readonly campaigns = new Map<string, Campaign>();
  readonly asked: string[] = [];
  readonly #scripted = new Map<string, ApiCall<Campaign>[]>();

  constructor(campaigns: Campaign[] = []) {
    for (const campaign of campaigns) this.campaigns.set(campaign.id, campaign);
  }

  /** The next answers for `id`, before the map is consulted. */
  script(id: string, ...answers: ApiCall<Campaign>[]): this {
    this.#scripted.set(id, [...(this.#scripted.get(id) ?? []), ...answers]);
    return this;
  }

  async getCampaign(id: string): Promise<ApiCall<Campaign>> {
    this.asked.push(id);
    const scripted = this.#scripted.get(id)?.shift();
    if (scripted) return scripted;
    const campaign = this.campaigns.get(id);
    return campaign
      ? answer(200, { body: structuredClone(campaign) })
      : answer(404, { errors: [notFound(id)] });
  }

  async createGiftRequest(): Promise<ApiCall<GiftRequest>> {
    throw new Error('not used by these tests');
  }

  async getGiftRequest(): Promise<ApiCall<GiftRequest>> {
    throw new Error('not used by these tests');
  }

  async listCampaigns(): Promise<ApiCall<Page<Campaign>>> {
    throw new Error('not used by these tests');
  }
}

export function answer(
  status: number,
  extra: Partial<Extract<ApiCall<Campaign>, { kind: 'response' }>> = {},
): ApiCall<Campaign> {
  return {
    kind: 'response',
    status,
    requestId: `req_${status}_${Math.random().toString(36).slice(2, 8)}`,
    body: null,
    errors: [],
    retryAfterMs: null,
    ...extra,
  };
}

function notFound(id: string) {
  return { type: 'not_found_error', code: 'not_found', message: `no campaign ${id}`, param: null };
}

/** A campaign with one product holding the given variants. */
export function campaign(
  id: string,
  fields: Partial<Omit<Campaign, 'id' | 'products'>> & { variants?: CampaignVariant[] } = {},
): Campaign {
  const { variants = [], ...rest } = fields;
  return {
    id,
    name: `Campaign ${id}`,
    status: 'available',
    invitation_method: 'sender_provided_address',
    products: [{ id: `product-${id}`, name: 'Product', variants }],
    ...rest,
  };
}

export function variant(sku: string, stock: number, enabled = true): CampaignVariant {
  return {
    id: `variant-${sku}`,
    sku,
    enabled,
    stock_levels: [{ quantity: stock, warehouse: { id: 'wh-1', name: 'Dublin DC' } }],
  };
}
