/**
 * `npm run test:faults`: runs every fault scenario against the real local pipeline, prints the
 * table (scenario | rows | created | rejected | invalid | unknown | duplicates | lost | time) and
 * exits 1 when any invariant broke, naming the scenario, the rows and the invariant.
 *
 *   npm run test:faults                    every scenario
 *   npm run test:faults -- 500s kill-mid   only these
 *   npm run test:faults -- --list          their names
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { CLI_SCENARIOS } from './cli-scenarios.ts';
import { reportTable, type ScenarioReport } from './report.ts';
import { IN_PROCESS_SCENARIOS } from './scenarios.ts';

// The audit's own SDK clients (the ledger a CLI run left) would print the SDK's Node 20 warning.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

/** A scenario still running after this is stopped and reported as failed. */
const SCENARIO_TIMEOUT_MS = 240_000;
const ROOT = resolve(import.meta.dirname, '../..');

interface Entry {
  name: string;
  summary: string;
  run: (workDir: string) => Promise<ScenarioReport>;
}

/**
 * In-process scenarios first: they start in seconds and break first when the pipeline itself is
 * broken; then the scenarios that drive the CLI in child processes (several DynamoDB Locals each).
 * One at a time: two at once on a 2-core machine only slow each other down.
 */
const entries: Entry[] = [
  ...IN_PROCESS_SCENARIOS.map((scenario) => ({
    name: scenario.name,
    summary: scenario.summary,
    run: (workDir: string) => runChild(scenario.name, workDir),
  })),
  ...CLI_SCENARIOS.map((scenario) => ({
    name: scenario.name,
    summary: scenario.summary,
    run: () => scenario.run(),
  })),
];

/** Runs an in-process scenario in a child process and reads back its report. */
async function runChild(name: string, workDir: string): Promise<ScenarioReport> {
  const started = performance.now();
  const reportPath = join(workDir, `${name}.json`);
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', join(ROOT, 'test/faults/child.ts'), name, reportPath],
    {
      cwd: ROOT,
      env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), SCENARIO_TIMEOUT_MS);
  const code = await new Promise<number | null>((done) => child.on('close', done));
  clearTimeout(timer);
  try {
    const report = JSON.parse(await readFile(reportPath, 'utf8')) as ScenarioReport;
    // A broken invariant comes with what the pipeline warned of meanwhile (the handlers log at WARN).
    if (report.violations.length > 0) {
      const warnings = output
        .split('\n')
        .filter((line) => /"level":"(WARN|ERROR)"|Invocation failed|Error/.test(line))
        .slice(-20);
      if (warnings.length > 0) {
        report.violations.push(`the pipeline's last warnings:\n${warnings.join('\n')}`);
      }
    }
    return report;
  } catch {
    return {
      name,
      tally: { rows: 0, created: 0, rejected: 0, invalid: 0, unknown: 0, duplicates: 0, lost: 0 },
      violations: [
        `the scenario crashed (exit ${code ?? 'killed'}); its output ends:\n${output.slice(-3_000)}`,
      ],
      seconds: (performance.now() - started) / 1000,
      notes: [],
    };
  }
}

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  if (args.includes('--list')) {
    for (const entry of entries) console.log(`${entry.name.padEnd(20)} ${entry.summary}`);
    return 0;
  }
  const unknown = args.filter((name) => !entries.some((entry) => entry.name === name));
  if (unknown.length > 0) {
    console.error(`unknown scenario(s): ${unknown.join(', ')} (try --list)`);
    return 2;
  }
  const chosen = args.length > 0 ? entries.filter((e) => args.includes(e.name)) : entries;
  const workDir = await mkdtemp(join(tmpdir(), 'gift-batch-faults-'));
  const started = performance.now();
  const reports: ScenarioReport[] = [];
  try {
    for (const entry of chosen) {
      process.stderr.write(`▶ ${entry.name}: ${entry.summary}\n`);
      const report = await entry.run(workDir).catch(
        (error: unknown): ScenarioReport => ({
          name: entry.name,
          tally: {
            rows: 0,
            created: 0,
            rejected: 0,
            invalid: 0,
            unknown: 0,
            duplicates: 0,
            lost: 0,
          },
          violations: [
            `the scenario itself failed: ${error instanceof Error ? error.stack : error}`,
          ],
          seconds: 0,
          notes: [],
        }),
      );
      reports.push(report);
      process.stderr.write(
        `  ${report.violations.length === 0 ? 'ok' : 'FAILED'} in ${report.seconds.toFixed(1)} s\n`,
      );
      // Said at once too: a long run stopped part-way still shows why a scenario failed.
      for (const violation of report.violations) process.stderr.write(`  - ${violation}\n`);
    }
  } finally {
    await rm(workDir, { recursive: true, force: true });
  }

  console.log(`\n${reportTable(reports)}\n`);
  for (const report of reports) {
    for (const note of report.notes) console.log(`  ${report.name}: ${note}`);
  }
  const failed = reports.filter((report) => report.violations.length > 0);
  for (const report of failed) {
    console.log(`\nFAILED ${report.name}:`);
    for (const violation of report.violations) console.log(`  - ${violation}`);
  }
  console.log(
    `\n${reports.length - failed.length}/${reports.length} scenarios held every invariant in ${(
      (performance.now() - started) / 1000
    ).toFixed(0)} s`,
  );
  return failed.length === 0 ? 0 : 1;
}

process.exitCode = await main();
