import type { Clock } from '../ports/clock.ts';
import type { ApiCall, Campaign, CampaignVariant, GiftingApi } from '../ports/gifting-api.ts';
import { mapWithConcurrency } from './concurrency.ts';
import { type FleetRateLimiter, type LimiterFeedback, Permits } from './rate-limiter.ts';
import { RecipientFileError, type RecipientRow } from './recipients/index.ts';

/** What a preflight can find wrong with a file before anything is sent. */
export type PreflightFindingKind =
  /** `GET /campaigns/{id}` answered 404: every row naming it would be rejected. */
  | 'unknown-campaign'
  /** The campaign is archived: it takes no new gift requests. */
  | 'archived-campaign'
  /** Direct-send rows (address + item) on a campaign whose invitation method is another one. */
  | 'direct-send-not-allowed'
  /** A `sku` or `variant_id` that matches no enabled variant of the campaign's catalogue. */
  | 'unknown-variant'
  /** The whole file wants more of a variant than the campaign's catalogue has in stock. */
  | 'stock-shortfall'
  /** &Open could not be asked about the campaign (refused key, unreachable): nothing is known. */
  | 'campaign-unchecked';

/** A row a finding is about, as a person finds it again in the file. */
export interface PreflightRowRef {
  /** 1-based data row, as in the results file. */
  row: number;
  /** Physical line of the file the row starts on. */
  line: number;
  externalId: string | null;
}

export interface PreflightFinding {
  kind: PreflightFindingKind;
  campaignId: string;
  /** The item named in the file, for variant and stock findings. */
  sku: string | null;
  variantId: string | null;
  /** How many rows the finding is about. */
  rows: number;
  /** The first few of them, in file order. */
  examples: PreflightRowRef[];
  /** Stock findings: the quantity the whole file wants, and what the catalogue has. */
  quantityWanted: number | null;
  inStock: number | null;
  /** One line for a person, naming the rows. */
  message: string;
}

/** A campaign the file names, as &Open described it. */
export interface PreflightCampaign {
  id: string;
  /** `found`, `not-found` (404) or `unchecked` (&Open could not be asked). */
  lookup: 'found' | 'not-found' | 'unchecked';
  name: string | null;
  status: string | null;
  invitationMethod: string | null;
  /** Rows of the file (valid ones) that name it. */
  rows: number;
  /** The Request-Id of the answer that decided the lookup. */
  requestId: string | null;
}

export interface PreflightReport {
  /** Data rows read. */
  rows: number;
  /** Rows that passed local validation: the ones that would be sent, and the ones checked. */
  checkedRows: number;
  /** Rows that failed local validation (never sent; `gift-batch validate` lists them). */
  invalidRows: number;
  campaigns: PreflightCampaign[];
  findings: PreflightFinding[];
  /** The file could not be read (whole, or from some line on); the rows before it were checked. */
  fileError: string | null;
}

export interface PreflightSettings {
  /** Example rows kept per finding. */
  examplesPerFinding: number;
  /** Campaigns looked up at once. */
  concurrency: number;
  /** Tries per campaign when &Open answers "later" (429, 503, 5xx, no answer). */
  attempts: number;
  /** A file naming more campaigns than this has the rest reported as unchecked, not fetched. */
  maxCampaigns: number;
  /** Pause between tries without a Retry-After, growing linearly. */
  retryDelayMs: number;
}

export const DEFAULT_PREFLIGHT_SETTINGS: PreflightSettings = {
  examplesPerFinding: 5,
  concurrency: 4,
  attempts: 4,
  maxCampaigns: 200,
  retryDelayMs: 1_000,
};

/** What one pass over the file keeps about a group of rows: a count and the first few. */
class RowGroup {
  rows = 0;
  readonly examples: PreflightRowRef[] = [];

  add(row: RecipientRow, keep: number): void {
    this.rows += 1;
    if (this.examples.length < keep) {
      this.examples.push({ row: row.row, line: row.line, externalId: row.externalId });
    }
  }
}

/** The rows of one campaign that ask for one item, by the reference the file used. */
class ItemGroup extends RowGroup {
  quantity = 0;

  constructor(
    readonly sku: string | null,
    readonly variantId: string | null,
  ) {
    super();
  }
}

class CampaignGroup extends RowGroup {
  readonly directSend = new RowGroup();
  /** Keyed by the (sku, variant_id) pair as written: distinct items, never rows. */
  readonly items = new Map<string, ItemGroup>();
}

type Lookup =
  | { kind: 'found'; campaign: Campaign; requestId: string | null }
  | { kind: 'not-found'; requestId: string | null }
  | { kind: 'unchecked'; reason: string; requestId: string | null };

/**
 * Checks a recipient file against &Open's campaigns before anything is sent: the problems &Open
 * would reject rows for, found once for the whole file instead of one rejected row at a time.
 *
 * Primary course:
 * 1. Stream the file once, keeping per campaign and per item only counts, quantities and the first
 *    few rows (memory grows with the campaigns and items a file names, never with its rows).
 * 2. Fetch each campaign the file names once (`GET /campaigns/{id}`), each call taking a slot of the
 *    fleet's shared rate, retrying answers that say "later".
 * 3. Report unknown and archived campaigns, direct-send rows on a campaign that does not take them,
 *    items that match no enabled variant, and stock shortfalls summed over the whole file.
 */
export class PreflightService {
  readonly #api: GiftingApi;
  readonly #clock: Clock;
  readonly #limiter: FleetRateLimiter | null;
  readonly #sleep: (ms: number) => Promise<void>;
  readonly #settings: PreflightSettings;

  constructor(deps: {
    api: GiftingApi;
    clock: Clock;
    /** Campaign GETs draw from the same fleet-wide budget as the POSTs. */
    limiter?: FleetRateLimiter;
    sleep?: (ms: number) => Promise<void>;
    settings?: Partial<PreflightSettings>;
  }) {
    this.#api = deps.api;
    this.#clock = deps.clock;
    this.#limiter = deps.limiter ?? null;
    this.#sleep = deps.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
    this.#settings = { ...DEFAULT_PREFLIGHT_SETTINGS, ...deps.settings };
  }

  /** Checks the rows of a file (as readRecipients yields them). Never throws for the file's content. */
  async check(rows: AsyncIterable<RecipientRow>): Promise<PreflightReport> {
    const keep = this.#settings.examplesPerFinding;
    const groups = new Map<string, CampaignGroup>();
    const report: PreflightReport = {
      rows: 0,
      checkedRows: 0,
      invalidRows: 0,
      campaigns: [],
      findings: [],
      fileError: null,
    };
    try {
      for await (const row of rows) {
        report.rows += 1;
        if (!row.result.valid) {
          report.invalidRows += 1;
          continue;
        }
        report.checkedRows += 1;
        const body = row.result.body;
        let group = groups.get(body.campaign_id);
        if (!group) {
          group = new CampaignGroup();
          groups.set(body.campaign_id, group);
        }
        group.add(row, keep);
        if (!body.line_items) continue;
        group.directSend.add(row, keep);
        for (const item of body.line_items) {
          const sku = item.sku ?? null;
          const variantId = item.variant_id ?? null;
          const key = `${sku ?? ''}\u0000${variantId ?? ''}`;
          let itemGroup = group.items.get(key);
          if (!itemGroup) {
            itemGroup = new ItemGroup(sku, variantId);
            group.items.set(key, itemGroup);
          }
          itemGroup.add(row, keep);
          itemGroup.quantity += item.quantity;
        }
      }
    } catch (error) {
      if (!(error instanceof RecipientFileError)) throw error;
      report.fileError = error.message;
      // The pipeline refuses such a file whole: nothing of it is sent, so nothing is worth asking
      // &Open about (the reader stopped at the first row over the limit).
      if (error.code === 'too_many_rows') return report;
    }

    const ids = [...groups.keys()];
    const lookups = new Map<string, Lookup>();
    const fetched = ids.slice(0, this.#settings.maxCampaigns);
    for (const id of ids.slice(this.#settings.maxCampaigns)) {
      lookups.set(id, {
        kind: 'unchecked',
        reason: `the file names more than ${this.#settings.maxCampaigns} campaigns; only the first ${this.#settings.maxCampaigns} were looked up`,
        requestId: null,
      });
    }
    const permits = this.#limiter ? new Permits(this.#limiter, this.#clock, fetched.length) : null;
    await mapWithConcurrency(fetched, this.#settings.concurrency, async (id) => {
      lookups.set(id, await this.#lookUp(id, permits));
    });

    for (const [id, group] of groups) {
      const lookup = lookups.get(id) as Lookup;
      report.campaigns.push(campaignEntry(id, group, lookup));
      report.findings.push(...findingsOf(id, group, lookup, keep));
    }
    // In file order, so a person reads them as they scroll the file.
    report.findings.sort((a, b) => (a.examples[0]?.row ?? 0) - (b.examples[0]?.row ?? 0));
    return report;
  }

  /** One campaign, asked once; asked again only when &Open says "later". */
  async #lookUp(id: string, permits: Permits | null): Promise<Lookup> {
    let last: Lookup = { kind: 'unchecked', reason: 'not asked', requestId: null };
    for (let attempt = 1; attempt <= this.#settings.attempts; attempt += 1) {
      const permit = permits ? await permits.acquire() : { kind: 'go' as const, at: 0 };
      if (permit.kind === 'wait') {
        // The fleet is paused for longer than a request should wait: wait it out, then try again.
        await this.#sleep(Math.max(0, permit.untilMs - this.#clock.now()));
        continue;
      }
      const sentAt = this.#clock.now();
      const answer = classifyCampaignCall(await this.#api.getCampaign(id));
      await this.#limiter?.answered(sentAt, answer.feedback, answer.retryAfterMs);
      if (answer.kind !== 'later') return answer.lookup;
      last = { kind: 'unchecked', reason: answer.reason, requestId: answer.requestId };
      if (attempt < this.#settings.attempts && !this.#limiter) {
        // Without the shared limiter nobody else honours the Retry-After: this caller does.
        await this.#sleep(answer.retryAfterMs ?? this.#settings.retryDelayMs * attempt);
      }
    }
    return last;
  }
}

type CampaignAnswer =
  | { kind: 'final'; lookup: Lookup; feedback: LimiterFeedback; retryAfterMs: null }
  | {
      kind: 'later';
      reason: string;
      requestId: string | null;
      feedback: LimiterFeedback;
      retryAfterMs: number | null;
    };

/** What one answer to `GET /campaigns/{id}` means for the preflight and for the fleet's rate. */
function classifyCampaignCall(call: ApiCall<Campaign>): CampaignAnswer {
  if (call.kind === 'no-credentials') {
    // Nothing was asked: every lookup would fail the same way until the key is put in its secret.
    return {
      kind: 'final',
      lookup: { kind: 'unchecked', reason: `no &Open API key: ${call.message}`, requestId: null },
      feedback: 'no-answer',
      retryAfterMs: null,
    };
  }
  if (call.kind === 'transport-failure') {
    return {
      kind: 'later',
      reason: `no answer from &Open (${call.message})`,
      requestId: null,
      feedback: 'no-answer',
      retryAfterMs: null,
    };
  }
  const { status, requestId, retryAfterMs } = call;
  const codes = call.errors.map((error) => error.code).filter((code) => code !== '');
  const described = `HTTP ${status}${codes.length > 0 ? ` ${codes.join(', ')}` : ''} (Request-Id ${requestId ?? 'none'})`;
  const final = (lookup: Lookup): CampaignAnswer => ({
    kind: 'final',
    lookup,
    feedback: 'accepted',
    retryAfterMs: null,
  });
  if (status >= 200 && status <= 299) {
    if (call.body !== null) return final({ kind: 'found', campaign: call.body, requestId });
    return {
      kind: 'later',
      reason: `${described}: the answer held no readable campaign`,
      requestId,
      feedback: 'accepted',
      retryAfterMs: null,
    };
  }
  if (status === 404 || status === 410) return final({ kind: 'not-found', requestId });
  if (status === 429 || status === 503 || status === 408 || status === 425 || status >= 500) {
    const feedback: LimiterFeedback =
      status === 429 ? 'throttled' : status === 503 ? 'unavailable' : 'accepted';
    return { kind: 'later', reason: described, requestId, feedback, retryAfterMs };
  }
  // A refused key, version or request: asking again changes nothing.
  return final({ kind: 'unchecked', reason: `&Open refused the lookup: ${described}`, requestId });
}

function campaignEntry(id: string, group: CampaignGroup, lookup: Lookup): PreflightCampaign {
  const campaign = lookup.kind === 'found' ? lookup.campaign : null;
  return {
    id,
    lookup: lookup.kind,
    name: campaign?.name ?? null,
    status: campaign?.status ?? null,
    invitationMethod: campaign?.invitation_method ?? null,
    rows: group.rows,
    requestId: lookup.requestId,
  };
}

/** Direct-send needs this invitation method (the &Open reference). */
export const DIRECT_SEND_INVITATION_METHOD = 'sender_provided_address';

function findingsOf(
  id: string,
  group: CampaignGroup,
  lookup: Lookup,
  keep: number,
): PreflightFinding[] {
  const base = { campaignId: id, sku: null, variantId: null, quantityWanted: null, inStock: null };
  const about = (rows: RowGroup) => ({ rows: rows.rows, examples: rows.examples });
  if (lookup.kind === 'not-found') {
    return [
      {
        ...base,
        ...about(group),
        kind: 'unknown-campaign',
        message: `campaign ${id} does not exist at &Open: ${rowsText(group)} would be rejected`,
      },
    ];
  }
  if (lookup.kind === 'unchecked') {
    return [
      {
        ...base,
        ...about(group),
        kind: 'campaign-unchecked',
        message: `campaign ${id} could not be checked (${lookup.reason}): ${rowsText(group)} unchecked`,
      },
    ];
  }
  const campaign = lookup.campaign;
  const named = campaignName(campaign);
  if (campaign.status === 'archived') {
    return [
      {
        ...base,
        ...about(group),
        kind: 'archived-campaign',
        message: `campaign ${named} is archived: ${rowsText(group)} would be rejected`,
      },
    ];
  }
  if (group.directSend.rows === 0) return [];
  const method = campaign.invitation_method;
  if (method !== null && method !== DIRECT_SEND_INVITATION_METHOD) {
    // &Open checks no item of a campaign that cannot take a direct-send: neither does the preflight.
    return [
      {
        ...base,
        ...about(group.directSend),
        kind: 'direct-send-not-allowed',
        message: `campaign ${named} invites by ${method}, not ${DIRECT_SEND_INVITATION_METHOD}: ${rowsText(group.directSend)} with an address and item would be rejected`,
      },
    ];
  }
  return itemFindings(campaign, named, group, keep);
}

/** Unknown items, then stock summed per variant over every row that names it (by sku or id). */
function itemFindings(
  campaign: Campaign,
  named: string,
  group: CampaignGroup,
  keep: number,
): PreflightFinding[] {
  const variants = campaign.products.flatMap((product) => product.variants);
  const bySku = new Map<string, CampaignVariant>();
  const byId = new Map<string, CampaignVariant>();
  for (const variant of variants) {
    if (variant.sku !== null && !bySku.has(variant.sku)) bySku.set(variant.sku, variant);
    if (variant.id !== null) byId.set(variant.id, variant);
  }
  const findings: PreflightFinding[] = [];
  const wanted = new Map<CampaignVariant, { items: ItemGroup[]; quantity: number }>();
  for (const item of group.items.values()) {
    const variant = resolveItem(item, bySku, byId);
    if (typeof variant === 'string') {
      findings.push({
        kind: 'unknown-variant',
        campaignId: campaign.id,
        sku: item.sku,
        variantId: item.variantId,
        rows: item.rows,
        examples: item.examples,
        quantityWanted: item.quantity,
        inStock: null,
        message: `${itemName(item)} ${variant} of campaign ${named}: ${rowsText(item)} would be rejected`,
      });
      continue;
    }
    const entry = wanted.get(variant) ?? { items: [], quantity: 0 };
    entry.items.push(item);
    entry.quantity += item.quantity;
    wanted.set(variant, entry);
  }
  for (const [variant, { items, quantity }] of wanted) {
    const inStock = variant.stock_levels.reduce((sum, level) => sum + level.quantity, 0);
    if (quantity <= inStock) continue;
    // Rows of the same variant named by sku and by id are one demand on one stock.
    const rows = mergeRows(items, keep);
    const label = variant.sku ?? variant.id ?? itemName(items[0] as ItemGroup);
    findings.push({
      kind: 'stock-shortfall',
      campaignId: campaign.id,
      sku: variant.sku,
      variantId: variant.id,
      rows: rows.rows,
      examples: rows.examples,
      quantityWanted: quantity,
      inStock,
      message: `${plural(rows.rows, 'row')} want ${label} (quantity ${quantity}), ${inStock} in stock in campaign ${named}: ${rowsList(rows)}; about ${quantity - inStock} short`,
    });
  }
  return findings;
}

/** The variant an item names, or why none: &Open's rules (enabled only; sku and id must agree). */
function resolveItem(
  item: ItemGroup,
  bySku: Map<string, CampaignVariant>,
  byId: Map<string, CampaignVariant>,
): CampaignVariant | string {
  const fromSku = item.sku === null ? null : (bySku.get(item.sku) ?? undefined);
  const fromId = item.variantId === null ? null : (byId.get(item.variantId) ?? undefined);
  if (fromSku === undefined || fromId === undefined) return 'matches no variant';
  if (fromSku !== null && fromId !== null && fromSku !== fromId) {
    return 'names two different variants (the sku and the variant_id disagree)';
  }
  const variant = (fromSku ?? fromId) as CampaignVariant;
  if (!variant.enabled) return 'matches no enabled variant (it is disabled)';
  return variant;
}

/** One row group of several items (a variant named by sku in some rows, by id in others). */
function mergeRows(items: ItemGroup[], keep: number): RowGroup {
  const merged = new RowGroup();
  merged.rows = items.reduce((sum, item) => sum + item.rows, 0);
  const examples = items
    .flatMap((item) => item.examples)
    .sort((a, b) => a.row - b.row)
    .filter((example, index, all) => index === 0 || all[index - 1]?.row !== example.row);
  merged.examples.push(...examples.slice(0, keep));
  return merged;
}

function itemName(item: ItemGroup): string {
  if (item.sku !== null && item.variantId !== null) {
    return `sku ${item.sku} with variant_id ${item.variantId}`;
  }
  return item.sku !== null ? `sku ${item.sku}` : `variant_id ${item.variantId}`;
}

function campaignName(campaign: Campaign): string {
  return campaign.name ? `${campaign.id} (${campaign.name})` : campaign.id;
}

/** "3 rows (rows 2, 5, 9)", "1 row (row 11)", "30 rows (rows 2, 3, 4, 5, 6 and 25 more)". */
export function rowsText(rows: RowGroup | { rows: number; examples: PreflightRowRef[] }): string {
  return `${plural(rows.rows, 'row')} (${rowsList(rows)})`;
}

function rowsList(rows: { rows: number; examples: PreflightRowRef[] }): string {
  const numbers = rows.examples.map((example) => example.row);
  const more = rows.rows - numbers.length;
  const list = `${numbers.length === 1 && more === 0 ? 'row' : 'rows'} ${numbers.join(', ')}`;
  return more > 0 ? `${list} and ${more} more` : list;
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}
