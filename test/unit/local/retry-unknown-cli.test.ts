import { InvalidArgumentError } from 'commander';
import { describe, expect, it } from 'vitest';
import type { RowRecord } from '../../../lambdas/ports/ledger.ts';
import { describeUnknownRow, parseRowList } from '../../../local/cli/commands/retry-unknown.ts';

describe('retry-unknown --rows', () => {
  it('reads single rows and ranges, as the results file numbers them', () => {
    // Act
    const rows = parseRowList('3, 17,20-22');

    // Assess
    expect(rows).toEqual([3, 17, 20, 21, 22]);
  });

  it.each([
    ['0', 'not a row number'],
    ['3,,4', 'not a row number'],
    ['x', 'not a row number'],
    ['-3', 'not a row number'],
    ['9-5', 'backwards'],
    ['1-200000', 'too many'],
  ])('refuses %s with a message saying why', (value, why) => {
    // Act
    const parse = () => parseRowList(value);

    // Assess
    expect(parse).toThrow(InvalidArgumentError);
    expect(parse).toThrow(why);
  });
});

describe('an unknown row as retry-unknown shows it', () => {
  it('names the row, the recipient, why, the Request-Id to quote and since when', () => {
    // Prepare
    const row = {
      row: 17,
      echo: {
        externalId: 'E-17',
        campaignId: 'cmp',
        firstName: 'Alice',
        lastName: 'Smith',
        email: 'alice@example.com',
      },
      unknownReason: 'HTTP 504 on POST',
      requestId: 'req_504',
      updatedAt: '2026-11-22T10:00:00.000Z',
    } as RowRecord;

    // Act
    const line = describeUnknownRow(row);

    // Assess
    expect(line).toBe(
      'row 17: Alice Smith (external_id E-17, alice@example.com): HTTP 504 on POST; Request-Id req_504; since 2026-11-22T10:00:00.000Z',
    );
  });
});
