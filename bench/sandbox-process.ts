/**
 * The &Open sandbox in a child process of its own, for `npm run bench:send`.
 *
 * In the pipeline's process the two event loops were one: the pipeline read a 429 late whenever the
 * sandbox (or the pipeline) was busy, and the sandbox counted as "early" requests the pipeline had
 * sent before it could read that 429. Apart, each has its own loop, as &Open and a client do; the
 * benchmark drives the child through the sandbox's `/_sandbox/` admin endpoints.
 *
 * Child usage: node --import tsx bench/sandbox-process.ts '<SandboxProcessOptions as JSON>'
 * It prints its URL on stdout, and stops when its stdin closes (so it never outlives the benchmark).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import {
  type JournalEarlyRequest,
  type JournalGift,
  type JournalRequest,
  type SandboxOptions,
  startSandbox,
  type WebhookSummary,
} from '../sandbox/index.ts';
import { type Interval, isGiftPost } from './metrics.ts';

export interface SandboxProcessOptions {
  sandbox: SandboxOptions;
  /**
   * A maintenance window (503 with Retry-After to its end) placed once the first POST arrives,
   * `afterFirstPostMs` after it: relative to that POST, so that the start-up time does not matter.
   * Placed by the child itself, which sees its requests as they arrive.
   */
  maintenance?: { afterFirstPostMs: number; durationMs: number };
}

/** The journal as the admin endpoint gives it. */
export interface JournalSnapshot {
  requests: JournalRequest[];
  gifts: JournalGift[];
  earlyRequests: JournalEarlyRequest[];
}

export interface SandboxProcess {
  url: string;
  pid: number;
  journal(): Promise<JournalSnapshot>;
  /** The maintenance window as it was placed (absolute, journal clock), or null before. */
  maintenanceWindow(): Promise<Interval | null>;
  webhookSummary(): Promise<WebhookSummary>;
  stop(): Promise<void>;
}

const HERE = fileURLToPath(import.meta.url);

export async function startSandboxProcess(options: SandboxProcessOptions): Promise<SandboxProcess> {
  const child: ChildProcess = spawn(
    process.execPath,
    ['--import', 'tsx', HERE, JSON.stringify(options)],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  const exited = once(child, 'exit');
  const [line] = (await Promise.race([
    once(child.stdout as NodeJS.ReadableStream, 'data'),
    exited.then(() => {
      throw new Error('the sandbox process exited before it printed its URL');
    }),
  ])) as [Buffer];
  const url = line.toString().trim();
  const admin = async <T>(path: string): Promise<T> => {
    const response = await fetch(`${url}/_sandbox/${path}`);
    if (!response.ok) throw new Error(`sandbox admin ${path}: HTTP ${response.status}`);
    return (await response.json()) as T;
  };
  return {
    url,
    pid: child.pid as number,
    journal: () => admin<JournalSnapshot>('journal'),
    maintenanceWindow: async () => {
      const { faults } = await admin<{
        faults: { maintenance: { startMs: number; durationMs: number }[] };
      }>('faults');
      const window = faults.maintenance[0];
      return window ? { start: window.startMs, end: window.startMs + window.durationMs } : null;
    },
    webhookSummary: async () => (await admin<{ summary: WebhookSummary }>('webhooks')).summary,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.stdin?.end();
      await exited;
    },
  };
}

/** The child: the sandbox alone, its URL on stdout, until stdin closes. */
async function serve(options: SandboxProcessOptions): Promise<void> {
  const sandbox = await startSandbox(options.sandbox);
  const maintenance = options.maintenance;
  let watcher: NodeJS.Timeout | undefined;
  if (maintenance) {
    let seen = 0;
    watcher = setInterval(() => {
      const requests = sandbox.journal.requests;
      for (; seen < requests.length; seen += 1) {
        const entry = requests[seen];
        if (entry === undefined || !isGiftPost(entry)) continue;
        const startMs = entry.at + maintenance.afterFirstPostMs;
        sandbox.configure({
          maintenance: [{ startMs, durationMs: maintenance.durationMs, absolute: true }],
        });
        clearInterval(watcher);
        process.stderr.write(
          `[sandbox] maintenance window placed: 503 for ${maintenance.durationMs / 1000} s\n`,
        );
        return;
      }
    }, 20);
  }
  process.stdout.write(`${sandbox.url}\n`);
  process.stdin.resume();
  await once(process.stdin, 'end');
  clearInterval(watcher);
  await sandbox.stop();
}

if (process.argv[1] === HERE) {
  await serve(JSON.parse(process.argv[2] ?? '{}') as SandboxProcessOptions);
  process.exit(0);
}
