/**
 * The CLI as a user runs it, in child processes: `gift-batch sandbox` in one, `gift-batch run` in
 * another, and the means to kill a process with SIGKILL and prove nothing it started survived it.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readdir, readFile, readlink } from 'node:fs/promises';
import { connect } from 'node:net';
import { resolve } from 'node:path';
import type { JournalGift, JournalRequest } from '../../sandbox/index.ts';

export const CLI = resolve(import.meta.dirname, '../../bin/gift-batch.js');
const CHILD_ENV = { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' };

export interface RunningCli {
  child: ChildProcess;
  pid: number;
  /** Everything written to stdout and stderr so far. */
  output: () => string;
  /** The exit code (null when killed by a signal). */
  exited: Promise<number | null>;
}

/** Starts `node bin/gift-batch.js ARGS…`, with `env` on top of this process's environment. */
export function startCli(
  args: string[],
  cwd: string,
  env: Record<string, string> = {},
): RunningCli {
  const child = spawn(process.execPath, [CLI, ...args], {
    cwd,
    env: { ...CHILD_ENV, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  const exited = new Promise<number | null>((done) => child.on('close', (code) => done(code)));
  if (child.pid === undefined) throw new Error(`could not start ${CLI}`);
  return { child, pid: child.pid, output: () => output, exited };
}

/**
 * What the CLI said to its user: its output without the handlers' JSON log lines and the SDK's
 * Node.js version warning, last `lines` lines.
 */
export function saidToUser(output: string, lines = 15): string {
  return output
    .split('\n')
    .filter((line) => line.trim() !== '' && !line.startsWith('{'))
    .filter(
      (line) =>
        !/NodeVersionSupportWarning|node >=22|trace-warnings|a\.co\/|bug fixes|^and security/.test(
          line,
        ),
    )
    .slice(-lines)
    .join('\n');
}

/** Waits for the process to exit, or SIGKILLs it after `timeoutMs` and says so. */
export async function exitCode(cli: RunningCli, timeoutMs: number): Promise<number | 'timed out'> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timed out'>((done) => {
    timer = setTimeout(() => {
      cli.child.kill('SIGKILL');
      done('timed out');
    }, timeoutMs);
  });
  const code = await Promise.race([cli.exited, timedOut]);
  clearTimeout(timer);
  return code ?? 'timed out';
}

export interface JournalView {
  requests: JournalRequest[];
  gifts: JournalGift[];
}

/** `gift-batch sandbox` in its own process, driven through its admin endpoints. */
export interface SandboxProcess {
  url: string;
  journal(): Promise<JournalView>;
  revokeKey(key: string): Promise<void>;
  /** Changes its faults while it runs (`POST /_sandbox/faults`), e.g. `{ latencyMs }`. */
  configure(patch: Record<string, unknown>): Promise<void>;
  stop(): Promise<void>;
}

export async function startSandboxProcess(args: string[], cwd: string): Promise<SandboxProcess> {
  const cli = startCli(['sandbox', '--port', '0', ...args], cwd);
  const url = await new Promise<string>((done, fail) => {
    const timer = setTimeout(
      () => fail(new Error(`the sandbox did not start:\n${cli.output()}`)),
      60_000,
    );
    const look = () => {
      const found = cli.output().match(/listening on (http:\/\/\S+)/)?.[1];
      if (found !== undefined) {
        clearTimeout(timer);
        done(found);
      }
    };
    cli.child.stdout?.on('data', look);
    cli.exited.then(() => fail(new Error(`the sandbox exited:\n${cli.output()}`)));
  });
  const admin = async (method: string, path: string, body?: unknown) => {
    const response = await fetch(`${url}${path}`, {
      method,
      headers: { 'Content-Type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    if (!response.ok) throw new Error(`${method} ${path}: HTTP ${response.status}`);
    return response.json() as Promise<unknown>;
  };
  return {
    url,
    journal: async () => (await admin('GET', '/_sandbox/journal')) as JournalView,
    revokeKey: async (key) => {
      await admin('POST', '/_sandbox/keys/revoke', { key });
    },
    configure: async (patch) => {
      await admin('POST', '/_sandbox/faults', patch);
    },
    stop: async () => {
      cli.child.kill('SIGTERM');
      await exitCode(cli, 10_000);
    },
  };
}

/** The process and all its descendants, by walking /proc (Linux). */
export async function processTree(pid: number): Promise<number[]> {
  const parents = new Map<number, number>();
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
    // pid (comm) state ppid …; comm may hold spaces and parentheses, so read after the last ')'.
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    if (Number.isInteger(ppid)) parents.set(Number(entry), ppid);
  }
  const tree = [pid];
  for (let index = 0; index < tree.length; index += 1) {
    for (const [child, parent] of parents) if (parent === tree[index]) tree.push(child);
  }
  return tree;
}

/** TCP ports the processes listen on (from their socket inodes and /proc/net/tcp{,6}). */
export async function listeningPorts(pids: number[]): Promise<number[]> {
  const inodes = new Set<string>();
  for (const pid of pids) {
    const fds = await readdir(`/proc/${pid}/fd`).catch(() => [] as string[]);
    for (const fd of fds) {
      const target = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => '');
      const inode = target.match(/^socket:\[(\d+)\]$/)?.[1];
      if (inode !== undefined) inodes.add(inode);
    }
  }
  const ports = new Set<number>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    const lines = (await readFile(table, 'utf8').catch(() => '')).split('\n').slice(1);
    for (const line of lines) {
      const fields = line.trim().split(/\s+/);
      // local_address is HEX_IP:HEX_PORT; state 0A is LISTEN; the inode is field 9.
      if (fields[3] === '0A' && inodes.has(fields[9] ?? '')) {
        ports.add(Number.parseInt(fields[1]?.split(':')[1] ?? '', 16));
      }
    }
  }
  return [...ports];
}

/** Whether a process is still alive (a zombie counts as gone: it runs nothing). */
export async function isAlive(pid: number): Promise<boolean> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => null);
  if (stat === null) return false;
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0] !== 'Z';
}

/** The processes listening on a TCP port (any address), from /proc. */
export async function listenersOf(port: number): Promise<number[]> {
  const inodes = new Set<string>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    const lines = (await readFile(table, 'utf8').catch(() => '')).split('\n').slice(1);
    for (const line of lines) {
      const fields = line.trim().split(/\s+/);
      const local = Number.parseInt(fields[1]?.split(':')[1] ?? '', 16);
      if (fields[3] === '0A' && local === port) inodes.add(fields[9] ?? '');
    }
  }
  const owners: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const fds = await readdir(`/proc/${entry}/fd`).catch(() => [] as string[]);
    for (const fd of fds) {
      const target = await readlink(`/proc/${entry}/fd/${fd}`).catch(() => '');
      if (inodes.has(target.match(/^socket:\[(\d+)\]$/)?.[1] ?? '')) {
        owners.push(Number(entry));
        break;
      }
    }
  }
  return owners;
}

/** Whether something accepts TCP connections on 127.0.0.1:port. */
export function accepts(port: number): Promise<boolean> {
  return new Promise((done) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      done(true);
    });
    socket.once('error', () => done(false));
  });
}
