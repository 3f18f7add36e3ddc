/**
 * The &Open 2026-05 API as the core sees it. The HTTP adapter implements this port; tests of the core
 * use in-memory implementations.
 *
 * Calls never throw for an answer from &Open or for a network failure: they resolve to an `ApiCall`
 * that says exactly what happened, so the core's outcome classification sees every case, and nothing
 * is lost to an exception that a caller forgot to catch. They throw only on a programming error.
 */

/** The body of `POST /gift_requests` (2026-05: flat JSON, never the 2025-10 envelope). */
export interface GiftRequestBody {
  campaign_id: string;
  recipient: RecipientInput;
  /** Direct-send only; sent together with `line_items` or not at all. */
  shipping_address?: ShippingAddressInput;
  line_items?: LineItemInput[];
}

export interface RecipientInput {
  first_name: string;
  last_name: string;
  /** Optional in 2026-05; omitted (never sent empty) when the row has none. */
  email?: string;
}

export interface ShippingAddressInput {
  address1: string;
  address2?: string;
  city: string;
  region: string;
  postal_code: string;
  country_code: string;
  phone: string;
}

export interface LineItemInput {
  sku?: string;
  variant_id?: string;
  quantity: number;
}

/**
 * A gift request as &Open returns it. Unknown fields are kept (forward compatibility) and `status` is
 * a plain string: &Open may add values within a version.
 */
export interface GiftRequest {
  id: string;
  status: string;
  campaign_id: string | null;
  redemption_url: string | null;
  recipient: {
    id?: string;
    first_name?: string;
    last_name?: string;
    email?: string | null;
  } & Record<string, unknown>;
  shipping_address: Record<string, unknown> | null;
  line_items: Record<string, unknown>[] | null;
  created_at: string | null;
  updated_at: string | null;
  [field: string]: unknown;
}

/** The statuses 2026-05 documents; others may appear and must be tolerated. */
export const KNOWN_GIFT_STATUSES = [
  'submitted',
  'redeemed',
  'dispatched',
  'delivered',
  'cancelled',
] as const;

export interface Campaign {
  id: string;
  name: string | null;
  /** `available` | `archived`, or a value &Open adds later. */
  status: string;
  /** Direct-send needs `sender_provided_address`. Null when the answer did not carry it. */
  invitation_method: string | null;
  products: CampaignProduct[];
  [field: string]: unknown;
}

export interface CampaignProduct {
  id: string | null;
  name: string | null;
  variants: CampaignVariant[];
  [field: string]: unknown;
}

export interface CampaignVariant {
  id: string | null;
  sku: string | null;
  enabled: boolean;
  stock_levels: {
    quantity: number;
    warehouse: Record<string, unknown> | null;
    [field: string]: unknown;
  }[];
  [field: string]: unknown;
}

export interface Page<T> {
  data: T[];
  has_more: boolean;
}

export interface ListCampaignsParams {
  /** 1–25; &Open clamps larger values. */
  limit?: number;
  /** The id of the last item of the previous page. */
  after?: string;
  status?: string;
  sort?: string;
}

/** One entry of &Open's shared error model. Unknown types and codes are kept verbatim. */
export interface ApiError {
  type: string;
  code: string;
  message: string;
  param: string | null;
}

/** &Open answered (any status). */
export interface ApiResponse<T> {
  kind: 'response';
  status: number;
  /** The `Request-Id` header; support asks for it. Null only when &Open did not send one. */
  requestId: string | null;
  /** The parsed body for a 2xx answer, else null. */
  body: T | null;
  /** The parsed `errors` of a non-2xx answer; empty when it had none or was not JSON. */
  errors: ApiError[];
  /** `Retry-After`, parsed and clamped, in milliseconds; null when absent or unparseable. */
  retryAfterMs: number | null;
  /**
   * When the request's bytes were handed to the socket (ms, the client's clock): when it reached
   * &Open, give or take the network. The rate limiter measures the limit from it. Absent when the
   * client cannot tell (test doubles).
   */
  writtenAt?: number;
}

/**
 * No answer arrived. `requestSent` separates the two cases the ledger must tell apart:
 * - false: nothing reached &Open (connection refused, DNS failure): safe to send again;
 * - true: the request may have reached &Open (timeout or reset after the request was written):
 *   a POST must not be repeated automatically.
 */
export interface TransportFailure {
  kind: 'transport-failure';
  requestSent: boolean;
  /** `timeout` | `connection-refused` | `dns` | `reset` | `other`. */
  reason: 'timeout' | 'connection-refused' | 'dns' | 'reset' | 'other';
  /** A short description without secrets (no headers, no key). */
  message: string;
}

/**
 * No request was made: this client has no usable API key (its secret is missing, empty or cannot be
 * read). Like a refused key, every call would fail the same way until a person fixes it.
 */
export interface NoCredentials {
  kind: 'no-credentials';
  /** Which secret and what is wrong with it; never the value. */
  message: string;
}

/** What an HTTP exchange with &Open can end in: an answer, or none. */
export type HttpCall<T> = ApiResponse<T> | TransportFailure;

export type ApiCall<T> = HttpCall<T> | NoCredentials;

export interface GiftingApi {
  createGiftRequest(body: GiftRequestBody): Promise<ApiCall<GiftRequest>>;
  getGiftRequest(id: string): Promise<ApiCall<GiftRequest>>;
  getCampaign(id: string): Promise<ApiCall<Campaign>>;
  listCampaigns(params?: ListCampaignsParams): Promise<ApiCall<Page<Campaign>>>;
}
