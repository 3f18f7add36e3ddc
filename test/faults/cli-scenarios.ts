/**
 * Scenarios that drive the real CLI as child processes against a sandbox in another process: a run
 * killed with SIGKILL mid-request then run again, and a key revoked part-way through a batch.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDbLedger } from '../../lambdas/adapters/dynamodb-ledger.ts';
import { LOCAL_NAMES } from '../../local/runtime/local-pipeline.ts';
import { localClientConfig, startDynamoDbLocal } from '../../local/standins/index.ts';
import { type JournalRequest, SANDBOX_API_KEY } from '../../sandbox/index.ts';
import {
  accepts,
  exitCode,
  isAlive,
  type JournalView,
  listenersOf,
  listeningPorts,
  processTree,
  type RunningCli,
  type SandboxProcess,
  saidToUser,
  startCli,
  startSandboxProcess,
} from '../support/cli-processes.ts';
import { auditScenario, type PlannedRow, recipientFile } from '../support/fault-audit.ts';
import { parseResultsCsv, type ResultsLine } from '../support/results-csv.ts';
import type { ScenarioReport } from './report.ts';

export interface CliScenario {
  name: string;
  summary: string;
  run: () => Promise<ScenarioReport>;
}

/**
 * A run that has not finished by then is killed and reported. The runs get the settings a user
 * gets: a killed run never added the rows it decided last to the batch's counters, and the next run
 * must correct them from the rows at its start, not wait for the 5-minute quiet-batch recheck.
 */
const RUN_DEADLINE_MS = 180_000;
/**
 * Rows per file: enough for a kill early, mid-batch and late to leave rows of every kind behind,
 * and for each run to start, send and stop several sender invocations.
 */
const ROWS = 120;
const SECOND_KEY = 'ao-v1-staging-faultsuitesecondkey';

interface Workspace {
  dir: string;
  csvPath: string;
  stateDir: string;
  outPath: string;
  planned: PlannedRow[];
  sandbox: SandboxProcess;
  runArgs: (apiKey: string) => string[];
  /** With FAULTS_TRACE=1, prints how far into the scenario `what` happened (where time goes). */
  mark: (what: string) => void;
}

/** Sets up a file, a sandbox process and the run's arguments, then always cleans up. */
async function inWorkspace(
  name: string,
  sandboxArgs: string[],
  body: (workspace: Workspace, violations: string[], notes: string[]) => Promise<void>,
): Promise<ScenarioReport> {
  const started = performance.now();
  const dir = await mkdtemp(join(tmpdir(), `gift-batch-faults-${name}-`));
  const file = recipientFile(ROWS, name.toUpperCase());
  const csvPath = join(dir, `${name}.csv`);
  await writeFile(csvPath, file.csv);
  const violations: string[] = [];
  const notes: string[] = [];
  const mark = (what: string) => {
    if (process.env.FAULTS_TRACE !== '1') return;
    process.stderr.write(`${((performance.now() - started) / 1000).toFixed(1)}s ${what}\n`);
  };
  const sandbox = await startSandboxProcess(sandboxArgs, dir);
  mark('sandbox started');
  const workspace: Workspace = {
    mark,
    dir,
    csvPath,
    stateDir: join(dir, 'state'),
    outPath: join(dir, 'results.csv'),
    planned: file.rows,
    sandbox,
    runArgs: (apiKey) => [
      'run',
      csvPath,
      '--api-url',
      sandbox.url,
      '--api-key',
      apiKey,
      '--state-dir',
      join(dir, 'state'),
      '--out',
      join(dir, 'results.csv'),
      // The file has rows &Open refuses on purpose: send them all the same, as a script would.
      '--yes',
    ],
  };
  try {
    await body(workspace, violations, notes);
    mark('runs done');
    const { tally, violations: broken } = await auditCli(workspace);
    mark('audited');
    return {
      name,
      tally,
      violations: [...violations, ...broken],
      seconds: (performance.now() - started) / 1000,
      notes,
    };
  } finally {
    await sandbox.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

/** The common audit, from the results file, the sandbox's journal and the ledger left on disk. */
async function auditCli(workspace: Workspace) {
  let results: ResultsLine[] | null = null;
  try {
    results = parseResultsCsv(await readFile(workspace.outPath, 'utf8'));
  } catch {
    results = null;
  }
  const { gifts } = await workspace.sandbox.journal();
  let states = new Map<number, string>();
  const unreadable: string[] = [];
  try {
    states = await ledgerStates(workspace.stateDir);
  } catch (error) {
    unreadable.push(`the ledger the runs left cannot be read: ${String(error).split('\n')[0]}`);
  }
  const audit = auditScenario({
    planned: workspace.planned,
    results,
    gifts,
    ledgerStates: states,
    // The queues lived in the run's process; the ledger says whether any row was left behind.
    deadLetters: 0,
  });
  return { tally: audit.tally, violations: [...unreadable, ...audit.violations] };
}

/** Every row's state in the local ledger a run left under `stateDir`. */
async function ledgerStates(stateDir: string): Promise<Map<number, string>> {
  const dynamo = await startDynamoDbLocal({ storage: { dataDir: join(stateDir, 'ledger') } });
  const client = new DynamoDBClient(localClientConfig(dynamo.endpoint));
  try {
    const ledger = new DynamoDbLedger({ client, tableName: LOCAL_NAMES.ledgerTable });
    const states = new Map<number, string>();
    for (const batch of await ledger.listBatches({ limit: 10 })) {
      for await (const row of ledger.listRows(batch.batchId)) states.set(row.row, row.state);
    }
    return states;
  } finally {
    client.destroy();
    await dynamo.stop();
  }
}

/**
 * Waits until the sandbox has created `count` gifts (and, with `splitDone`, the run's progress line
 * says the file was read whole), or the run ended first (false).
 */
async function giftsReach(
  sandbox: SandboxProcess,
  run: RunningCli,
  count: number,
  splitDone = false,
): Promise<boolean> {
  let ended = false;
  run.exited.then(() => {
    ended = true;
  });
  const deadline = Date.now() + RUN_DEADLINE_MS;
  while (!ended && Date.now() < deadline) {
    const split = !splitDone || /\] validated \d+/.test(run.output());
    if (split && (await sandbox.journal()).gifts.length >= count) return true;
    await new Promise((resolve) => setTimeout(resolve, 40));
  }
  return false;
}

/** Runs to the end; a non-zero exit is a violation that quotes the run's last words. */
async function runToEnd(args: string[], dir: string, violations: string[], what: string) {
  const run = startCli(args, dir);
  const code = await exitCode(run, RUN_DEADLINE_MS);
  if (code !== 0) violations.push(`${what} ended ${code}, not 0:\n${saidToUser(run.output())}`);
  return { code, output: run.output() };
}

/** The sandbox's answer time in the kill scenarios, as &Open's on a normal day. */
const LATENCY_MS = { min: 100, max: 300 };
/**
 * At the kill the sandbox holds every answer this long: far longer than the kill takes even on a
 * loaded machine, so the run dies with POSTs written and their answers not yet come.
 */
const HELD_ANSWER_MS = 4_000;

/** POST /gift_requests as the sandbox saw them. */
function postsOf(journal: JournalView): JournalRequest[] {
  return journal.requests.filter(
    (request) => request.method === 'POST' && request.path === '/gift_requests',
  );
}

/** Waits until a POST arrived at or after `since` (true), or the run ended first (false). */
async function postArrives(sandbox: SandboxProcess, run: RunningCli, since: number) {
  let ended = false;
  run.exited.then(() => {
    ended = true;
  });
  const deadline = Date.now() + RUN_DEADLINE_MS;
  while (!ended && Date.now() < deadline) {
    if (postsOf(await sandbox.journal()).some((request) => request.at >= since)) return true;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return false;
}

/**
 * Kill -9 the runner mid-request once the sandbox has created `killAt` gifts: the sandbox starts
 * holding its answers, and the kill comes as soon as a POST is waiting for one. Then check that
 * nothing the run started survived it, run the same command again, and check that every row that
 * was in flight at the kill ended `unknown` (it may have created a gift: nobody can know), and that
 * no row was POSTed twice.
 */
function killScenario(name: string, killAt: number, when: string, splitDone: boolean): CliScenario {
  return {
    name,
    summary: `SIGKILL gift-batch run ${when} (after ${killAt} gifts) with POSTs in flight, then run it again`,
    run: () =>
      inWorkspace(
        name,
        ['--latency', `${LATENCY_MS.min}-${LATENCY_MS.max}`, '--url-delay', '300', '--seed', '5'],
        async (workspace, violations, notes) => {
          const { sandbox } = workspace;
          const args = workspace.runArgs(SANDBOX_API_KEY);
          const first = startCli(args, workspace.dir);
          workspace.mark('first run started');
          if (!(await giftsReach(sandbox, first, killAt, splitDone))) {
            violations.push(`the run ended before ${killAt} gifts:\n${saidToUser(first.output())}`);
            return;
          }
          // Hold the answers first: late in a batch the last POSTs follow within a second, and
          // reading the process tree first (slow on a loaded machine) once let them all through.
          await sandbox.configure({ latencyMs: { min: HELD_ANSWER_MS, max: HELD_ANSWER_MS } });
          const heldSince = Date.now();
          const tree = await processTree(first.pid);
          const ports = await listeningPorts(tree);
          if (!(await postArrives(sandbox, first, heldSince))) {
            violations.push(
              `the run sent nothing more to kill it on:\n${saidToUser(first.output())}`,
            );
            return;
          }
          first.child.kill('SIGKILL');
          const killedAt = Date.now();
          workspace.mark(`killed ${killedAt - heldSince} ms after the answers were held`);
          await first.exited;
          await sandbox.configure({ latencyMs: LATENCY_MS });
          const atKill = await sandbox.journal();

          // The POSTs the run wrote and never heard back from: their answers were held past the kill.
          const held = postsOf(atKill).filter((request) => request.at >= heldSince);
          const firstHeld = Math.min(...held.map((request) => request.at));
          if (held.length === 0 || killedAt - firstHeld >= HELD_ANSWER_MS) {
            violations.push('no POST was in flight at the kill: the scenario proved nothing');
          }

          // Nothing the killed run started may outlive it (DynamoDB Local watches its stdin).
          const deadline = Date.now() + 20_000;
          let survivors = tree;
          while (survivors.length > 0 && Date.now() < deadline) {
            await new Promise((resolve) => setTimeout(resolve, 100));
            survivors = (
              await Promise.all(tree.map(async (pid) => ((await isAlive(pid)) ? pid : 0)))
            ).filter((pid) => pid !== 0);
          }
          // A port may already serve another process on this busy machine (another user's, whose
          // sockets /proc does not show us): only a listener among the killed run's processes counts.
          const open: string[] = [];
          for (const port of ports) {
            if (!(await accepts(port))) continue;
            const owners = await listenersOf(port);
            if (owners.some((pid) => tree.includes(pid))) open.push(`${port} (pids ${owners})`);
            else notes.push(`port ${port} answers again, not from the killed run's processes`);
          }
          if (survivors.length > 0) {
            violations.push(`processes outlived the killed run: pids ${survivors.join(', ')}`);
            for (const pid of survivors) process.kill(pid, 'SIGKILL');
          }
          if (open.length > 0)
            violations.push(`ports still open after the kill: ${open.join(', ')}`);
          notes.push(
            `killed at ${atKill.gifts.length} gifts with ${held.length} POST(s) in flight; ${tree.length} processes (pids ${tree.join(', ')}) and ports ${ports.join(', ')} gone`,
          );

          const again = performance.now();
          workspace.mark('second run started');
          await runToEnd(args, workspace.dir, violations, 'the second run');
          notes.push(`the second run took ${((performance.now() - again) / 1000).toFixed(1)} s`);

          // A row in flight at the kill was left `sending`: the second run must call it unknown.
          const outcomes = await outcomesByEmail(workspace);
          const emailOfGift = new Map(atKill.gifts.map((gift) => [gift.id, emailOf(gift.body)]));
          const notUnknown = held
            .map((request) => emailOfGift.get(request.giftId ?? ''))
            .filter((email): email is string => email !== undefined)
            .map((email) => `${email} (${outcomes.get(email) ?? 'no outcome'})`)
            .filter((line) => !line.endsWith('(unknown)'));
          if (notUnknown.length > 0) {
            violations.push(
              `rows in flight at the kill did not end unknown: ${notUnknown.join(', ')}`,
            );
          }
          const sendable = workspace.planned.filter((row) => row.kind !== 'invalid').length;
          const allPosts = postsOf(await sandbox.journal()).length;
          if (allPosts > sendable) {
            violations.push(`${allPosts} POSTs for ${sendable} rows to send: a row was sent twice`);
          }
        },
      ),
  };
}

/** The outcome of every row in the results file, by recipient email (empty without a file). */
async function outcomesByEmail(workspace: Workspace): Promise<Map<string, string>> {
  try {
    const results = parseResultsCsv(await readFile(workspace.outPath, 'utf8'));
    return new Map(results.map((line) => [line.email.toLowerCase(), line.outcome]));
  } catch {
    return new Map();
  }
}

function emailOf(body: unknown): string | undefined {
  const email = (body as { recipient?: { email?: unknown } } | null)?.recipient?.email;
  return typeof email === 'string' ? email.toLowerCase() : undefined;
}

const badKeyScenario: CliScenario = {
  name: 'bad-key',
  summary:
    'the key is revoked after 60 gifts, the file read whole; the batch stops, then runs again with a good key',
  run: () =>
    inWorkspace(
      'bad-key',
      ['--latency', '20-60', '--url-delay', '300', '--seed', '5', '--api-key', SECOND_KEY],
      async (workspace, violations, notes) => {
        const first = startCli(workspace.runArgs(SANDBOX_API_KEY), workspace.dir);
        // Once the file is read whole: a stop during the split is another matter (see the report).
        if (!(await giftsReach(workspace.sandbox, first, 60, true))) {
          violations.push(`the run ended before 60 gifts:\n${saidToUser(first.output())}`);
          return;
        }
        await workspace.sandbox.revokeKey(SANDBOX_API_KEY);
        const code = await exitCode(first, RUN_DEADLINE_MS);
        const said = first.output();
        if (code !== 3)
          violations.push(`the run with a revoked key ended ${code}, not 3 (stopped)`);
        const reason = said.match(/STOPPED: (.*)/)?.[1];
        if (!reason?.includes('401')) {
          violations.push(`the stop does not give the reason (HTTP 401):\n${saidToUser(said)}`);
        }
        if (said.includes(SANDBOX_API_KEY)) violations.push('the run printed the API key');
        const { gifts } = await workspace.sandbox.journal();
        notes.push(`stopped after ${gifts.length} gifts: ${reason ?? '(no reason printed)'}`);

        await runToEnd(
          workspace.runArgs(SECOND_KEY),
          workspace.dir,
          violations,
          'the run with a good key',
        );
      },
    ),
};

export const CLI_SCENARIOS: CliScenario[] = [
  killScenario('kill-early', 10, 'early, maybe while the file is still being read', false),
  killScenario('kill-mid', 60, 'mid-batch, once the file is read', true),
  killScenario('kill-late', 100, 'late', true),
  badKeyScenario,
];
