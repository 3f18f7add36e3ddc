import { spawn } from 'node:child_process';

export const MINIMUM_JAVA_MAJOR = 17;

const INSTALL_HINT =
  `DynamoDB Local needs Java ${MINIMUM_JAVA_MAJOR} or newer: install it with ` +
  '"sudo apt-get install openjdk-17-jre-headless" (Debian/Ubuntu) or from https://adoptium.net';

export type JavaCheck = { ok: true; version: string } | { ok: false; message: string };

/**
 * Checks that `javaCommand` (default `java`) runs and is Java 17 or newer. Never throws: when it is
 * missing or too old, `message` is one line saying what to install.
 */
export async function findJava(javaCommand = 'java'): Promise<JavaCheck> {
  const result = await runCommand(javaCommand, ['-version'], { timeoutMs: 15_000 });
  if (result.kind === 'failed-to-start') {
    return {
      ok: false,
      message: `Java was not found ("${javaCommand}": ${result.reason}). ${INSTALL_HINT}`,
    };
  }
  // `java -version` writes to stderr; some wrappers write to stdout.
  const output = `${result.stderr}\n${result.stdout}`;
  const version = parseJavaVersion(output);
  if (result.code !== 0 || version === undefined) {
    const said = oneLine(output).slice(0, 200) || `exit code ${String(result.code)}`;
    return { ok: false, message: `"${javaCommand} -version" failed (${said}). ${INSTALL_HINT}` };
  }
  if (version.major < MINIMUM_JAVA_MAJOR) {
    return {
      ok: false,
      message: `Java ${version.text} found at "${javaCommand}". ${INSTALL_HINT}`,
    };
  }
  return { ok: true, version: version.text };
}

/**
 * Reads the version from `java -version` output: `openjdk version "17.0.15" 2025-04-15`,
 * `java version "1.8.0_292"` (major 8), `openjdk version "21" 2023-09-19`, `"17-ea"`.
 */
export function parseJavaVersion(output: string): { text: string; major: number } | undefined {
  const match = /version "((\d+)(?:\.(\d+))?[^"]*)"/.exec(output);
  if (match?.[1] === undefined || match[2] === undefined) return undefined;
  const first = Number(match[2]);
  // Before Java 9 the major version came second: 1.8 is Java 8.
  const major = first === 1 && match[3] !== undefined ? Number(match[3]) : first;
  return { text: match[1], major };
}

export type CommandResult =
  | { kind: 'exited'; code: number | null; stdout: string; stderr: string }
  | { kind: 'failed-to-start'; reason: string };

/** Runs a short-lived command to completion, collecting its output. Never throws. */
export function runCommand(
  command: string,
  args: readonly string[],
  options: { cwd?: string; timeoutMs: number },
): Promise<CommandResult> {
  return new Promise((resolve) => {
    let stdout = '';
    let stderr = '';
    const child = spawn(command, args, {
      cwd: options.cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: options.timeoutMs,
      killSignal: 'SIGKILL',
    });
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    child.once('error', (error) =>
      resolve({ kind: 'failed-to-start', reason: oneLine(error.message) }),
    );
    child.once('close', (code) => resolve({ kind: 'exited', code, stdout, stderr }));
  });
}

export function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}
