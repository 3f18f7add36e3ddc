/**
 * The 2026-05 contract for `POST /gift_requests` bodies and the shared error model, as the three
 * documents in shared/andopen-api/ state it. Pure: the catalogue is reached through `CatalogueLookup`.
 */
import type { ErrorEntry, ErrorType } from './types.ts';

export const API_VERSION = '2026-05';

export function apiError(
  type: ErrorType,
  code: string,
  message: string,
  param?: string,
): ErrorEntry {
  return param === undefined ? { type, code, message } : { type, code, message, param };
}

export function errorBody(...errors: ErrorEntry[]): { errors: ErrorEntry[] } {
  return { errors };
}

/** What validation needs to know about a campaign of the caller's tenant. */
export interface CampaignFacts {
  status: string;
  invitationMethod: string;
  /** A variant visible in the campaign's (warehouse-filtered) catalogue, enabled or not. */
  variantBySku(sku: string): VariantFacts | undefined;
  variantById(id: string): VariantFacts | undefined;
}

export interface VariantFacts {
  id: string;
  sku: string;
  enabled: boolean;
  /** Units that can still be sent from this campaign. */
  available: number;
}

export interface CatalogueLookup {
  /** Undefined for an unknown id and for another tenant's campaign alike. */
  campaign(id: string): CampaignFacts | undefined;
}

export interface RecipientData {
  first_name: string;
  last_name: string;
  email: string | null;
}

export interface AddressData {
  address1: string;
  address2: string | null;
  city: string;
  region: string;
  postal_code: string;
  country_code: string;
  phone: string;
}

export interface ItemData {
  variantId: string;
  sku: string;
  quantity: number;
}

/** A body that passed every check: what the store needs to create the gift request. */
export interface CreatePlan {
  campaignId: string;
  recipient: RecipientData;
  /** Null in choice-mode. */
  directSend: { address: AddressData; items: ItemData[] } | null;
}

export type CreateCheck = { ok: true; plan: CreatePlan } | { ok: false; errors: ErrorEntry[] };

const ADDRESS_FIELDS = [
  'address1',
  'city',
  'region',
  'postal_code',
  'country_code',
  'phone',
] as const;
const COUNTRY_CODE = /^[A-Z]{2}$/;
// Deliberately loose, as servers are: something@something.tld, no spaces.
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
// E.164-ish after removing the usual separators. &Open also checks the number against the
// destination country; the sandbox does not model numbering plans.
const PHONE = /^\+?\d{6,15}$/;

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const required = (param: string) => apiError('validation_error', 'required', 'is required', param);
const invalidFormat = (param: string, message: string) =>
  apiError('validation_error', 'invalid_format', message, param);
const invalid = (param: string | undefined, message: string) =>
  apiError('validation_error', 'invalid', message, param);

/** Checks a parsed JSON object; every problem is reported at once, as &Open does. */
export function checkCreateBody(body: Json, catalogue: CatalogueLookup): CreateCheck {
  const errors: ErrorEntry[] = [];

  // 1. The campaign. Unknown and other-tenant ids are the same answer: no param, by the contract.
  const campaignId = requiredString(body, 'campaign_id', 'campaign_id', errors);
  let campaign: CampaignFacts | undefined;
  if (campaignId !== undefined) {
    campaign = catalogue.campaign(campaignId);
    if (campaign === undefined) {
      errors.push(invalid(undefined, 'campaign_id does not exist'));
    } else if (campaign.status !== 'available') {
      errors.push(invalid('campaign_id', `campaign is ${campaign.status} and takes no new gifts`));
      campaign = undefined;
    }
  }

  // 2. The recipient.
  const recipient = checkRecipient(body.recipient, errors);

  // 3. Direct-send: both fields or neither, and never an explicit null.
  const hasAddress = Object.hasOwn(body, 'shipping_address');
  const hasItems = Object.hasOwn(body, 'line_items');
  if (hasAddress && body.shipping_address === null) {
    errors.push(invalid('shipping_address', 'must not be null; omit it for a choice-mode request'));
  }
  if (hasItems && body.line_items === null) {
    errors.push(invalid('line_items', 'must not be null; omit it for a choice-mode request'));
  }
  if (hasAddress && !hasItems) {
    errors.push(invalid('line_items', 'must be sent together with shipping_address'));
  }
  if (hasItems && !hasAddress) {
    errors.push(invalid('shipping_address', 'must be sent together with line_items'));
  }
  const directSend = hasAddress || hasItems;
  if (
    directSend &&
    campaign !== undefined &&
    campaign.invitationMethod !== 'sender_provided_address'
  ) {
    errors.push(
      invalid(
        'campaign_id',
        `campaign's invitation method is ${campaign.invitationMethod}; direct-send requires sender_provided_address`,
      ),
    );
    campaign = undefined;
  }
  const address =
    hasAddress && body.shipping_address !== null
      ? checkAddress(body.shipping_address, errors)
      : undefined;
  const items =
    hasItems && body.line_items !== null
      ? checkItems(body.line_items, campaign, errors)
      : undefined;

  if (errors.length > 0) return { ok: false, errors };
  // No errors implies every piece was read (a missing one would have pushed an error).
  if (campaignId === undefined || recipient === undefined) throw new Error('unreachable');
  if (!directSend) return { ok: true, plan: { campaignId, recipient, directSend: null } };
  if (address === undefined || items === undefined) throw new Error('unreachable');
  return { ok: true, plan: { campaignId, recipient, directSend: { address, items } } };
}

/** A required string: absent, null or blank → `required`; another JSON type → `invalid_format`. */
function requiredString(
  object: Json,
  key: string,
  param: string,
  errors: ErrorEntry[],
): string | undefined {
  const value = object[key];
  if (value === undefined || value === null || (typeof value === 'string' && value.trim() === '')) {
    errors.push(required(param));
    return undefined;
  }
  if (typeof value !== 'string') {
    errors.push(invalidFormat(param, 'must be a string'));
    return undefined;
  }
  return value;
}

/** An optional string: absent, null or blank reads as not given. */
function optionalString(
  object: Json,
  key: string,
  param: string,
  errors: ErrorEntry[],
): string | null | undefined {
  const value = object[key];
  if (value === undefined || value === null) return null;
  if (typeof value !== 'string') {
    errors.push(invalidFormat(param, 'must be a string'));
    return undefined;
  }
  return value.trim() === '' ? null : value;
}

function checkRecipient(value: unknown, errors: ErrorEntry[]): RecipientData | undefined {
  if (value === undefined || value === null) {
    errors.push(required('recipient'));
    return undefined;
  }
  if (!isObject(value)) {
    errors.push(invalidFormat('recipient', 'must be an object'));
    return undefined;
  }
  const first_name = requiredString(value, 'first_name', 'recipient.first_name', errors);
  const last_name = requiredString(value, 'last_name', 'recipient.last_name', errors);
  // Optional in 2026-05; a blank one reads as "not given" (the redemption flow collects it).
  let email = optionalString(value, 'email', 'recipient.email', errors);
  if (typeof email === 'string' && !EMAIL.test(email)) {
    errors.push(invalidFormat('recipient.email', 'must be an email address'));
    email = undefined;
  }
  if (first_name === undefined || last_name === undefined || email === undefined) return undefined;
  return { first_name, last_name, email };
}

function checkAddress(value: unknown, errors: ErrorEntry[]): AddressData | undefined {
  if (!isObject(value)) {
    errors.push(invalidFormat('shipping_address', 'must be an object'));
    return undefined;
  }
  const read: Partial<Record<(typeof ADDRESS_FIELDS)[number], string>> = {};
  let complete = true;
  for (const field of ADDRESS_FIELDS) {
    const text = requiredString(value, field, `shipping_address.${field}`, errors);
    if (text === undefined) complete = false;
    else read[field] = text;
  }
  const address2 = optionalString(value, 'address2', 'shipping_address.address2', errors);
  if (address2 === undefined) complete = false;
  // Lowercase is rejected at the boundary even though &Open's model would normalise it.
  if (read.country_code !== undefined && !COUNTRY_CODE.test(read.country_code)) {
    errors.push(
      invalidFormat(
        'shipping_address.country_code',
        'must be an ISO 3166-1 alpha-2 country code in uppercase',
      ),
    );
    complete = false;
  }
  if (read.phone !== undefined && !PHONE.test(read.phone.replace(/[\s\-().]/g, ''))) {
    errors.push(invalidFormat('shipping_address.phone', 'must be a phone number'));
    complete = false;
  }
  const { address1, city, region, postal_code, country_code, phone } = read;
  if (
    !complete ||
    address1 === undefined ||
    city === undefined ||
    region === undefined ||
    postal_code === undefined ||
    country_code === undefined ||
    phone === undefined ||
    address2 === undefined
  ) {
    return undefined;
  }
  return { address1, address2, city, region, postal_code, country_code, phone };
}

/**
 * Checks each item's shape and, when the campaign can take a direct-send, resolves it against the
 * campaign's catalogue and its stock. References are only meaningful inside a usable campaign, so
 * with an unknown, archived or choice campaign only the shapes are checked.
 */
function checkItems(
  value: unknown,
  campaign: CampaignFacts | undefined,
  errors: ErrorEntry[],
): ItemData[] | undefined {
  if (!Array.isArray(value)) {
    errors.push(invalidFormat('line_items', 'must be an array'));
    return undefined;
  }
  if (value.length === 0) {
    errors.push(invalid('line_items', 'must contain at least one item'));
    return undefined;
  }
  const items: ItemData[] = [];
  const requestedByVariant = new Map<string, number>();
  let complete = true;
  value.forEach((item: unknown, index) => {
    const at = `line_items[${index}]`;
    if (!isObject(item)) {
      errors.push(invalidFormat(at, 'must be an object'));
      complete = false;
      return;
    }
    const sku = optionalString(item, 'sku', `${at}.sku`, errors);
    const variantId = optionalString(item, 'variant_id', `${at}.variant_id`, errors);
    const quantity = checkQuantity(item.quantity, `${at}.quantity`, errors);
    if (sku === null && variantId === null) {
      errors.push(invalid(at, 'must name a variant: give a sku or a variant_id'));
    }
    if (sku === undefined || variantId === undefined || (sku === null && variantId === null)) {
      complete = false;
      return;
    }
    if (campaign === undefined) {
      complete = false;
      return;
    }
    const bySku = resolve(sku, (s) => campaign.variantBySku(s), `${at}.sku`, errors);
    const byId = resolve(variantId, (id) => campaign.variantById(id), `${at}.variant_id`, errors);
    if (bySku === undefined || byId === undefined) {
      complete = false;
      return;
    }
    if (bySku !== null && byId !== null && bySku.id !== byId.id) {
      errors.push(invalid(at, 'sku and variant_id name different variants'));
      complete = false;
      return;
    }
    const variant = bySku ?? byId;
    if (variant === null || quantity === undefined) {
      complete = false;
      return;
    }
    // Several items may draw on one variant: the stock must cover them all.
    const requested = (requestedByVariant.get(variant.id) ?? 0) + quantity;
    requestedByVariant.set(variant.id, requested);
    if (requested > variant.available) {
      const param = sku !== null ? `${at}.sku` : `${at}.variant_id`;
      const left = variant.available === 0 ? 'no stock left' : `only ${variant.available} left`;
      errors.push(apiError('validation_error', 'out_of_stock', `is out of stock (${left})`, param));
      complete = false;
      return;
    }
    items.push({ variantId: variant.id, sku: variant.sku, quantity });
  });
  return complete ? items : undefined;
}

/** Null when not given; undefined after pushing `invalid_reference` (unknown or disabled). */
function resolve(
  key: string | null,
  find: (key: string) => VariantFacts | undefined,
  param: string,
  errors: ErrorEntry[],
): VariantFacts | null | undefined {
  if (key === null) return null;
  const variant = find(key);
  if (variant === undefined || !variant.enabled) {
    errors.push(
      apiError('validation_error', 'invalid_reference', 'matches no enabled variant', param),
    );
    return undefined;
  }
  return variant;
}

function checkQuantity(value: unknown, param: string, errors: ErrorEntry[]): number | undefined {
  if (value === undefined || value === null) {
    errors.push(required(param));
    return undefined;
  }
  if (typeof value !== 'number' || !Number.isInteger(value)) {
    errors.push(invalidFormat(param, 'must be an integer'));
    return undefined;
  }
  if (value < 1) {
    errors.push(invalid(param, 'must be at least 1'));
    return undefined;
  }
  return value;
}
