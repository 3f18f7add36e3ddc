import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RESULTS_COLUMNS } from '../../lambdas/core/results.ts';
import { ledgerProcessesFor, runCli } from '../support/cli.ts';
import { reportFigures } from '../support/report-figures.ts';

const SAMPLE = resolve('examples/recipients.csv');

describe('gift-batch run, as a user runs it', () => {
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gift-batch-run-'));
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('sends the sample through the whole pipeline and writes a results file Excel opens right', async () => {
    // Prepare
    const out = join(dir, 'first', 'results.csv');

    // Act
    const run = await runCli([
      'run',
      SAMPLE,
      '--yes',
      '--state-dir',
      join(dir, 'state'),
      '--out',
      out,
    ]);

    // Assess
    expect(run.stderr).not.toMatch(/\n\s+at /); // no stack trace
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/created\s+8/);
    expect(run.stdout).toMatch(/rejected\s+1/);
    expect(run.stdout).toMatch(/invalid\s+3/);
    expect(run.stdout).toContain(`results: ${out}`);
    const csv = await readFile(out, 'utf8');
    expect(csv.startsWith(`\uFEFF${RESULTS_COLUMNS.join(',')}\r\n`)).toBe(true);
    expect(csv.split('\r\n').filter(Boolean)).toHaveLength(13);
    const summary = JSON.parse(await readFile(join(dir, 'first', 'results.json'), 'utf8'));
    expect(summary.byOutcome).toEqual({ created: 8, rejected: 1, invalid: 3, unknown: 0 });
    const reportPath = join(dir, 'first', 'results.html');
    expect(run.stdout).toContain(`report:  ${reportPath}`);
    const report = await readFile(reportPath, 'utf8');
    expect(reportFigures(report)).toMatchObject({
      rows: 12,
      created: 8,
      rejected: 1,
      invalid: 3,
      unknown: 0,
    });
    // The page names the file written beside it (--out), not the bucket's <batch>.csv.
    expect(report).toContain('data-figure="results-file">results.csv<');
    expect(report).not.toMatch(/recipients-[0-9a-f]+\.csv/);
    expect(ledgerProcessesFor(join(dir, 'state'))).toEqual([]);
  }, 120_000);

  it('recognises a file already sent, sends nothing again, and gives the same results', async () => {
    // Prepare
    const first = await readFile(join(dir, 'first', 'results.csv'), 'utf8');
    const out = join(dir, 'again', 'results.csv');

    // Act
    const run = await runCli([
      'run',
      SAMPLE,
      '--yes',
      '--state-dir',
      join(dir, 'state'),
      '--out',
      out,
    ]);

    // Assess
    expect(run.code).toBe(0);
    expect(run.stderr).toContain('already sent');
    const giftIds = (text: string) => text.split('\r\n').map((line) => line.split(',')[7]);
    expect(giftIds(await readFile(out, 'utf8'))).toEqual(giftIds(first));
  }, 120_000);

  it('stops everything it started on Ctrl-C, and the same command carries on', async () => {
    // Act: interrupt once the batch is under way (its first progress line).
    const state = join(dir, 'interrupted');
    const run = await runCli(
      ['run', SAMPLE, '--yes', '--state-dir', state, '--out', join(dir, 'x.csv')],
      {
        onStderr: (child, text) => {
          if (/validated|reading the file/.test(text) && !child.killed) child.kill('SIGINT');
        },
      },
    );

    // Assess
    expect(run.code).toBe(130);
    expect(run.stderr).toContain('run the same command again to carry on');
    expect(run.stderr).not.toMatch(/\n\s+at /);
    expect(ledgerProcessesFor(state)).toEqual([]);

    // Act: the same command again carries on where the interrupted run stopped.
    const resumed = await runCli([
      'run',
      SAMPLE,
      '--yes',
      '--state-dir',
      state,
      '--out',
      join(dir, 'r.csv'),
    ]);

    // Assess: every row ends with exactly one outcome.
    expect(resumed.code).toBe(0);
    expect(resumed.stderr).toContain('carrying on with batch');
    const outcomes = (await readFile(join(dir, 'r.csv'), 'utf8'))
      .split('\r\n')
      .slice(1)
      .filter(Boolean)
      .map((line) => line.split(',')[6]);
    expect(outcomes).toHaveLength(12);
    for (const outcome of outcomes)
      expect(['created', 'rejected', 'invalid', 'unknown']).toContain(outcome);
  }, 120_000);

  it('stops on a refused key without spending a row, and carries on when run again with a good one', async () => {
    // Prepare
    const state = join(dir, 'bad-key');
    const out = join(dir, 'bad-key.csv');

    // Act
    const refused = await runCli([
      'run',
      SAMPLE,
      '--yes',
      '--state-dir',
      state,
      '--out',
      out,
      '--api-key',
      'ao-v1-staging-wrongkey',
    ]);
    const resumed = await runCli(['run', SAMPLE, '--yes', '--state-dir', state, '--out', out]);

    // Assess
    expect(refused.code).toBe(3);
    expect(refused.stderr).toContain('STOPPED');
    expect(refused.stderr).toContain('invalid_token');
    expect(resumed.code).toBe(0);
    expect(resumed.stderr).toContain('resuming batch');
    expect(resumed.stdout).toMatch(/created\s+8/);
    expect(resumed.stdout).toMatch(/unknown\s+0/);
  }, 120_000);

  it('resumes a stopped batch by its id with gift-batch resume', async () => {
    // Prepare
    const state = join(dir, 'resume-verb');
    const refused = await runCli([
      'run',
      SAMPLE,
      '--yes',
      '--state-dir',
      state,
      '--api-key',
      'ao-v1-staging-wrongkey',
    ]);
    const batchId = /batch (\S+) STOPPED/.exec(refused.stderr)?.[1];
    expect(batchId).toBeDefined();

    // Act
    const resumed = await runCli([
      'resume',
      batchId ?? '',
      '--state-dir',
      state,
      '--out',
      join(dir, 'resumed.csv'),
    ]);
    const unknown = await runCli(['resume', 'no-such-batch', '--state-dir', state]);

    // Assess
    expect(resumed.code).toBe(0);
    expect(resumed.stdout).toMatch(/created\s+8/);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('there is no batch no-such-batch');
  }, 120_000);

  it('says in one line what is wrong with a file it cannot read', async () => {
    // Act
    const run = await runCli(['run', join(dir, 'missing.csv'), '--state-dir', join(dir, 'state')]);

    // Assess
    expect(run.code).toBe(2);
    expect(run.stderr.trim().split('\n')).toEqual([
      `gift-batch run: ${join(dir, 'missing.csv')}: no such file`,
    ]);
  });
});
