import type { GiftRequestBody } from '../../ports/gifting-api.ts';
import type { CanonicalColumn } from './columns.ts';

/**
 * THE schema of a recipient row: one entry per column, saying which API param it feeds (which is
 * also where its value goes in the body), when it is required and how it is checked. Validation
 * (`checkCandidate`) and the body (`buildBody`) both walk this one table, so what is checked is
 * exactly what is sent.
 *
 * Flow: a source row (CSV cells or a JSON Lines object) → a candidate (an API-shaped object whose
 * values are not checked yet) → `checkCandidate` → errors mapped back to the source by its
 * `ColumnOf` → `buildBody` for valid rows.
 */

export type FieldNeed =
  /** Every request needs it. */
  | 'required'
  | 'optional'
  /** Required in a direct-send request (one with `shipping_address` and `line_items`). */
  | 'direct-send'
  | 'direct-send-optional'
  /** Each item needs a `sku` or a `variant_id` (or both). */
  | 'item-id';

export type FieldKind = 'text' | 'email' | 'country_code' | 'quantity';

export interface FieldRule {
  column: CanonicalColumn;
  /**
   * The API param and the body path; `[]` stands for the item's index (`line_items[0].sku`).
   * Null for our own columns, which are never sent.
   */
  param: string | null;
  need: FieldNeed;
  kind: FieldKind;
}

export const SCHEMA: readonly FieldRule[] = [
  { column: 'campaign_id', param: 'campaign_id', need: 'required', kind: 'text' },
  { column: 'first_name', param: 'recipient.first_name', need: 'required', kind: 'text' },
  { column: 'last_name', param: 'recipient.last_name', need: 'required', kind: 'text' },
  { column: 'email', param: 'recipient.email', need: 'optional', kind: 'email' },
  { column: 'address1', param: 'shipping_address.address1', need: 'direct-send', kind: 'text' },
  {
    column: 'address2',
    param: 'shipping_address.address2',
    need: 'direct-send-optional',
    kind: 'text',
  },
  { column: 'city', param: 'shipping_address.city', need: 'direct-send', kind: 'text' },
  { column: 'region', param: 'shipping_address.region', need: 'direct-send', kind: 'text' },
  {
    column: 'postal_code',
    param: 'shipping_address.postal_code',
    need: 'direct-send',
    kind: 'text',
  },
  {
    column: 'country_code',
    param: 'shipping_address.country_code',
    need: 'direct-send',
    kind: 'country_code',
  },
  { column: 'phone', param: 'shipping_address.phone', need: 'direct-send', kind: 'text' },
  { column: 'sku', param: 'line_items[].sku', need: 'item-id', kind: 'text' },
  { column: 'variant_id', param: 'line_items[].variant_id', need: 'item-id', kind: 'text' },
  { column: 'quantity', param: 'line_items[].quantity', need: 'direct-send', kind: 'quantity' },
  { column: 'external_id', param: null, need: 'optional', kind: 'text' },
];

/** An API-shaped object whose values have not been checked yet. */
export type Candidate = Record<string, unknown>;

/** How a source names where a param came from: a CSV header as written, or a JSON path. */
export type ColumnOf = (rule: FieldRule | null, param: string) => string | null;

/** A row error before it is placed on a line. */
export interface FieldError {
  code: string;
  param: string | null;
  message: string;
  column: string | null;
}

const ITEM_PREFIX = 'line_items[].';
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const COUNTRY_CODE = /^[A-Z]{2}$/;
const INTEGER = /^[+-]?\d+$/;

interface Placed {
  rule: FieldRule;
  /** Top-level fields: the path from the candidate's root. Items: the key inside the item. */
  path: string[];
  isItem: boolean;
}

const PLACED: readonly Placed[] = SCHEMA.flatMap((rule) => {
  if (rule.param === null) return [];
  const isItem = rule.param.startsWith(ITEM_PREFIX);
  const path = isItem ? [rule.param.slice(ITEM_PREFIX.length)] : rule.param.split('.');
  return [{ rule, path, isItem }];
});
const TOP_LEVEL = PLACED.filter((field) => !field.isItem);
const ITEM_FIELDS = PLACED.filter((field) => field.isItem);
const DIRECT_SEND_FIELDS = PLACED.filter((field) => isDirectSendNeed(field.rule.need));

export function isDirectSendNeed(need: FieldNeed): boolean {
  return need === 'direct-send' || need === 'direct-send-optional' || need === 'item-id';
}

export function itemParam(rule: FieldRule, index: number): string {
  return (rule.param ?? '').replace('[]', `[${index}]`);
}

/**
 * A candidate from flat values by column (a CSV row). Blank values are left out; a row with any
 * address or item value gets both `shipping_address` and one item, so each missing direct-send field
 * is reported by name.
 */
export function candidateFromColumns(cellOf: (column: CanonicalColumn) => string): Candidate {
  const candidate: Candidate = {};
  let directSend = false;
  for (const field of PLACED) {
    const value = cellOf(field.rule.column).trim();
    if (value === '') continue;
    if (field.isItem) {
      candidate.line_items ??= [{}];
      setPath((candidate.line_items as Candidate[])[0] as Candidate, field.path, value);
    } else {
      setPath(candidate, field.path, value);
    }
    if (isDirectSendNeed(field.rule.need)) directSend = true;
  }
  if (directSend) {
    candidate.shipping_address ??= {};
    candidate.line_items ??= [{}];
  }
  return candidate;
}

export function isDirectSend(candidate: Candidate): boolean {
  return candidate.shipping_address !== undefined || candidate.line_items !== undefined;
}

/** Every problem of the candidate at once, as &Open would report them (same codes and params). */
export function checkCandidate(candidate: Candidate, columnOf: ColumnOf): FieldError[] {
  const errors: FieldError[] = [];
  const directSend = isDirectSend(candidate);
  // Worded only when a direct-send field is missing: most rows never need it.
  let reason: string | null = null;
  const because = () => {
    reason ??= becauseDirectSend(candidate, columnOf);
    return reason;
  };
  const fail = (rule: FieldRule | null, param: string, code: string, message: string) =>
    errors.push({ code, param, message, column: columnOf(rule, param) });

  for (const field of TOP_LEVEL) {
    const { rule } = field;
    if (isDirectSendNeed(rule.need) && (!directSend || !isObject(candidate.shipping_address))) {
      continue;
    }
    const param = rule.param as string;
    const problem = checkValue(rule, getPath(candidate, field.path));
    if (problem === 'missing') {
      if (rule.need === 'required') fail(rule, param, 'required', 'is required');
      if (rule.need === 'direct-send') fail(rule, param, 'required', `is required ${because()}`);
    } else if (problem !== null) {
      fail(rule, param, problem.code, problem.message);
    }
  }
  if (!directSend) return errors;

  const address = candidate.shipping_address;
  if (address === undefined) {
    fail(null, 'shipping_address', 'required', `is required together with line_items ${because()}`);
  } else if (!isObject(address)) {
    fail(null, 'shipping_address', 'invalid_format', 'must be an object with the address fields');
  }
  const items = candidate.line_items;
  if (items === undefined) {
    fail(null, 'line_items', 'required', `is required together with shipping_address ${because()}`);
  } else if (!Array.isArray(items)) {
    fail(null, 'line_items', 'invalid_format', 'must be an array of items');
  } else if (items.length === 0) {
    fail(null, 'line_items', 'required', `needs at least one item ${because()}`);
  } else {
    items.forEach((item: unknown, index) => {
      if (!isObject(item)) {
        fail(null, `line_items[${index}]`, 'invalid_format', 'must be an object');
        return;
      }
      let hasId = false;
      for (const field of ITEM_FIELDS) {
        const param = itemParam(field.rule, index);
        const problem = checkValue(field.rule, getPath(item, field.path));
        if (problem === null && field.rule.need === 'item-id') hasId = true;
        if (problem === 'missing') {
          if (field.rule.need === 'direct-send') {
            fail(field.rule, param, 'required', `is required ${because()}`);
          }
        } else if (problem !== null) {
          if (field.rule.need === 'item-id') hasId = true;
          fail(field.rule, param, problem.code, problem.message);
        }
      }
      if (!hasId) {
        const sku = ITEM_FIELDS.find((field) => field.rule.column === 'sku') as Placed;
        const variant = ITEM_FIELDS.find((field) => field.rule.column === 'variant_id') as Placed;
        const param = itemParam(sku.rule, index);
        const column = columnOf(sku.rule, param) ?? columnOf(variant.rule, param);
        errors.push({
          code: 'required',
          param,
          message: `sku or variant_id is required ${because()}`,
          column,
        });
      }
    });
  }
  return errors;
}

/**
 * The exact request body of a candidate that passed `checkCandidate`: trimmed strings, a numeric
 * quantity, no key for an empty optional value, `shipping_address`/`line_items` only in direct-send.
 */
export function buildBody(candidate: Candidate): GiftRequestBody {
  const body: Candidate = {};
  const directSend = isDirectSend(candidate);
  for (const field of TOP_LEVEL) {
    if (isDirectSendNeed(field.rule.need) && !directSend) continue;
    const value = getPath(candidate, field.path);
    if (!isBlank(value)) setPath(body, field.path, toBodyValue(field.rule, value));
  }
  if (directSend) {
    body.line_items = (candidate.line_items as Candidate[]).map((item) => {
      const built: Candidate = {};
      for (const field of ITEM_FIELDS) {
        const value = getPath(item, field.path);
        if (!isBlank(value)) setPath(built, field.path, toBodyValue(field.rule, value));
      }
      return built;
    });
  }
  // The table above mirrors GiftRequestBody field for field; tests pin the exact shapes.
  return body as unknown as GiftRequestBody;
}

type Problem = 'missing' | { code: string; message: string } | null;

function checkValue(rule: FieldRule, value: unknown): Problem {
  if (isBlank(value)) return 'missing';
  if (rule.kind === 'quantity') {
    const quantity = parseQuantity(value);
    if (quantity === null) {
      return { code: 'invalid_format', message: `must be a whole number (got ${quote(value)})` };
    }
    if (quantity < 1) return { code: 'invalid', message: `must be at least 1 (got ${quantity})` };
    return null;
  }
  if (typeof value !== 'string') {
    return { code: 'invalid_format', message: `must be a string (got ${JSON.stringify(value)})` };
  }
  const text = value.trim();
  if (rule.kind === 'email' && !EMAIL.test(text)) {
    return { code: 'invalid_format', message: `must be an email address (got ${quote(text)})` };
  }
  if (rule.kind === 'country_code' && !COUNTRY_CODE.test(text)) {
    const example = /^[a-z]{2}$/i.test(text) ? text.toUpperCase() : 'IE';
    return {
      code: 'invalid_format',
      message: `must be an ISO 3166-1 alpha-2 code in uppercase, e.g. "${example}" (got ${quote(text)})`,
    };
  }
  return null;
}

/** An integer from a JSON number or a numeric string; null when it is not a whole number. */
export function parseQuantity(value: unknown): number | null {
  if (typeof value === 'number') return Number.isSafeInteger(value) ? value : null;
  if (typeof value !== 'string' || !INTEGER.test(value.trim())) return null;
  const quantity = Number(value.trim());
  return Number.isSafeInteger(quantity) ? quantity : null;
}

function toBodyValue(rule: FieldRule, value: unknown): string | number {
  if (rule.kind === 'quantity') return parseQuantity(value) as number;
  return (value as string).trim();
}

function becauseDirectSend(candidate: Candidate, columnOf: ColumnOf): string {
  const names = new Set<string>();
  for (const field of DIRECT_SEND_FIELDS) {
    if (field.isItem) {
      const items = Array.isArray(candidate.line_items) ? candidate.line_items : [];
      items.forEach((item: unknown, index) => {
        if (isObject(item) && !isBlank(getPath(item, field.path))) {
          const param = itemParam(field.rule, index);
          names.add(columnOf(field.rule, param) ?? param);
        }
      });
    } else if (!isBlank(getPath(candidate, field.path))) {
      const param = field.rule.param as string;
      names.add(columnOf(field.rule, param) ?? param);
    }
  }
  if (names.size === 0) {
    for (const key of ['shipping_address', 'line_items']) {
      if (candidate[key] !== undefined) names.add(key);
    }
  }
  const listed = [...names].slice(0, 4).map((name) => `"${name}"`);
  if (names.size > 4) listed.push('…');
  return `because the row is direct-send (it has ${listed.join(', ')})`;
}

export function isBlank(value: unknown): boolean {
  return (
    value === undefined || value === null || (typeof value === 'string' && value.trim() === '')
  );
}

function isObject(value: unknown): value is Candidate {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function getPath(root: Candidate, path: readonly string[]): unknown {
  let node: unknown = root;
  for (const key of path) {
    if (!isObject(node)) return undefined;
    node = node[key];
  }
  return node;
}

function setPath(root: Candidate, path: readonly string[], value: unknown): void {
  let node = root;
  for (const key of path.slice(0, -1)) {
    if (!isObject(node[key])) node[key] = {};
    node = node[key] as Candidate;
  }
  node[path[path.length - 1] as string] = value;
}

function quote(value: unknown): string {
  return typeof value === 'string' ? `"${value}"` : JSON.stringify(value);
}
