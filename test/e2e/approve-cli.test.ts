import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BatchDetail } from '../../lambdas/core/status-service.ts';
import { CLI, type CliRun, runCli as runShared } from '../support/cli.ts';

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

/**
 * The CLI on a real terminal (a pseudo-terminal from util-linux `script`), answering `answer` every
 * time it asks. Its stdout and stderr arrive mixed, as a person sees them.
 */
function runOnTerminal(
  args: string[],
  answer: string,
): Promise<{ code: number | null; screen: string; questions: number }> {
  const command = [process.execPath, CLI, ...args].map((part) => `'${part}'`).join(' ');
  return new Promise((done, fail) => {
    const childEnv: Record<string, string | undefined> = { ...process.env, CI: 'true' };
    delete childEnv.APPROVAL_ROWS_OVER;
    const child = spawn('script', ['-qfec', command, '/dev/null'], {
      env: childEnv,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let screen = '';
    let questions = 0;
    child.stdout.on('data', (chunk) => {
      screen += chunk;
      const asked = screen.split('[y/N]').length - 1;
      while (questions < asked) {
        questions += 1;
        child.stdin.write(`${answer}\r`);
      }
    });
    child.stderr.on('data', (chunk) => {
      screen += chunk;
    });
    child.on('error', fail);
    child.on('close', (code) => {
      child.stdin.destroy();
      done({ code, screen, questions });
    });
  });
}

/** Gifts the runs' sandbox created (it keeps them in the state dir, as &Open would). */
async function giftsCreated(stateDir: string): Promise<number> {
  const file = join(stateDir, 'sandbox.jsonl');
  if (!existsSync(file)) return 0;
  return (await readFile(file, 'utf8')).split('\n').filter((line) => line.includes('"kind":"gift"'))
    .length;
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
