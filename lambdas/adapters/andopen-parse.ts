/**
 * Defensive parsing of &Open answers. &Open may add fields, statuses and error codes within a version,
 * and between &Open and us there can be proxies that answer with HTML. These functions never throw:
 * unknown fields are kept, unknown values are kept verbatim, missing nullable fields become null, and
 * anything unreadable becomes null (a body) or an empty list (errors) so the outcome classification
 * decides what it means.
 */

import type {
  ApiError,
  Campaign,
  CampaignProduct,
  CampaignVariant,
  GiftRequest,
  Page,
} from '../ports/gifting-api.ts';

type JsonObject = Record<string, unknown>;

/** Long error texts (an HTML page quoted into a message) must not bloat the ledger. */
const MAX_MESSAGE_LENGTH = 1_000;

/** Campaign field names that may carry the invitation method, in order of preference. */
const INVITATION_METHOD_FIELDS = [
  'invitation_method',
  'invitation_type',
  'invitation_mode',
  'delivery_method',
  'send_method',
];

/** JSON.parse that answers undefined instead of throwing (empty body, HTML page, truncated JSON). */
export function parseJson(text: string): unknown {
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/**
 * The `errors` of an error answer as ApiError[]. Accepts the 2026-05 model (type, code, message, param),
 * the 2025-10 JSON:API model (status, title, detail, source.pointer), a single error object instead of
 * an array, and the `{ "message": "…" }` bodies gateways send. A missing `type` is derived from the HTTP
 * status, so callers can still branch on it.
 */
export function parseErrors(json: unknown, httpStatus: number): ApiError[] {
  if (!isObject(json)) return [];
  const { errors } = json;
  if (Array.isArray(errors)) {
    return errors.flatMap((entry) => {
      const error = parseErrorEntry(entry, httpStatus);
      return error === null ? [] : [error];
    });
  }
  if (isObject(errors) || typeof errors === 'string') {
    const error = parseErrorEntry(errors, httpStatus);
    return error === null ? [] : [error];
  }
  // No `errors` at all: a gateway's `{ "message": "Forbidden" }` or `{ "error": "…" }`.
  const message = firstString(json, ['message', 'error', 'detail']);
  if (message === null) return [];
  return [{ type: typeForStatus(httpStatus), code: '', message: truncate(message), param: null }];
}

function parseErrorEntry(entry: unknown, httpStatus: number): ApiError | null {
  if (typeof entry === 'string') {
    return { type: typeForStatus(httpStatus), code: '', message: truncate(entry), param: null };
  }
  if (!isObject(entry)) return null;
  return {
    type: asText(entry.type) ?? typeForStatus(httpStatus),
    code: asText(entry.code) ?? '',
    // 2025-10 put the human text in `detail` (and sometimes only a `title`).
    message: truncate(firstString(entry, ['message', 'detail', 'title']) ?? ''),
    param: asText(entry.param) ?? paramFromSource(entry.source),
  };
}

/** 2025-10 pointed at fields with `source.pointer` (`/data/attributes/first_name`). */
function paramFromSource(source: unknown): string | null {
  if (!isObject(source)) return null;
  const parameter = asText(source.parameter);
  if (parameter !== null) return parameter;
  const pointer = asText(source.pointer);
  if (pointer === null) return null;
  const path = pointer
    .replace(/^\/data\/attributes\/?/, '')
    .replace(/^\//, '')
    .split('/')
    .filter((part) => part !== '');
  return path.length === 0 ? null : path.join('.');
}

/** The documented type for each status, used when an error entry does not say. */
function typeForStatus(httpStatus: number): string {
  switch (httpStatus) {
    case 401:
      return 'authentication_error';
    case 403:
      return 'authorization_error';
    case 404:
      return 'not_found_error';
    case 422:
      return 'validation_error';
    case 429:
      return 'rate_limit_error';
    default:
      return 'api_error';
  }
}

/**
 * A gift request, or null when the value has no usable `id` (then nobody can follow it up: the
 * classifier decides what that means; an id is never invented). Accepts the 2025-10 envelope too
 * (`data.id`, `data.attributes.state`), because a created gift is worth recognising whatever its shape.
 */
export function parseGiftRequest(json: unknown): GiftRequest | null {
  const flat = unwrapJsonApi(json);
  if (flat === null) return null;
  const id = asId(flat.id);
  if (id === null) return null;
  const recipient = isObject(flat.recipient) ? { ...flat.recipient } : {};
  for (const field of ['id', 'first_name', 'last_name'] as const) {
    if (field in recipient && typeof recipient[field] !== 'string') delete recipient[field];
  }
  if ('email' in recipient && typeof recipient.email !== 'string') recipient.email = null;
  return {
    ...flat,
    id,
    status: asText(flat.status) ?? asText(flat.state) ?? 'unknown',
    campaign_id: asId(flat.campaign_id),
    redemption_url: asText(flat.redemption_url),
    recipient,
    shipping_address: isObject(flat.shipping_address) ? flat.shipping_address : null,
    line_items: Array.isArray(flat.line_items) ? flat.line_items.filter(isObject) : null,
    created_at: asText(flat.created_at),
    updated_at: asText(flat.updated_at),
  };
}

/** A campaign with its catalogue, or null without a usable `id`. `enabled` defaults to true. */
export function parseCampaign(json: unknown): Campaign | null {
  const flat = unwrapJsonApi(json);
  if (flat === null) return null;
  const id = asId(flat.id);
  if (id === null) return null;
  return {
    ...flat,
    id,
    name: asText(flat.name),
    status: asText(flat.status) ?? asText(flat.state) ?? 'unknown',
    invitation_method: invitationMethod(flat),
    products: asObjects(flat.products).map(parseProduct),
  };
}

/** A page of campaigns; items without an id are dropped. `has_more` is true only when &Open says so. */
export function parseCampaignPage(json: unknown): Page<Campaign> | null {
  if (!isObject(json) || !Array.isArray(json.data)) return null;
  const data = json.data.flatMap((item) => {
    const campaign = parseCampaign(item);
    return campaign === null ? [] : [campaign];
  });
  return { ...json, data, has_more: json.has_more === true };
}

function invitationMethod(campaign: JsonObject): string | null {
  const direct = firstString(campaign, INVITATION_METHOD_FIELDS);
  if (direct !== null) return direct;
  // Or nested: `invitation: { method: "…" }`.
  const { invitation } = campaign;
  if (typeof invitation === 'string' && invitation !== '') return invitation;
  if (isObject(invitation)) return firstString(invitation, ['method', 'type', 'mode']);
  return null;
}

function parseProduct(product: JsonObject): CampaignProduct {
  return {
    ...product,
    id: asId(product.id),
    name: asText(product.name),
    variants: asObjects(product.variants).map(parseVariant),
  };
}

function parseVariant(variant: JsonObject): CampaignVariant {
  // 2025-10 called them `variant_stock_levels` with an `available` count.
  const levels = asObjects(variant.stock_levels ?? variant.variant_stock_levels);
  return {
    ...variant,
    id: asId(variant.id),
    sku: asText(variant.sku),
    enabled: typeof variant.enabled === 'boolean' ? variant.enabled : true,
    stock_levels: levels.map((level) => ({
      ...level,
      quantity: asCount(level.quantity ?? level.available),
      warehouse: isObject(level.warehouse) ? level.warehouse : null,
    })),
  };
}

/** The flat object, or the attributes of a 2025-10 `{ data: { id, attributes } }` envelope. */
function unwrapJsonApi(json: unknown): JsonObject | null {
  if (!isObject(json)) return null;
  if (json.id === undefined && isObject(json.data) && isObject(json.data.attributes)) {
    return { ...json.data.attributes, id: json.data.id };
  }
  return json;
}

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function asObjects(value: unknown): JsonObject[] {
  return Array.isArray(value) ? value.filter(isObject) : [];
}

function asText(value: unknown): string | null {
  return typeof value === 'string' ? value : null;
}

/** Ids are strings; a number is accepted (and kept as its text), an empty string is not an id. */
function asId(value: unknown): string | null {
  if (typeof value === 'string') return value === '' ? null : value;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return null;
}

/** A stock count: a number or numeric text; anything else counts as none in stock. */
function asCount(value: unknown): number {
  const count = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  return typeof count === 'number' && Number.isFinite(count) ? count : 0;
}

function firstString(object: JsonObject, fields: readonly string[]): string | null {
  for (const field of fields) {
    const value = object[field];
    if (typeof value === 'string' && value !== '') return value;
  }
  return null;
}

function truncate(text: string): string {
  return text.length <= MAX_MESSAGE_LENGTH ? text : `${text.slice(0, MAX_MESSAGE_LENGTH)}…`;
}
