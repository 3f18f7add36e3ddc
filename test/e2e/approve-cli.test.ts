import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BatchDetail } from '../../lambdas/core/status-service.ts';
import {
  type CliRun,
  giftsCreated,
  runOnTerminal as runOnTerminalShared,
  runCli as runShared,
} from '../support/cli.ts';

/** 12 rows: 9 valid (8 created, 1 rejected: the preflight's one problem), 3 invalid. */
const SAMPLE = resolve('examples/recipients.csv');
const BATCH = 'recipients-f48751fc326e';

/**
 * The CLI without a terminal (as in scripts and CI), with `env` on top of this one's; without an
 * APPROVAL_ROWS_OVER of the test's own, none from the machine's environment either.
 */
function runCli(args: string[], env: Record<string, string> = {}): Promise<CliRun> {
  return runShared(args, { env: { APPROVAL_ROWS_OVER: undefined, ...env } });
}

/** The CLI on a real terminal, answering every question, with no APPROVAL_ROWS_OVER of the machine's. */
function runOnTerminal(args: string[], answer: string) {
  return runOnTerminalShared(args, answer, { env: { APPROVAL_ROWS_OVER: undefined } });
}

describe('approval guardrail on one machine, as a user runs it', () => {
  let dir: string;
  let state: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gift-batch-approve-'));
    state = join(dir, 'state');
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('holds a file over the limit without a terminal, shows it waiting, and sends it once approved', async () => {
    // Act: over the limit ($APPROVAL_ROWS_OVER, as the splitter reads it), nobody to ask.
    const held = await runCli(['run', SAMPLE, '--state-dir', state, '--out', join(dir, 'a.csv')], {
      APPROVAL_ROWS_OVER: '5',
    });
    const sentWhileHeld = await giftsCreated(state);
    const statusText = await runCli(['status', '--state-dir', state]);
    const statusJson = await runCli(['status', BATCH, '--json', '--state-dir', state]);
    const unasked = await runCli(['approve', BATCH, '--state-dir', state]);
    const approved = await runCli(['approve', BATCH, '--yes', '--state-dir', state]);
    const twice = await runCli(['approve', BATCH, '--yes', '--state-dir', state]);
    const resumed = await runCli([
      'resume',
      BATCH,
      '--state-dir',
      state,
      '--out',
      join(dir, 'b.csv'),
    ]);

    // Assess: held, recorded, nothing sent, exit 4 naming the commands that go on.
    expect(held.code).toBe(4);
    expect(held.stderr).toContain(
      `1 problem found and 12 rows, over the approval limit of 5: send anyway? not without a yes: batch ${BATCH} is recorded and waits for approval`,
    );
    expect(held.stderr).toContain(`gift-batch approve ${BATCH} --state-dir ${state}`);
    expect(held.stderr).toContain(`gift-batch resume ${BATCH} --state-dir ${state}`);
    expect(held.stdout).toBe('');
    expect(sentWhileHeld).toBe(0);
    // Status: waiting, why, how to approve, no ETA.
    expect(statusText.code).toBe(0);
    expect(statusText.stdout).toContain(
      'awaiting approval: 12 rows, over the approval limit of 5 · no ETA: waits for approval',
    );
    expect(statusText.stdout).toContain(
      `approve: gift-batch approve ${BATCH} --state-dir ${state}`,
    );
    const detail = JSON.parse(statusJson.stdout) as BatchDetail;
    expect(detail).toMatchObject({ phase: 'awaiting-approval', etaAt: null, decided: 0 });
    expect(detail.approval).toMatchObject({
      state: 'awaiting',
      reason: '12 rows, over the approval limit of 5',
      approveCommand: `gift-batch approve ${BATCH} --state-dir ${state}`,
    });
    // approve: refuses without a yes, approves once, then says it is approved already.
    expect(unasked.code).toBe(4);
    expect(unasked.stdout).toContain(`batch ${BATCH} waits for approval`);
    expect(unasked.stderr).toContain('not without a yes: nothing was approved');
    expect(approved.code).toBe(0);
    expect(approved.stdout).toContain(`approved batch ${BATCH}`);
    expect(approved.stdout).toContain(`gift-batch resume ${BATCH} --state-dir ${state}`);
    expect(twice.code).toBe(3);
    expect(twice.stderr).toContain(`batch ${BATCH} is already approved`);
    // resume sends it: every row decided, each valid row sent once.
    expect(resumed.code).toBe(0);
    expect(resumed.stderr).toContain(`batch ${BATCH} was approved: 9 rows queued`);
    expect(resumed.stdout).toMatch(/created\s+8/);
    expect(resumed.stdout).toMatch(/rejected\s+1/);
    expect(resumed.stdout).toMatch(/invalid\s+3/);
    expect(await giftsCreated(state)).toBe(8);
  }, 300_000);

  it('on a terminal asks one question for the problems and the size; y sends at once', async () => {
    // Prepare
    const terminalState = join(dir, 'tty');

    // Act
    const run = await runOnTerminal(
      [
        'run',
        SAMPLE,
        '--approve-over',
        '5',
        '--state-dir',
        terminalState,
        '--out',
        join(dir, 'c.csv'),
      ],
      'y',
    );

    // Assess
    expect(run.questions).toBe(1);
    expect(run.screen).toContain(
      '1 problem found and 12 rows, over the approval limit of 5: send anyway? [y/N]',
    );
    expect(run.screen).toContain(`batch ${BATCH} approved (12 rows, over the approval limit of 5)`);
    expect(run.code).toBe(0);
    expect(run.screen).toMatch(/created\s+8/);
    expect(await giftsCreated(terminalState)).toBe(8);
  }, 180_000);

  it('sends a file at the limit without asking and without holding it', async () => {
    // Act
    const atLimit = await runCli([
      'run',
      SAMPLE,
      '--yes',
      '--approve-over',
      '12',
      '--state-dir',
      join(dir, 'at-limit'),
      '--out',
      join(dir, 'd.csv'),
    ]);

    // Assess: only the preflight's problem is mentioned; the batch was never held.
    expect(atLimit.code).toBe(0);
    expect(atLimit.stderr).toContain('1 problem found: send anyway? yes (--yes)');
    expect(atLimit.stderr).not.toContain('approval limit');
    expect(atLimit.stderr).not.toContain(`batch ${BATCH} approved`);
    expect(atLimit.stdout).toMatch(/created\s+8/);
  }, 180_000);
});
