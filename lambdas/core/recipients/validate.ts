import type { GiftRequestBody } from '../../ports/gifting-api.ts';
import type { CanonicalColumn, HeaderMapping } from './columns.ts';
import type { RowError } from './errors.ts';
import {
  buildBody,
  type Candidate,
  type ColumnOf,
  candidateFromColumns,
  checkCandidate,
  type FieldError,
  SCHEMA,
} from './schema.ts';

/** What the results file echoes for a row, whatever became of it (trimmed; '' when absent). */
export interface RowSource {
  campaign_id: string;
  first_name: string;
  last_name: string;
  email: string;
  external_id: string;
}

export type RowResult =
  | { valid: true; body: GiftRequestBody }
  | { valid: false; errors: RowError[] };

export interface RecipientRow {
  /** 1-based data row (the header and blank lines are not counted). */
  row: number;
  /** Physical line the row starts on (1 = a CSV's header line). */
  line: number;
  externalId: string | null;
  source: RowSource;
  result: RowResult;
}

/** A row checked on its own; duplicates across rows are found by the reader. */
export interface CheckedRow {
  source: RowSource;
  errors: FieldError[];
  body: GiftRequestBody | null;
  /** JSON Lines: keys the schema does not know (`notes`, `line_items[].price`), for a warning. */
  unknownKeys?: string[];
}

/** A CSV row: cells by header position → candidate → errors against the header as written. */
export function checkCsvRow(
  cells: readonly string[],
  header: HeaderMapping,
  defaultCampaignId: string | null,
): CheckedRow {
  const cellOf = (column: CanonicalColumn): string => {
    const index = header.indexOf[column];
    const value = index === undefined ? '' : (cells[index] ?? '').trim();
    return column === 'campaign_id' && value === '' ? (defaultCampaignId ?? '') : value;
  };
  const candidate = candidateFromColumns(cellOf);
  const columnOf: ColumnOf = (rule) =>
    rule === null ? null : (header.written[rule.column] ?? null);
  const errors = checkCandidate(candidate, columnOf);
  const extra = cells.length - header.columnAt.length;
  if (extra > 0 && cells.slice(header.columnAt.length).some((cell) => cell.trim() !== '')) {
    // Most often an unquoted delimiter inside a value, which shifts every cell after it: sending
    // such a row could ship to a wrong address.
    errors.push({
      code: 'extra_cells',
      param: null,
      message: `has ${cells.length} cells but the header has ${header.columnAt.length}; is a value with a delimiter missing its quotes?`,
      column: null,
    });
  }
  const source: RowSource = {
    campaign_id: cellOf('campaign_id'),
    first_name: cellOf('first_name'),
    last_name: cellOf('last_name'),
    email: cellOf('email'),
    external_id: cellOf('external_id'),
  };
  return { source, errors, body: errors.length === 0 ? buildBody(candidate) : null };
}

/** A JSON Lines row: the object is the candidate; errors point at JSON paths. */
export function checkJsonRow(text: string, defaultCampaignId: string | null): CheckedRow {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    return invalidJson(`is not valid JSON (${reason})`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    return invalidJson('must be a JSON object like {"campaign_id": …, "recipient": {…}}');
  }
  const object = parsed as Candidate;
  const { external_id: externalId, ...candidate } = object;
  if (isEmptyText(candidate.campaign_id) && defaultCampaignId !== null) {
    candidate.campaign_id = defaultCampaignId;
  }
  const errors = checkCandidate(candidate, (_rule, param) => param);
  if (externalId !== undefined && externalId !== null && typeof externalId !== 'string') {
    errors.push({
      code: 'invalid_format',
      param: 'external_id',
      message: 'must be a string',
      column: 'external_id',
    });
  }
  const recipient = (typeof candidate.recipient === 'object' && candidate.recipient) || {};
  const source: RowSource = {
    campaign_id: echo(candidate.campaign_id),
    first_name: echo((recipient as Candidate).first_name),
    last_name: echo((recipient as Candidate).last_name),
    email: echo((recipient as Candidate).email),
    external_id: echo(externalId),
  };
  return {
    source,
    errors,
    body: errors.length === 0 ? buildBody(candidate) : null,
    unknownKeys: unknownKeys(object),
  };
}

const KNOWN_PATHS = new Set([
  'external_id',
  ...SCHEMA.flatMap((rule) => (rule.param === null ? [] : [rule.param])),
]);
const KNOWN_OBJECTS = new Set(['recipient', 'shipping_address', 'line_items[]']);

/** Paths of keys the schema has no rule for; `[]` stands for any item. */
export function unknownKeys(object: Candidate, prefix = ''): string[] {
  const unknown: string[] = [];
  for (const [key, value] of Object.entries(object)) {
    const path = `${prefix}${key}`;
    if (KNOWN_PATHS.has(path)) continue;
    if (KNOWN_OBJECTS.has(path) && typeof value === 'object' && value !== null) {
      unknown.push(...unknownKeys(value as Candidate, `${path}.`));
    } else if (KNOWN_OBJECTS.has(`${path}[]`) && Array.isArray(value)) {
      for (const item of value) {
        if (typeof item === 'object' && item !== null) {
          unknown.push(...unknownKeys(item as Candidate, `${path}[].`));
        }
      }
    } else if (!KNOWN_OBJECTS.has(path)) {
      unknown.push(path);
    }
  }
  return unknown;
}

function invalidJson(message: string): CheckedRow {
  return {
    source: { campaign_id: '', first_name: '', last_name: '', email: '', external_id: '' },
    errors: [{ code: 'invalid_json', param: null, message, column: null }],
    body: null,
  };
}

function isEmptyText(value: unknown): boolean {
  return (
    value === undefined || value === null || (typeof value === 'string' && value.trim() === '')
  );
}

function echo(value: unknown): string {
  if (typeof value === 'string') return value.trim();
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return '';
}
