/**
 * `gift-batch ARGS…` exactly as a user runs it: `node bin/gift-batch.js` in a child process, without
 * a terminal (as in scripts and CI), to the end. The one way the e2e tests run the CLI to completion;
 * test/support/cli-processes.ts is for the fault tests that kill it half way.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';

export const CLI = resolve(import.meta.dirname, '../../bin/gift-batch.js');

/** How the CLI ended and everything it wrote. */
export interface CliRun {
  /** The exit code (null when a signal ended it). */
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  /** Working directory (default: this process's, the repository root under vitest). */
  cwd?: string;
  /** Variables on top of this process's environment and CI=true; one set to undefined is removed. */
  env?: Record<string, string | undefined>;
  /** Written to the CLI's stdin, which is then closed; without it stdin is /dev/null. */
  stdin?: string;
  /**
   * After this long the CLI is sent SIGTERM (it stops what it started), SIGKILL 10 s later, and the
   * run fails saying so. Its default outlasts every e2e test's own limit: it is there so a hung CLI
   * does not outlive its test, not to time the CLI.
   */
  timeoutMs?: number;
  /** Called with all of stderr so far each time more arrives (e.g. to interrupt at a given line). */
  onStderr?: (child: ChildProcess, stderr: string) => void;
}

const DEFAULT_TIMEOUT_MS = 300_000;
const KILL_GRACE_MS = 10_000;

export function runCli(args: string[], options: CliOptions = {}): Promise<CliRun> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  return new Promise((done, fail) => {
    const env: Record<string, string | undefined> = { ...process.env, CI: 'true', ...options.env };
    for (const [name, value] of Object.entries(env)) if (value === undefined) delete env[name];
    const child = spawn(process.execPath, [CLI, ...args], {
      cwd: options.cwd,
      env,
      stdio: [options.stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    let killer: NodeJS.Timeout | undefined;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGTERM');
      killer = setTimeout(() => child.kill('SIGKILL'), KILL_GRACE_MS);
    }, timeoutMs);
    child.stdout?.on('data', (chunk) => {
      stdout += chunk;
    });
    child.stderr?.on('data', (chunk) => {
      stderr += chunk;
      options.onStderr?.(child, stderr);
    });
    child.on('error', (error) => {
      clearTimeout(timer);
      clearTimeout(killer);
      fail(error);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      clearTimeout(killer);
      if (timedOut) {
        const said = `${stdout}${stderr}`.trim().split('\n').slice(-20).join('\n');
        fail(
          new Error(`gift-batch ${args.join(' ')} did not end within ${timeoutMs} ms:\n${said}`),
        );
        return;
      }
      done({ code, stdout, stderr });
    });
    child.stdin?.end(options.stdin);
  });
}

/** DynamoDB Local processes still serving a data directory (their command line names it). */
export function ledgerProcessesFor(dir: string): string[] {
  const out = execFileSync('ps', ['-eo', 'pid,args'], { encoding: 'utf8' });
  return out.split('\n').filter((line) => line.includes(dir) && line.includes('java'));
}

/**
 * The CLI on a real terminal (a pseudo-terminal from util-linux `script`), answering `answer` every
 * time it asks. Its stdout and stderr arrive mixed, as a person sees them. `env` as for runCli.
 */
export function runOnTerminal(
  args: string[],
  answer: string,
  options: { env?: Record<string, string | undefined> } = {},
): Promise<{ code: number | null; screen: string; questions: number }> {
  const command = [process.execPath, CLI, ...args].map((part) => `'${part}'`).join(' ');
  return new Promise((done, fail) => {
    const env: Record<string, string | undefined> = { ...process.env, CI: 'true', ...options.env };
    for (const [name, value] of Object.entries(env)) if (value === undefined) delete env[name];
    const child = spawn('script', ['-qfec', command, '/dev/null'], {
      env,
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
export async function giftsCreated(stateDir: string): Promise<number> {
  const file = join(stateDir, 'sandbox.jsonl');
  if (!existsSync(file)) return 0;
  return (await readFile(file, 'utf8')).split('\n').filter((line) => line.includes('"kind":"gift"'))
    .length;
}
