import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXPORT_COLUMNS } from '../../lambdas/core/export-service.ts';
import type { BatchDetail, StatusList } from '../../lambdas/core/status-service.ts';
import { ledgerProcessesFor, runCli } from '../support/cli.ts';
import { reportFigures } from '../support/report-figures.ts';

const SAMPLE = resolve('examples/recipients.csv');
const BATCH = 'recipients-f48751fc326e';
const CAMPAIGN = '11111111-1111-4111-8111-111111111111';

describe('gift-batch status and export after a real run', () => {
  let dir: string;
  let state: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gift-batch-status-'));
    state = join(dir, 'state');
    const run = await runCli(['run', SAMPLE, '--yes', '--state-dir', state], { cwd: dir });
    expect(run.code).toBe(0);
  }, 180_000);

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('lists the batch with its figures in an aligned table that fits 100 columns', async () => {
    // Act
    const status = await runCli(['status', '--state-dir', state], { cwd: dir });

    // Assess
    expect(status.stderr).toBe('');
    expect(status.code).toBe(0);
    const lines = status.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(
      /^BATCH\s+STARTED \(UTC\)\s+ROWS\s+CREATED\s+REJECTED\s+UNKNOWN\s+INVALID/,
    );
    expect(lines[1]).toMatch(
      new RegExp(`^${BATCH}\\s+\\S+ \\S+\\s+12\\s+8\\s+1\\s+0\\s+3\\s+100\\.0%`),
    );
    expect(lines[2]).toContain('complete · from s3://gift-batch-uploads/uploads/recipients.csv');
    for (const line of lines) expect(line.length).toBeLessThanOrEqual(100);
    expect(ledgerProcessesFor(join(state, 'ledger'))).toEqual([]);
  }, 60_000);

  it('gives one batch in detail as JSON: errors by code with example rows', async () => {
    // Act
    const status = await runCli(['status', BATCH, '--json', '--state-dir', state], { cwd: dir });
    const list = await runCli(['status', '--json', '--state-dir', state], { cwd: dir });

    // Assess
    expect(status.code).toBe(0);
    const detail = JSON.parse(status.stdout) as BatchDetail;
    expect(detail.counts).toMatchObject({
      rows: 12,
      valid: 9,
      invalid: 3,
      created: 8,
      rejected: 1,
    });
    expect(detail.phase).toBe('complete');
    const rejected = detail.errorsByCode.find((group) => group.code === 'invalid_reference');
    expect(rejected).toMatchObject({ type: 'validation_error', rows: 1 });
    expect(rejected?.examples[0]).toMatchObject({ row: 11, externalId: 'EMP-011' });
    expect(detail.unknownRows).toEqual([]);
    expect(detail.waitingRows).toEqual([]);
    expect((JSON.parse(list.stdout) as StatusList).batches.map((batch) => batch.batchId)).toEqual([
      BATCH,
    ]);
  }, 60_000);

  it('exports the campaign with the results columns, batch and source, and a summary that reconciles', async () => {
    // Prepare
    const out = join(dir, 'finance', 'november.csv');

    // Act
    const exported = await runCli(
      ['export', '--campaign', CAMPAIGN, '--to', '2099-12-31', '--out', out, '--state-dir', state],
      { cwd: dir },
    );

    // Assess
    expect(exported.code).toBe(0);
    expect(exported.stderr).toContain(`campaign ${CAMPAIGN}: 5 rows`);
    expect(exported.stderr).toContain('2099-12-31T23:59:59.999Z');
    const csv = await readFile(out, 'utf8');
    expect(csv.startsWith(`\uFEFF${EXPORT_COLUMNS.join(',')}\r\n`)).toBe(true);
    const lines = csv.split('\r\n').filter(Boolean).slice(1);
    expect(lines).toHaveLength(5);
    for (const line of lines) {
      expect(line).toContain(`,${BATCH},s3://gift-batch-uploads/uploads/recipients.csv,`);
    }
    const summary = JSON.parse(
      await readFile(join(dir, 'finance', 'november.summary.json'), 'utf8'),
    );
    expect(summary.rows).toBe(5);
    expect(summary.byOutcome.created + summary.byOutcome.invalid).toBe(5);
    expect(summary.interval).toEqual({ from: null, to: '2099-12-31T23:59:59.999Z' });
    const report = await readFile(join(dir, 'finance', 'november.html'), 'utf8');
    expect(exported.stderr).toContain(`report: ${join(dir, 'finance', 'november.html')}`);
    expect(reportFigures(report)).toMatchObject({
      rows: 5,
      created: summary.byOutcome.created,
      invalid: summary.byOutcome.invalid,
    });
    expect(report).toContain('data-figure="results-file">november.csv<');
  }, 60_000);

  it('exports only what --status asks for, as JSON lines', async () => {
    // Act
    const exported = await runCli(
      [
        'export',
        '--campaign',
        CAMPAIGN,
        '--status',
        'invalid',
        '--format',
        'jsonl',
        '--state-dir',
        state,
      ],
      { cwd: dir },
    );

    // Assess
    expect(exported.code).toBe(0);
    const file = join(dir, 'exports', `${CAMPAIGN}_start_now.jsonl`);
    const rows = (await readFile(file, 'utf8'))
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line));
    expect(rows.map((row) => row.outcome)).toEqual(['invalid']);
  }, 60_000);

  it('with --refresh, asks the sandbox the run used for every gift that can still change first', async () => {
    // Act
    const exported = await runCli(
      [
        'export',
        '--campaign',
        CAMPAIGN,
        '--refresh',
        '--out',
        join(dir, 'fresh.csv'),
        '--state-dir',
        state,
      ],
      { cwd: dir },
    );

    // Assess
    expect(exported.code).toBe(0);
    const summary = JSON.parse(await readFile(join(dir, 'fresh.summary.json'), 'utf8'));
    const created = summary.byOutcome.created as number;
    expect(created).toBeGreaterThan(0);
    expect(exported.stderr).toContain(
      `refresh: ${created} of ${created} gifts that can still change read from &Open (${created} requests of the shared rate budget), 0 changed`,
    );
  }, 60_000);

  it('says which batch it does not know, and what is wrong with a request', async () => {
    // Act
    const missing = await runCli(['status', 'nope', '--state-dir', state], { cwd: dir });
    const bad = await runCli(
      ['export', '--campaign', CAMPAIGN, '--from', '2026-13-01', '--state-dir', state],
      { cwd: dir },
    );
    const noLedger = await runCli(['status', '--state-dir', join(dir, 'empty')], { cwd: dir });

    // Assess
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('there is no batch nope in');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('from: "2026-13-01" is not a date');
    expect(noLedger.code).toBe(1);
    expect(noLedger.stderr).toMatch(
      /there is no local ledger under .*empty: run "gift-batch run FILE" first/,
    );
  }, 60_000);
});
