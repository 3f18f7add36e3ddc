/**
 * Campaigns, gift requests and stock of one sandbox instance. Every method is synchronous, so a
 * check followed by a take, done in one call chain without an `await` between, is atomic: when
 * several requests race for the last unit exactly one of them gets it.
 */
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import type { CampaignFacts, CatalogueLookup, CreatePlan, VariantFacts } from './contract.ts';
import type { Random } from './random.ts';
import { DEMO_TENANT } from './seed.ts';
import type { CampaignSeed, StockLevel, VariantSeed } from './types.ts';

export const GIFT_STATUSES = ['submitted', 'redeemed', 'dispatched', 'delivered', 'cancelled'];

interface LineItem {
  id: string;
  sku: string;
  variant_id: string;
  quantity: number;
}

export interface StoredGift {
  id: string;
  tenant: string;
  status: string;
  campaignId: string;
  recipient: { id: string; first_name: string; last_name: string; email: string | null };
  shippingAddress: Record<string, string | null> | null;
  lineItems: LineItem[] | null;
  createdAt: number;
  updatedAt: number;
  redemptionUrl: string;
  /** `redemption_url` reads null before this instant: &Open generates it shortly after creation. */
  redemptionUrlAt: number;
}

/** A variant as a campaign shows it: only the stock levels of its fulfilment warehouse, if any. */
interface VisibleVariant {
  variant: VariantSeed;
  stockLevels: StockLevel[];
}

/** One line of the state file: a gift as it now is, or stock taken. */
type StateRecord =
  | { kind: 'gift'; gift: StoredGift }
  | { kind: 'take'; campaignId: string; variantId: string; quantity: number };

export class Store {
  private readonly campaigns: CampaignSeed[];
  private readonly gifts = new Map<string, StoredGift>();
  private replaying = false;
  /** Told of every change to a gift as it happens (the webhook sender listens), never on replay. */
  onGiftChange: ((gift: StoredGift, change: 'created' | 'advanced') => void) | null = null;

  constructor(
    campaigns: CampaignSeed[],
    private readonly random: Random,
    private readonly stateFile: string | null = null,
  ) {
    this.campaigns = structuredClone(campaigns);
    if (stateFile !== null && existsSync(stateFile)) this.replay(stateFile);
  }

  /**
   * Rebuilds gifts and stock from the state file. Each change was appended synchronously as it
   * happened, so a sandbox killed at any moment reloads every gift it answered for.
   */
  private replay(file: string): void {
    this.replaying = true;
    try {
      for (const line of readFileSync(file, 'utf8').split('\n')) {
        if (!line.trim()) continue;
        let record: StateRecord;
        try {
          record = JSON.parse(line) as StateRecord;
        } catch {
          continue; // a line cut short by a kill mid-write: everything before it stands
        }
        if (record.kind === 'gift') this.gifts.set(record.gift.id, record.gift);
        else {
          const campaign = this.campaigns.find((c) => c.id === record.campaignId);
          try {
            if (campaign !== undefined) this.take(campaign, record.variantId, record.quantity);
          } catch {
            // The seed changed since (a variant gone, less stock): the gifts still stand.
          }
        }
      }
    } finally {
      this.replaying = false;
    }
  }

  private record(entry: StateRecord): void {
    if (this.stateFile !== null && !this.replaying) {
      appendFileSync(this.stateFile, `${JSON.stringify(entry)}\n`);
    }
  }

  /** The tenant's campaign, or undefined (unknown and other-tenant alike). */
  campaign(tenant: string, id: string): CampaignSeed | undefined {
    return this.campaigns.find((c) => c.id === id && (c.tenant ?? DEMO_TENANT) === tenant);
  }

  /** Newest first; ties broken by id so pages are stable. */
  campaignsOf(tenant: string): CampaignSeed[] {
    return this.campaigns
      .filter((c) => (c.tenant ?? DEMO_TENANT) === tenant)
      .sort((a, b) => b.created_at.localeCompare(a.created_at) || b.id.localeCompare(a.id));
  }

  /** The flat 2026-05 campaign object, catalogue inline and filtered to the fulfilment warehouse. */
  campaignView(campaign: CampaignSeed): Record<string, unknown> {
    return {
      id: campaign.id,
      name: campaign.name,
      status: campaign.status,
      invitation_method: campaign.invitation_method,
      fulfilment_warehouse: campaign.fulfilment_warehouse,
      products: campaign.products
        .map((product) => ({
          id: product.id,
          name: product.name,
          variants: product.variants
            .map((variant) => this.visible(campaign, variant))
            .filter((shown) => shown !== undefined)
            .map(({ variant, stockLevels }) => ({
              id: variant.id,
              sku: variant.sku,
              name: variant.name,
              enabled: variant.enabled,
              stock_levels: stockLevels,
            })),
        }))
        .filter((product) => product.variants.length > 0),
      created_at: campaign.created_at,
      updated_at: campaign.updated_at,
    };
  }

  /** What the contract checks need, scoped to one tenant. */
  catalogueFor(tenant: string): CatalogueLookup {
    return {
      campaign: (id) => {
        const campaign = this.campaign(tenant, id);
        return campaign === undefined ? undefined : this.facts(campaign);
      },
    };
  }

  /** Creates the gift request of a checked body and takes its stock. */
  createGift(tenant: string, plan: CreatePlan, now: number, urlDelayMs: number): StoredGift {
    const campaign = this.campaign(tenant, plan.campaignId);
    if (campaign === undefined) throw new Error(`campaign ${plan.campaignId} vanished`);
    let lineItems: LineItem[] | null = null;
    let shippingAddress: StoredGift['shippingAddress'] = null;
    if (plan.directSend !== null) {
      lineItems = plan.directSend.items.map((item) => {
        this.take(campaign, item.variantId, item.quantity);
        return {
          id: this.random.uuid(),
          sku: item.sku,
          variant_id: item.variantId,
          quantity: item.quantity,
        };
      });
      shippingAddress = { id: this.random.uuid(), ...plan.directSend.address };
    }
    const gift: StoredGift = {
      id: this.random.uuid(),
      tenant,
      status: 'submitted',
      campaignId: campaign.id,
      recipient: { id: this.random.uuid(), ...plan.recipient },
      shippingAddress,
      lineItems,
      createdAt: now,
      updatedAt: now,
      redemptionUrl: `https://gift.sandbox.andopen.test/r/${this.random.token(22)}`,
      redemptionUrlAt: now + urlDelayMs,
    };
    this.gifts.set(gift.id, gift);
    this.record({ kind: 'gift', gift });
    if (!this.replaying) this.onGiftChange?.(gift, 'created');
    return gift;
  }

  /** The tenant's gift request, or undefined (unknown and other-tenant alike). */
  gift(tenant: string | null, id: string): StoredGift | undefined {
    const gift = this.gifts.get(id);
    return gift !== undefined && (tenant === null || gift.tenant === tenant) ? gift : undefined;
  }

  /**
   * Moves a gift along its lifecycle. Any status is accepted, so tests can check that clients
   * tolerate values &Open may add. A choice-mode gift locks its item when it is redeemed.
   */
  advance(id: string, status: string, now: number): StoredGift {
    const gift = this.gifts.get(id);
    if (gift === undefined) throw new SandboxNotFoundError(`no gift request ${id}`);
    gift.status = status;
    gift.updatedAt = Math.max(now, gift.updatedAt);
    if (gift.lineItems === null && ['redeemed', 'dispatched', 'delivered'].includes(status)) {
      gift.lineItems = this.lockChosenItem(gift);
    }
    this.record({ kind: 'gift', gift });
    if (!this.replaying) this.onGiftChange?.(gift, 'advanced');
    return gift;
  }

  /** The flat 2026-05 gift request object, as seen at `now`. */
  giftView(gift: StoredGift, now: number): Record<string, unknown> {
    const urlShown = now >= gift.redemptionUrlAt;
    // Generating the link is a change to the record, so updated_at moves when it appears.
    const updatedAt = urlShown ? Math.max(gift.updatedAt, gift.redemptionUrlAt) : gift.updatedAt;
    return {
      id: gift.id,
      status: gift.status,
      campaign_id: gift.campaignId,
      redemption_url: urlShown ? gift.redemptionUrl : null,
      recipient: { ...gift.recipient },
      shipping_address: gift.shippingAddress === null ? null : { ...gift.shippingAddress },
      line_items: gift.lineItems === null ? null : gift.lineItems.map((item) => ({ ...item })),
      created_at: new Date(gift.createdAt).toISOString(),
      updated_at: new Date(updatedAt).toISOString(),
    };
  }

  private facts(campaign: CampaignSeed): CampaignFacts {
    const find = (match: (variant: VariantSeed) => boolean): VariantFacts | undefined => {
      for (const product of campaign.products) {
        for (const variant of product.variants) {
          const shown = match(variant) ? this.visible(campaign, variant) : undefined;
          if (shown !== undefined) {
            return {
              id: variant.id,
              sku: variant.sku,
              enabled: variant.enabled,
              available: shown.stockLevels.reduce((sum, level) => sum + level.quantity, 0),
            };
          }
        }
      }
      return undefined;
    };
    return {
      status: campaign.status,
      invitationMethod: campaign.invitation_method,
      variantBySku: (sku) => find((variant) => variant.sku === sku),
      variantById: (id) => find((variant) => variant.id === id),
    };
  }

  private visible(campaign: CampaignSeed, variant: VariantSeed): VisibleVariant | undefined {
    const warehouse = campaign.fulfilment_warehouse;
    if (warehouse === null) return { variant, stockLevels: variant.stock_levels };
    const stockLevels = variant.stock_levels.filter((level) => level.warehouse.id === warehouse.id);
    return stockLevels.length > 0 ? { variant, stockLevels } : undefined;
  }

  private take(campaign: CampaignSeed, variantId: string, quantity: number): void {
    const variant = campaign.products
      .flatMap((product) => product.variants)
      .find((candidate) => candidate.id === variantId);
    const shown = variant === undefined ? undefined : this.visible(campaign, variant);
    if (shown === undefined) throw new Error(`variant ${variantId} vanished`);
    let left = quantity;
    for (const level of shown.stockLevels) {
      const taken = Math.min(level.quantity, left);
      level.quantity -= taken;
      left -= taken;
    }
    if (left > 0) throw new Error(`stock of ${variantId} was checked but is short by ${left}`);
    this.record({ kind: 'take', campaignId: campaign.id, variantId, quantity });
  }

  /** The recipient "chooses" the first enabled variant in stock (or, failing that, any variant). */
  private lockChosenItem(gift: StoredGift): LineItem[] | null {
    const campaign = this.campaigns.find((c) => c.id === gift.campaignId);
    if (campaign === undefined) return null;
    const facts = this.facts(campaign);
    const candidates = campaign.products
      .flatMap((product) => product.variants)
      .map((variant) => facts.variantById(variant.id))
      .filter((variant): variant is VariantFacts => variant?.enabled === true);
    const chosen = candidates.find((variant) => variant.available > 0) ?? candidates[0];
    if (chosen === undefined) return null;
    if (chosen.available > 0) this.take(campaign, chosen.id, 1);
    return [{ id: this.random.uuid(), sku: chosen.sku, variant_id: chosen.id, quantity: 1 }];
  }
}

export class SandboxNotFoundError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'SandboxNotFoundError';
  }
}
