import { describe, expect, it } from 'vitest';
import { DuplicateFinder, hash52, readRecipients } from '../../../lambdas/core/recipients/index.ts';
import { chunked, collect } from './streams.ts';

const A = '11111111-1111-4111-8111-111111111111';
const B = '22222222-2222-4222-8222-222222222222';

async function read(lines: string[]) {
  const text = `campaign_id,first_name,last_name,email,external_id\n${lines.join('\n')}\n`;
  return collect(readRecipients(chunked(text, 11)));
}

describe('duplicates within a file', () => {
  it('flags a repeated external_id in the same campaign on the later row', async () => {
    // Prepare
    const lines = [`${A},Ann,Lee,,E1`, `${A},Bo,Ek,,E2`, `${A},Ann,Lee,,E1`];

    // Act
    const rows = await read(lines);

    // Assess
    expect(rows.map((row) => row.result.valid)).toEqual([true, true, false]);
    expect(rows[2]?.result.valid === false && rows[2].result.errors).toEqual([
      {
        code: 'duplicate',
        param: 'external_id',
        message: 'repeats row 1 (line 2): same campaign and external_id',
        line: 4,
        column: 'external_id',
      },
    ]);
  });

  it('flags a repeated email whatever its case and spaces', async () => {
    // Prepare
    const lines = [`${A},Ann,Lee,ann@example.com,`, `${A},Ann,Lee, ANN@Example.COM ,`];

    // Act
    const rows = await read(lines);

    // Assess
    expect(rows[1]?.result.valid === false && rows[1].result.errors).toMatchObject([
      { code: 'duplicate', param: 'recipient.email', line: 3, column: 'email' },
    ]);
  });

  it('never treats rows without email as duplicates of each other', async () => {
    // Prepare
    const lines = [`${A},Ann,Lee,,`, `${A},Bo,Ek,,`, `${A},Cy,Oh,,`];

    // Act
    const rows = await read(lines);

    // Assess
    expect(rows.every((row) => row.result.valid)).toBe(true);
  });

  it('allows the same person in two campaigns', async () => {
    // Prepare
    const lines = [`${A},Ann,Lee,ann@example.com,E1`, `${B},Ann,Lee,ann@example.com,E1`];

    // Act
    const rows = await read(lines);

    // Assess
    expect(rows.every((row) => row.result.valid)).toBe(true);
  });

  it('does not count an invalid earlier row: its corrected copy is not a duplicate', async () => {
    // Prepare
    const lines = [`${A},Ann,,ann@example.com,E1`, `${A},Ann,Lee,ann@example.com,E1`];

    // Act
    const rows = await read(lines);

    // Assess
    expect(rows.map((row) => row.result.valid)).toEqual([false, true]);
  });
});

describe('DuplicateFinder', () => {
  it('finds the first of 100,000 rows after the table has grown many times', () => {
    // Prepare
    const finder = new DuplicateFinder();
    for (let row = 1; row <= 100_000; row++) {
      finder.add(A, `E${row}`, `user${row}@example.com`, { row, line: row + 1 });
    }

    // Act
    const fresh = finder.find(A, 'E100001', 'user100001@example.com');
    const byId = finder.find(A, 'E1', '');
    const byEmail = finder.find(A, '', 'USER50000@example.com');

    // Assess
    expect(fresh).toBeNull();
    expect(byId).toEqual({ row: 1, line: 2, key: 'external_id' });
    expect(byEmail).toEqual({ row: 50_000, line: 50_001, key: 'email' });
  });

  it('hashes to 52-bit integers that tell similar keys apart', () => {
    // Prepare
    const keys = Array.from({ length: 100_000 }, (_, i) => `e\u0000${A}\u0000user${i}@example.com`);

    // Act
    const hashes = keys.map(hash52);

    // Assess
    expect(new Set(hashes).size).toBe(keys.length);
    expect(hashes.every((hash) => Number.isSafeInteger(hash) && hash > 0 && hash < 2 ** 52)).toBe(
      true,
    );
  });
});
