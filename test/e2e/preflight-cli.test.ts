import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { type CliRun, runCli } from '../support/cli.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const scratch = mkdtempSync(join(tmpdir(), 'gift-batch-preflight-'));

afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** `gift-batch preflight …` exactly as a user runs it, against the built-in sandbox. */
function preflight(...args: string[]): Promise<CliRun> {
  return runCli(['preflight', ...args, '--state-dir', join(scratch, 'state')], { cwd: ROOT });
}

describe('gift-batch preflight', () => {
  it('exits 1 and prints one problem per line, naming the rows', async () => {
    // Act
    const run = await preflight('test/fixtures/preflight/every-problem.csv');

    // Assess
    expect(run.code).toBe(1);
    expect(run.stdout).toContain('12 rows, 12 checked against 4 campaigns');
    expect(run.stdout).toContain('7 problems found before sending:');
    expect(run.stdout).toContain(
      '  archived campaign: campaign 33333333-3333-4333-8333-333333333333 (Holiday 2025) is archived: 2 rows (rows 3, 4) would be rejected',
    );
    expect(run.stdout).toMatch(
      /\n {2}not enough stock: 3 rows want SOCKS-LAST \(quantity 3\), 1 in stock in campaign 2{8}-.*: rows 9, 10, 11; about 2 short\n/,
    );
    expect(run.stderr).toBe('');
  });

  it('prints the report as JSON with --json', async () => {
    // Act
    const run = await preflight('examples/recipients.csv', '--json');

    // Assess
    expect(run.code).toBe(1);
    const report = JSON.parse(run.stdout);
    expect(report).toMatchObject({
      file: 'examples/recipients.csv',
      ok: false,
      rows: 12,
      checkedRows: 9,
      invalidRows: 3,
      fileError: null,
    });
    expect(report.findings).toMatchObject([
      {
        kind: 'unknown-variant',
        sku: 'HOODIE-XXL-PNK',
        rows: 1,
        examples: [{ row: 11, line: 12, externalId: 'EMP-011' }],
      },
    ]);
  });

  it('exits 0 on a file with nothing to find', async () => {
    // Act
    const run = await preflight(
      'test/fixtures/recipients/all-valid.csv',
      '--campaign',
      '11111111-1111-4111-8111-111111111111',
    );

    // Assess
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('no problems found');
  });

  it('exits 2 on a file that cannot be read', async () => {
    // Act
    const missing = await preflight(join(scratch, 'nope.csv'));
    const broken = await preflight('test/fixtures/recipients/unbalanced-quotes.csv');

    // Assess
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('no such file');
    expect(broken.code).toBe(2);
    expect(broken.stderr).toMatch(/quote/);
  });

  it('refuses a file over --max-rows with the pipeline’s error, checking none of it', {
    timeout: 60_000, // three CLI processes on a shared machine
  }, async () => {
    // Prepare: 50 valid rows.
    const file = join(scratch, 'fifty.csv');
    const rows = Array.from(
      { length: 50 },
      (_, index) => `Ann;Lee;ann${index}@example.com;T-${index}`,
    );
    writeFileSync(file, ['First Name;Last Name;E-mail;External ID', ...rows].join('\r\n'));
    const campaign = ['--campaign', '11111111-1111-4111-8111-111111111111'];

    // Act
    const [over, overJson, within] = await Promise.all([
      preflight(file, ...campaign, '--max-rows', '3'),
      preflight(file, ...campaign, '--max-rows', '3', '--json'),
      preflight(file, ...campaign, '--max-rows', '50'),
    ]);

    // Assess
    const refusal =
      'the file has more than 3 data rows (the limit per file); split it, or raise the limit with --max-rows / MAX_ROWS_PER_FILE';
    expect(over.code).toBe(2);
    expect(over.stdout).toBe(`${file}: not checked: ${refusal}\n`);
    expect(over.stderr).toBe(`gift-batch preflight: ${file}: ${refusal}\n`);
    expect(JSON.parse(overJson.stdout)).toMatchObject({
      rows: 3,
      campaigns: [],
      findings: [],
      fileError: refusal,
    });
    expect(within.code).toBe(0);
    expect(within.stdout).toContain('50 rows, 50 checked against 1 campaign');
  });
});
