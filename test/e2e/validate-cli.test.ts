import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { type CliRun, runCli } from '../support/cli.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const FIXTURES = 'test/fixtures/recipients';
const CAMPAIGN = '11111111-1111-4111-8111-111111111111';
const scratch = mkdtempSync(join(tmpdir(), 'gift-batch-validate-'));

afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** `gift-batch validate …` exactly as a user runs it. */
function giftBatch(...args: string[]): Promise<CliRun> {
  return runCli(['validate', ...args], { cwd: ROOT });
}

describe('gift-batch validate', () => {
  it('exits 0 and summarises a file whose rows are all valid', async () => {
    // Prepare
    const file = `${FIXTURES}/all-valid.csv`;

    // Act
    const run = await giftBatch(file, '--campaign', CAMPAIGN);

    // Assess
    expect(run.code).toBe(0);
    expect(run.stdout).toBe(`${file}: CSV, UTF-8, delimiter ";"\n2 rows: 2 valid, 0 invalid\n`);
    expect(run.stderr).toBe('');
  });

  it('exits 1 on the example file and prints each error on one line', async () => {
    // Prepare
    const file = 'examples/recipients.csv';

    // Act
    const run = await giftBatch(file);

    // Assess
    expect(run.code).toBe(1);
    const lines = run.stdout.split('\n');
    expect(lines.slice(0, 3)).toEqual([
      'examples/recipients.csv: CSV, UTF-8, delimiter ","',
      '12 rows: 9 valid, 3 invalid',
      'errors by code: required 5, invalid_format 1',
    ]);
    expect(lines).toContain(
      'line 10, column "Country Code" (shipping_address.country_code): invalid_format: ' +
        'must be an ISO 3166-1 alpha-2 code in uppercase, e.g. "IE" (got "ie")',
    );
    expect(lines).toContain(
      'line 6, column "Last Name" (recipient.last_name): required: is required',
    );
  });

  it('shows only the first N errors with --max-errors and says how many more there are', async () => {
    // Prepare
    const file = 'examples/recipients.csv';

    // Act
    const run = await giftBatch(file, '--max-errors', '2');

    // Assess
    expect(run.code).toBe(1);
    const errorLines = run.stdout.split('\n').filter((line) => line.startsWith('line '));
    expect(errorLines).toHaveLength(2);
    expect(run.stdout).toContain('… 4 more errors not shown (--max-errors N shows more)');
  });

  it('prints one JSON document with --json', async () => {
    // Prepare
    const file = 'examples/recipients.jsonl';

    // Act
    const run = await giftBatch(file, '--json');

    // Assess
    expect(run.code).toBe(1);
    const report = JSON.parse(run.stdout);
    expect(report).toMatchObject({
      file,
      ok: false,
      format: 'jsonl',
      rows: 5,
      valid: 3,
      invalid: 2,
      errorsTotal: 3,
    });
    expect(report.errors[0]).toEqual({
      row: 4,
      line: 4,
      column: 'shipping_address.country_code',
      param: 'shipping_address.country_code',
      code: 'invalid_format',
      message: 'must be an ISO 3166-1 alpha-2 code in uppercase, e.g. "ES" (got "es")',
    });
  });

  it.each([
    ['a missing file', 'no-such-file.csv', 'no such file'],
    ['unbalanced quotes', `${FIXTURES}/unbalanced-quotes.csv`, 'line 3: a quoted field opens here'],
  ])('exits 2 for %s with one line on stderr and no stack trace', async (_case, file, reason) => {
    // Prepare
    const path = file;

    // Act
    const run = await giftBatch(path);

    // Assess
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(new RegExp(`^gift-batch validate: ${path}: ${reason}.*\\n$`));
    expect(run.stderr.split('\n')).toHaveLength(2);
    expect(run.stderr).not.toMatch(/\bat .*:\d+:\d+/);
    expect(run.stdout).toBe('');
  });

  it('exits 2 for a binary file and a required column missing', async () => {
    // Prepare
    const binary = join(scratch, 'photo.csv');
    writeFileSync(
      binary,
      Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0x0d]),
    );
    const noNames = join(scratch, 'no-names.csv');
    writeFileSync(noNames, 'campaign_id,email\nx,a@example.com\n');

    // Act
    const runs = await Promise.all([giftBatch(binary), giftBatch(noNames, '--json')]);

    // Assess
    expect(runs.map((run) => run.code)).toEqual([2, 2]);
    expect(runs[0]?.stderr).toContain('the file is binary');
    expect(runs[1]?.stderr).toContain('required columns missing: first_name, last_name');
    expect(JSON.parse(runs[1]?.stdout ?? '')).toMatchObject({
      ok: false,
      fatal: { code: 'missing_columns', line: 1 },
    });
  });

  it('refuses a file over --max-rows whole (exit 2), and takes one at or under it', async () => {
    // Prepare
    const file = join(scratch, 'four-rows.csv');
    writeFileSync(file, `campaign_id,first_name,last_name\n${`${CAMPAIGN},A,B\n`.repeat(4)}`);

    // Act
    const [over, at, under] = await Promise.all([
      giftBatch(file, '--max-rows', '3'),
      giftBatch(file, '--max-rows', '4', '--json'),
      giftBatch(file, '--max-rows', '5'),
    ]);

    // Assess
    expect(over.code).toBe(2);
    expect(over.stderr).toBe(
      `gift-batch validate: ${file}: the file has more than 3 data rows (the limit per file); ` +
        'split it, or raise the limit with --max-rows / MAX_ROWS_PER_FILE\n',
    );
    expect(at.code).toBe(0);
    expect(JSON.parse(at.stdout)).toMatchObject({ ok: true, rows: 4 });
    expect(under.code).toBe(0);
    expect(under.stdout).toContain('4 rows: 4 valid, 0 invalid');
  });

  it('takes the row limit from MAX_ROWS_PER_FILE when --max-rows is not given', async () => {
    // Prepare
    const file = join(scratch, 'four-rows-env.csv');
    writeFileSync(file, `campaign_id,first_name,last_name\n${`${CAMPAIGN},A,B\n`.repeat(4)}`);
    const env = { MAX_ROWS_PER_FILE: '3' };

    // Act
    const [fromEnv, flagWins, badEnv] = await Promise.all([
      runCli(['validate', file], { cwd: ROOT, env }),
      runCli(['validate', file, '--max-rows', '4'], { cwd: ROOT, env }),
      runCli(['validate', file], { cwd: ROOT, env: { MAX_ROWS_PER_FILE: 'many' } }),
    ]);

    // Assess
    expect(fromEnv.code).toBe(2);
    expect(fromEnv.stderr).toContain('the file has more than 3 data rows (the limit per file)');
    expect(flagWins.code).toBe(0);
    expect(badEnv.code).toBe(2);
    expect(badEnv.stderr).toBe(
      'gift-batch validate: environment variable MAX_ROWS_PER_FILE must be an integer ≥ 1 (got "many")\n',
    );
  });

  it('explains itself with --help, example included', async () => {
    // Prepare
    const flag = '--help';

    // Act
    const run = await giftBatch(flag);

    // Assess
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('Usage: gift-batch validate [options] <file>');
    expect(run.stdout).toContain('$ gift-batch validate examples/recipients.csv');
    expect(run.stdout).toContain('--max-errors <n>');
    expect(run.stdout).toContain('--max-rows <n>');
  });
});
