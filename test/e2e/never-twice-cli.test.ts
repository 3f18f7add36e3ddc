import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RESULTS_COLUMNS } from '../../lambdas/core/results.ts';
import { SANDBOX_API_KEY, type Sandbox, startSandbox } from '../../sandbox/index.ts';
import { runCli } from '../support/cli.ts';

const SAMPLE = resolve('examples/recipients.csv');

/** outcome by row number, from a results file. */
async function outcomes(path: string): Promise<Map<number, string>> {
  const lines = (await readFile(path, 'utf8')).replace(/^\uFEFF/, '').split('\r\n');
  const outcomeAt = RESULTS_COLUMNS.indexOf('outcome');
  const byRow = new Map<number, string>();
  for (const line of lines.slice(1).filter(Boolean)) {
    const cells = line.split(',');
    byRow.set(Number(cells[0]), cells[outcomeAt] ?? '');
  }
  return byRow;
}

const batchIdIn = (stdout: string): string => {
  const found = /^batch (\S+): \d+ rows/m.exec(stdout);
  if (!found?.[1]) throw new Error(`no batch id in: ${stdout}`);
  return found[1];
};

describe('unknown rows and reconcile, as a user runs them', () => {
  let dir: string;
  let sandbox: Sandbox;
  const api = () => ['--api-url', sandbox.url, '--api-key', SANDBOX_API_KEY];
  const posts = () => sandbox.journal.requests.filter((request) => request.method === 'POST');

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gift-batch-never-twice-'));
    sandbox = await startSandbox({ redemptionUrlDelayMs: 200 });
  });

  afterAll(async () => {
    await sandbox?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('releases unknown rows only when told which, or after --yes, and sends each once', async () => {
    // Prepare: every POST answered 500, so each valid row of the sample ends unknown.
    const state = join(dir, 'unknown-state');
    const out = join(dir, 'unknown.csv');
    sandbox.configure({ faultRates: { '500-not-created': 1 } });
    const first = await runCli(
      ['run', SAMPLE, '--no-preflight', '--state-dir', state, '--out', out, ...api()],
      {
        cwd: dir,
      },
    );
    expect(first.code, first.stderr).toBe(0);
    const batchId = batchIdIn(first.stdout);
    const unknownRows = [...(await outcomes(out))]
      .filter(([, outcome]) => outcome === 'unknown')
      .map(([row]) => row);
    expect(unknownRows.length).toBeGreaterThan(2);
    sandbox.configure({ faultRates: {} });
    const postsBefore = posts().length;

    // Act: all rows, without --yes, where nobody can confirm.
    const refused = await runCli(
      ['retry-unknown', batchId, '--state-dir', state, '--out', out, ...api()],
      { cwd: dir },
    );

    // Assess: nothing released, nothing sent.
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('--yes');
    expect(refused.stderr).toContain('second gift');
    expect(posts().length).toBe(postsBefore);

    // Act: two named rows, and one the batch does not have.
    const [a, b] = unknownRows as [number, number];
    const named = await runCli(
      [
        'retry-unknown',
        batchId,
        '--rows',
        `${a},${b},999`,
        '--state-dir',
        state,
        '--out',
        out,
        ...api(),
      ],
      { cwd: dir },
    );

    // Assess: exactly those two sent, once each; the rest still unknown; the results rewritten.
    expect(named.code, named.stderr).toBe(0);
    expect(named.stderr).toContain(`released 2 rows: ${a}, ${b}`);
    expect(named.stderr).toContain('row 999 is not in the batch');
    expect(posts().length).toBe(postsBefore + 2);
    const afterNamed = await outcomes(out);
    expect(afterNamed.get(a)).not.toBe('unknown');
    expect(afterNamed.get(b)).not.toBe('unknown');
    for (const row of unknownRows.slice(2)) expect(afterNamed.get(row)).toBe('unknown');

    // Act: the rest, for a script.
    const all = await runCli(
      ['retry-unknown', batchId, '--yes', '--state-dir', state, '--out', out, ...api()],
      { cwd: dir },
    );

    // Assess: every row sent once after its release, none unknown any more.
    expect(all.code, all.stderr).toBe(0);
    expect(posts().length).toBe(postsBefore + unknownRows.length);
    expect([...(await outcomes(out)).values()]).not.toContain('unknown');
  }, 300_000);

  it('reconcile finishes what an interrupted run left, sending nothing twice', async () => {
    // Prepare: a run interrupted once the batch is under way.
    const state = join(dir, 'reconcile-state');
    const interrupted = await runCli(
      [
        'run',
        SAMPLE,
        '--no-preflight',
        '--state-dir',
        state,
        '--out',
        join(dir, 'x.csv'),
        ...api(),
      ],
      {
        cwd: dir,
        onStderr: (child, text) => {
          if (/validated/.test(text) && !child.killed) child.kill('SIGINT');
        },
      },
    );
    expect(interrupted.code, interrupted.stderr).toBe(130);
    const giftsBefore = sandbox.journal.gifts.length;

    // Act
    const reconciled = await runCli(['reconcile', '--state-dir', state, ...api()], { cwd: dir });
    const again = await runCli(['reconcile', '--state-dir', state, ...api()], { cwd: dir });

    // Assess: the batch finished with its results in ./results, each recipient given one gift.
    expect(reconciled.code, reconciled.stderr).toBe(0);
    expect(reconciled.stderr).toMatch(
      /batch \S+: (\d+ undecided rows? queued again|nothing to queue)/,
    );
    const batchId = batchIdIn(reconciled.stdout);
    const results = await outcomes(join(dir, 'results', `${batchId}.csv`));
    expect(results.size).toBe(12);
    expect([...results.values()]).not.toContain('unknown');
    const recipients = sandbox.journal.gifts
      .slice(giftsBefore)
      .map((gift) => JSON.stringify((gift.body as { recipient?: unknown }).recipient));
    expect(new Set(recipients).size).toBe(recipients.length);
    expect(again.code).toBe(0);
    expect(again.stderr).toContain('nothing to reconcile');
  }, 300_000);
});
