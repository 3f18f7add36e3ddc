import type { WebhookOptions } from './webhooks.ts';

/**
 * The sandbox's own types. It deliberately shares nothing with `lambdas/` (not even the port types):
 * it implements the &Open 2026-05 contract independently, so a misreading in the core cannot hide in
 * the simulator that tests it.
 */

export type ErrorType =
  | 'validation_error'
  | 'authentication_error'
  | 'authorization_error'
  | 'not_found_error'
  | 'rate_limit_error'
  | 'api_error';

/** One entry of the 2026-05 error model. `param` is absent (not null) when no field is at fault. */
export interface ErrorEntry {
  type: ErrorType;
  code: string;
  message: string;
  param?: string;
}

export interface Warehouse {
  id: string;
  name: string;
}

export interface StockLevel {
  id: string;
  quantity: number;
  warehouse: Warehouse;
}

export interface VariantSeed {
  id: string;
  sku: string;
  name: string;
  enabled: boolean;
  stock_levels: StockLevel[];
}

export interface ProductSeed {
  id: string;
  name: string;
  variants: VariantSeed[];
}

/** A campaign as the sandbox stores it: the full catalogue, before the warehouse filter. */
export interface CampaignSeed {
  id: string;
  name: string;
  status: 'available' | 'archived';
  invitation_method: string;
  fulfilment_warehouse: Warehouse | null;
  products: ProductSeed[];
  created_at: string;
  updated_at: string;
  /** The tenant that owns it; defaults to the demo tenant (the one `SANDBOX_API_KEY` belongs to). */
  tenant?: string;
}

export type InjectedFault =
  | '500-not-created'
  | '500-created'
  | '502'
  | '504'
  | '503'
  | '429'
  | 'drop-before-create'
  | 'drop-after-create';

export const INJECTED_FAULTS: readonly InjectedFault[] = [
  '500-not-created',
  '500-created',
  '502',
  '504',
  '503',
  '429',
  'drop-before-create',
  'drop-after-create',
];

/**
 * Which requests an injected fault applies to: `post` = `POST /gift_requests`, `get` =
 * `GET /gift_requests/{id}`, `any` = any API request (campaigns included).
 */
export type FaultTarget = 'post' | 'get' | 'any';

export type RetryAfterFormat = 'seconds' | 'http-date';

export interface RateLimitOptions {
  /** Sustained requests per second, per tenant, for all API requests together. */
  rps: number;
  /** Bucket size (requests that may arrive at once); defaults to max(1, ceil(rps)). */
  burst?: number;
  /** How the 429's Retry-After is written; defaults to the fault options' `retryAfterFormat`. */
  retryAfterFormat?: RetryAfterFormat;
}

export interface MaintenanceWindow {
  /** Start, in ms after the sandbox started; or an instant of the clock when `absolute` is true. */
  startMs: number;
  durationMs: number;
  absolute?: boolean;
}

/** Everything that can be changed while the sandbox runs (`configure`, `POST /_sandbox/faults`). */
export interface FaultOptions {
  rateLimit: RateLimitOptions | null;
  maintenance: MaintenanceWindow[];
  /** Added before each API answer is written; real time, not the injectable clock. */
  latencyMs: { min: number; max: number };
  /** Probability (0–1) of each fault on every `POST /gift_requests` not hit by an injected one. */
  faultRates: Partial<Record<InjectedFault, number>>;
  /** Format of Retry-After on 503 answers and injected 429s (the rate limit has its own). */
  retryAfterFormat: RetryAfterFormat;
  /** Retry-After, in seconds, given with an injected 429 or 503. */
  injectedRetryAfterS: number;
  /** How long after creation a gift's `redemption_url` stays null. Applies to gifts created later. */
  redemptionUrlDelayMs: number;
}

export interface ApiKey {
  key: string;
  /** A label for the tenant: it goes in the journal; the key never does. */
  tenant: string;
}

export interface SandboxOptions extends Partial<FaultOptions> {
  host?: string;
  port?: number;
  /** Accepted keys. A plain string belongs to the demo tenant. Default: [SANDBOX_API_KEY]. */
  apiKeys?: (string | ApiKey)[];
  /** Keys that were valid once: 401 `expired_token`. */
  expiredKeys?: string[];
  /** Keys of the demo tenant without the gifting scope: 403 `insufficient_scope`. */
  forbiddenKeys?: string[];
  /** Default: the demo seed. Deep-copied, so stock is per sandbox. */
  campaigns?: CampaignSeed[];
  now?: () => number;
  /** Makes ids, redemption links, fault rolls and latencies repeatable. */
  seed?: number;
  /**
   * Keeps the gifts and stock in this file (an append-only log) and reloads them on start, so that
   * a sandbox restarted between local runs remembers what it created, as the real &Open does.
   * Default: memory only.
   */
  stateFile?: string;
  /** Signs and delivers a webhook for every gift change (creation, link, status); default off. */
  webhooks?: WebhookOptions;
}
