import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_CAMPAIGNS } from '../../sandbox/index.ts';
import { giftsCreated, runCli, runOnTerminal } from '../support/cli.ts';

describe('gift-batch run preflights a new file first', () => {
  let dir: string;
  let withProblem: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gift-batch-run-preflight-'));
    withProblem = join(dir, 'team.csv');
    await writeFile(
      withProblem,
      [
        'campaign_id,external_id,first_name,last_name',
        `${DEMO_CAMPAIGNS.choice},T-1,Ann,Lee`,
        `${DEMO_CAMPAIGNS.archived},T-2,Bo,Ek`,
      ].join('\r\n'),
    );
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('without a terminal and without --yes, prints the problems, sends nothing and exits 4', async () => {
    // Prepare
    const state = join(dir, 'no-tty');

    // Act
    const run = await runCli([
      'run',
      withProblem,
      '--state-dir',
      state,
      '--out',
      join(dir, 'a.csv'),
    ]);

    // Assess
    expect(run.code).toBe(4);
    expect(run.stderr).toContain(
      `archived campaign: campaign ${DEMO_CAMPAIGNS.archived} (Holiday 2025) is archived: 1 row (row 2) would be rejected`,
    );
    expect(run.stderr).toContain('send anyway? not without a yes: nothing was sent');
    expect(run.stderr).not.toMatch(/\n\s+at /);
    expect(await giftsCreated(state)).toBe(0);
  }, 120_000);

  it('with --yes, prints the problems and sends anyway', async () => {
    // Prepare
    const state = join(dir, 'yes');

    // Act
    const run = await runCli([
      'run',
      withProblem,
      '--yes',
      '--state-dir',
      state,
      '--out',
      join(dir, 'b.csv'),
    ]);

    // Assess
    expect(run.code).toBe(0);
    expect(run.stderr).toContain('1 problem found: send anyway? yes (--yes)');
    expect(run.stdout).toMatch(/created\s+1/);
    expect(run.stdout).toMatch(/rejected\s+1/); // the archived campaign's row, as predicted
    expect(await giftsCreated(state)).toBe(1);
  }, 120_000);

  it('on a terminal asks "send anyway? [y/N]": no sends nothing, y sends', async () => {
    // Act
    const declined = await runOnTerminal(
      ['run', withProblem, '--state-dir', join(dir, 'tty-no'), '--out', join(dir, 'c.csv')],
      'n',
    );
    const accepted = await runOnTerminal(
      ['run', withProblem, '--state-dir', join(dir, 'tty-yes'), '--out', join(dir, 'd.csv')],
      'y',
    );

    // Assess
    expect(declined.screen).toContain('1 problem found: send anyway? [y/N]');
    expect(declined.code).toBe(4);
    expect(await giftsCreated(join(dir, 'tty-no'))).toBe(0);
    expect(accepted.code).toBe(0);
    expect(accepted.screen).toMatch(/created\s+1/);
    expect(await giftsCreated(join(dir, 'tty-yes'))).toBe(1);
  }, 180_000);

  it('sends a clean file without asking, and --no-preflight skips the check', async () => {
    // Prepare
    const clean = join(dir, 'clean.csv');
    await writeFile(
      clean,
      `campaign_id,first_name,last_name\r\n${DEMO_CAMPAIGNS.choice},Cy,Ng\r\n`,
    );

    // Act
    const checked = await runCli([
      'run',
      clean,
      '--state-dir',
      join(dir, 'clean'),
      '--out',
      join(dir, 'e.csv'),
    ]);
    const unchecked = await runCli([
      'run',
      withProblem,
      '--no-preflight',
      '--state-dir',
      join(dir, 'unchecked'),
      '--out',
      join(dir, 'f.csv'),
    ]);

    // Assess
    expect(checked.code).toBe(0);
    expect(checked.stderr).toContain('preflight: no problems found (1 campaign, 1 row checked)');
    expect(unchecked.code).toBe(0);
    expect(unchecked.stderr).not.toContain('preflight:');
    expect(unchecked.stdout).toMatch(/rejected\s+1/);
  }, 180_000);
});
