/**
 * The fault suite's yardstick: a recipient file whose every row's fate is known in advance, and an
 * audit that holds the results file, the ledger and the sandbox's own record of the gifts it created
 * against each other. It shares nothing with the pipeline but the results header.
 */
import { DEMO_CAMPAIGNS } from '../../sandbox/index.ts';
import type { ResultsLine } from './results-csv.ts';

/** What a row of the generated file is meant to become when nothing goes wrong. */
export type RowKind = 'valid' | 'invalid' | 'rejected';

export interface PlannedRow {
  row: number;
  externalId: string;
  email: string;
  kind: RowKind;
}

export interface RecipientFile {
  csv: string;
  rows: PlannedRow[];
}

const HEADER =
  'campaign_id,external_id,first_name,last_name,email,address1,address2,city,region,postal_code,country_code,phone,sku,variant_id,quantity';
const ADDRESS = '1 Main St,,Dublin,Leinster,D01 1AA';
const PHONE = '+353871234567';

/**
 * `count` rows with distinct external ids and emails: mostly choice-mode gifts, one in twelve a
 * direct-send hoodie, one in twenty-four invalid (a lowercase country code, caught locally) and one
 * in twenty-four refused by &Open (a SKU the campaign does not have: 422 invalid_reference).
 */
export function recipientFile(count: number, tag: string): RecipientFile {
  const lines = [HEADER];
  const rows: PlannedRow[] = [];
  for (let row = 1; row <= count; row += 1) {
    const id = String(row).padStart(4, '0');
    const externalId = `${tag}-${id}`;
    const email = `${tag}.${id}@example.com`.toLowerCase();
    const person = `${externalId},Fault,Row${id},${email}`;
    let kind: RowKind = 'valid';
    if (row % 24 === 5) {
      kind = 'invalid';
      lines.push(`${DEMO_CAMPAIGNS.directSend},${person},${ADDRESS},ie,${PHONE},HOODIE-M-BLK,,1`);
    } else if (row % 24 === 17) {
      kind = 'rejected';
      lines.push(`${DEMO_CAMPAIGNS.directSend},${person},${ADDRESS},IE,${PHONE},HOODIE-XXL-PNK,,1`);
    } else if (row % 12 === 0) {
      lines.push(`${DEMO_CAMPAIGNS.directSend},${person},${ADDRESS},IE,${PHONE},HOODIE-M-BLK,,1`);
    } else {
      lines.push(`${DEMO_CAMPAIGNS.choice},${person},,,,,,,,,,`);
    }
    rows.push({ row, externalId, email, kind });
  }
  return { csv: `${lines.join('\r\n')}\r\n`, rows };
}

/** A gift as the sandbox recorded it (journal entry, in-process or from GET /_sandbox/journal). */
export interface SandboxGift {
  id: string;
  body: unknown;
  fault?: string;
}

export interface AuditInput {
  planned: PlannedRow[];
  /** The results file, parsed; null when there is none (the batch never completed). */
  results: ResultsLine[] | null;
  /** Every gift the sandbox created during the scenario (a fresh sandbox: all of them are ours). */
  gifts: SandboxGift[];
  /** The ledger's state of every row of the batch, after the batch ended. */
  ledgerStates: Map<number, string>;
  deadLetters: number;
}

export interface Tally {
  rows: number;
  created: number;
  rejected: number;
  invalid: number;
  unknown: number;
  /** Recipients with more than one gift not explained by an `unknown` row. Must be 0. */
  duplicates: number;
  /** Rows without an outcome in the results, rows left pending/sending, dead-lettered messages. */
  lost: number;
}

export interface Audit {
  tally: Tally;
  /** Each names the invariant and the rows; empty when every invariant holds. */
  violations: string[];
}

const OUTCOMES = ['created', 'rejected', 'invalid', 'unknown'] as const;
const ALLOWED: Record<RowKind, readonly string[]> = {
  valid: ['created', 'unknown'],
  rejected: ['rejected', 'unknown'],
  invalid: ['invalid'],
};

/** Checks the suite's invariants for one scenario. */
export function auditScenario(input: AuditInput): Audit {
  const violations: string[] = [];
  const fail = (invariant: string, rows: (number | string)[]) => {
    if (rows.length > 0) violations.push(`${invariant}: rows ${listOf(rows)}`);
  };
  const tally: Tally = {
    rows: input.planned.length,
    created: 0,
    rejected: 0,
    invalid: 0,
    unknown: 0,
    duplicates: 0,
    lost: 0,
  };

  // 1. Every input row has exactly one outcome in the results file, in input order.
  const byExternalId = new Map<string, ResultsLine[]>();
  for (const line of input.results ?? []) {
    const list = byExternalId.get(line.external_id) ?? [];
    list.push(line);
    byExternalId.set(line.external_id, list);
  }
  if (input.results === null) violations.push('no results file: the batch did not complete');
  const missing: number[] = [];
  const repeated: number[] = [];
  const noOutcome: number[] = [];
  const misplaced: number[] = [];
  const unfitting: string[] = [];
  const outcomeOf = new Map<number, string>();
  for (const planned of input.planned) {
    const lines = byExternalId.get(planned.externalId) ?? [];
    if (lines.length === 0) {
      missing.push(planned.row);
      continue;
    }
    if (lines.length > 1) repeated.push(planned.row);
    const line = lines[0] as ResultsLine;
    if (line.row !== String(planned.row)) misplaced.push(planned.row);
    if (!(OUTCOMES as readonly string[]).includes(line.outcome)) {
      noOutcome.push(planned.row);
      continue;
    }
    outcomeOf.set(planned.row, line.outcome);
    tally[line.outcome as (typeof OUTCOMES)[number]] += 1;
    if (!ALLOWED[planned.kind].includes(line.outcome)) {
      unfitting.push(`${planned.row} (${planned.kind} row ended ${line.outcome})`);
    }
  }
  if (input.results !== null) fail('a row is missing from the results file', missing);
  fail('a row appears more than once in the results file', repeated);
  fail('a row has no outcome', noOutcome);
  fail('a results line is not at its input position', misplaced);
  fail('an outcome does not fit the row (a row burnt or mis-sent)', unfitting);
  const planned = new Set(input.planned.map((row) => row.externalId));
  fail(
    'the results file has lines for no input row',
    [...byExternalId.keys()].filter((id) => !planned.has(id)),
  );

  // 2. The results and the sandbox agree, gift by gift.
  const rowOfEmail = new Map(input.planned.map((row) => [row.email, row]));
  const giftsOfRow = new Map<number, SandboxGift[]>();
  const strangers: string[] = [];
  for (const gift of input.gifts) {
    const row = rowOfEmail.get(recipientEmailOf(gift.body));
    if (row === undefined) {
      strangers.push(gift.id);
      continue;
    }
    giftsOfRow.set(row.row, [...(giftsOfRow.get(row.row) ?? []), gift]);
  }
  fail('the sandbox created a gift for no row of the file (gift ids)', strangers);
  const createdWithoutGift: number[] = [];
  const giftOnUndecided: string[] = [];
  for (const line of input.results ?? []) {
    const row = Number(line.row);
    const gifts = giftsOfRow.get(row) ?? [];
    if (line.outcome === 'created' && !gifts.some((gift) => gift.id === line.gift_request_id)) {
      createdWithoutGift.push(row);
    }
    if (gifts.length > 0 && line.outcome !== 'created' && line.outcome !== 'unknown') {
      giftOnUndecided.push(`${row} (${line.outcome}, ${gifts.length} gift(s))`);
    }
  }
  fail("a created row's gift_request_id is not a gift of its recipient", createdWithoutGift);
  fail('the sandbox created a gift for a row that is neither created nor unknown', giftOnUndecided);

  // 3. Nobody got two gifts, unless their row says unknown (a person decides those).
  const twice: string[] = [];
  for (const [row, gifts] of giftsOfRow) {
    if (gifts.length < 2) continue;
    if (outcomeOf.get(row) === 'unknown') continue;
    tally.duplicates += 1;
    twice.push(`${row} (${gifts.length} gifts)`);
  }
  fail('a recipient got more than one gift', twice);

  // 4. Nothing lost: every row decided in the ledger, nothing in the dead-letter queue.
  const undecided = [...input.ledgerStates]
    .filter(([, state]) => state === 'pending' || state === 'sending')
    .map(([row, state]) => `${row} (${state})`);
  fail('a row was left undecided in the ledger', undecided);
  if (input.deadLetters > 0) {
    violations.push(`the dead-letter queue holds ${input.deadLetters} message(s)`);
  }
  tally.lost =
    (input.results === null ? 0 : missing.length) +
    noOutcome.length +
    undecided.length +
    input.deadLetters;
  return { tally, violations };
}

function recipientEmailOf(body: unknown): string {
  const recipient = (body as { recipient?: { email?: unknown } } | null)?.recipient;
  return typeof recipient?.email === 'string' ? recipient.email.toLowerCase() : '';
}

function listOf(items: (number | string)[]): string {
  const shown = items.slice(0, 12).join(', ');
  return items.length > 12 ? `${shown} … (${items.length} in all)` : shown;
}
