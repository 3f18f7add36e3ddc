import { describe, expect, it } from 'vitest';
import { RESULTS_COLUMNS } from '../../../lambdas/core/results.ts';
import { auditScenario, recipientFile, type SandboxGift } from '../../support/fault-audit.ts';
import type { ResultsLine } from '../../support/results-csv.ts';

/** A results line for a planned row, with the outcome (and gift) given. */
function line(row: number, externalId: string, outcome: string, giftId = ''): ResultsLine {
  const blank = Object.fromEntries(RESULTS_COLUMNS.map((c) => [c, ''])) as ResultsLine;
  return { ...blank, row: String(row), external_id: externalId, outcome, gift_request_id: giftId };
}

const giftFor = (id: string, email: string): SandboxGift => ({
  id,
  body: { recipient: { email } },
});

describe('the fault suite audit', () => {
  // Rows 1–4 of the generated file are valid; row 5 is invalid.
  const file = recipientFile(5, 'T');
  const planned = file.rows;
  const email = (row: number) => planned[row - 1]?.email ?? '';

  function everythingRight() {
    return {
      planned,
      results: [
        line(1, 'T-0001', 'created', 'g1'),
        line(2, 'T-0002', 'created', 'g2'),
        line(3, 'T-0003', 'unknown'),
        line(4, 'T-0004', 'created', 'g4'),
        line(5, 'T-0005', 'invalid'),
      ],
      gifts: [giftFor('g1', email(1)), giftFor('g2', email(2)), giftFor('g4', email(4))],
      ledgerStates: new Map([
        [1, 'created'],
        [2, 'created'],
        [3, 'unknown'],
        [4, 'created'],
        [5, 'invalid'],
      ]),
      deadLetters: 0,
    };
  }

  it('passes a scenario where every invariant holds, and tallies it', () => {
    // Act
    const audit = auditScenario(everythingRight());

    // Assess
    expect(audit.violations).toEqual([]);
    expect(audit.tally).toEqual({
      rows: 5,
      created: 3,
      rejected: 0,
      invalid: 1,
      unknown: 1,
      duplicates: 0,
      lost: 0,
    });
  });

  it('counts a second gift as a duplicate, unless the row says unknown', () => {
    // Prepare
    const input = everythingRight();
    input.gifts.push(
      giftFor('g1-again', email(1)),
      giftFor('g3', email(3)),
      giftFor('g3b', email(3)),
    );

    // Act
    const audit = auditScenario(input);

    // Assess
    expect(audit.tally.duplicates).toBe(1);
    expect(audit.violations).toEqual(['a recipient got more than one gift: rows 1 (2 gifts)']);
  });

  it('names lost rows: missing from the results, left pending, dead-lettered', () => {
    // Prepare
    const input = everythingRight();
    input.results = input.results.filter((result) => result.row !== '4');
    input.ledgerStates.set(4, 'pending');
    input.deadLetters = 1;

    // Act
    const audit = auditScenario(input);

    // Assess
    expect(audit.tally.lost).toBe(3);
    expect(audit.violations).toEqual([
      'a row is missing from the results file: rows 4',
      'a row was left undecided in the ledger: rows 4 (pending)',
      'the dead-letter queue holds 1 message(s)',
    ]);
  });

  it('catches a created row whose gift the sandbox never made, and a burnt valid row', () => {
    // Prepare
    const input = everythingRight();
    input.results[1] = line(2, 'T-0002', 'created', 'g-nowhere');
    input.results[3] = line(4, 'T-0004', 'rejected');

    // Act
    const audit = auditScenario(input);

    // Assess
    expect(audit.violations).toEqual([
      'an outcome does not fit the row (a row burnt or mis-sent): rows 4 (valid row ended rejected)',
      "a created row's gift_request_id is not a gift of its recipient: rows 2",
      'the sandbox created a gift for a row that is neither created nor unknown: rows 4 (rejected, 1 gift(s))',
    ]);
  });
});
