/**
 * Runs one scenario through LocalPipeline in this process: the real stand-ins (fauxqs, DynamoDB
 * Local), the built-in sandbox with the scenario's faults, and the deployed handlers driven as
 * Lambda drives them. One scenario per process: the handlers read their environment once.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { S3Event } from 'aws-lambda';
import type { BatchRecord } from '../../lambdas/ports/ledger.ts';
import {
  batchIdOfUpload,
  LocalPipeline,
  type LocalPipelineOptions,
} from '../../local/runtime/local-pipeline.ts';
import type { Journal, Sandbox, SandboxOptions } from '../../sandbox/index.ts';
import { auditScenario, recipientFile, type Tally } from '../support/fault-audit.ts';
import { parseResultsCsv, type ResultsLine } from '../support/results-csv.ts';
import type { ScenarioReport } from './report.ts';

export const DEFAULT_ROWS = 240;
/** A scenario that has not completed by then is reported, not waited for. */
const BATCH_DEADLINE_MS = 150_000;

export interface ScenarioContext {
  pipeline: LocalPipeline;
  sandbox: Sandbox;
  event: S3Event;
  batchId: string;
  rows: number;
  /** Sender invocations that ran past their function timeout so far. */
  timedOutInvocations: () => number;
}

/** What a scenario's own checks look at, after the common audit. */
export interface Observed {
  tally: Tally;
  journal: Journal;
  /** Rows the file means to send (valid and sandbox-rejected ones). */
  sendable: number;
  valid: number;
  results: ResultsLine[] | null;
}

export interface InProcessScenario {
  name: string;
  /** What it does, one line (the runner's --list). */
  summary: string;
  rows?: number;
  sandbox?: SandboxOptions;
  /** Handler environment on top of the suite's quick polling. */
  environment?: Record<string, string>;
  pipeline?: Partial<Pick<LocalPipelineOptions, 'senderTimeoutSeconds' | 'concurrency'>>;
  /** How the upload reaches the splitter; default: one S3 event. */
  deliver?: (context: ScenarioContext) => Promise<void>;
  /** Runs beside the batch while it is sent (faults that strike part-way). */
  during?: (context: ScenarioContext) => Promise<void>;
  /** The scenario's own invariants, beyond the common ones; each broken one is a sentence. */
  check?: (observed: Observed) => string[];
  /** Lines for the report (what was injected, how the sandbox answered). */
  notes?: (observed: Observed) => string[];
}

/** Polls `condition` until it holds; throws after `timeoutMs`. */
export async function until(
  condition: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 60_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

export async function runInProcess(scenario: InProcessScenario): Promise<ScenarioReport> {
  const started = performance.now();
  const dir = await mkdtemp(join(tmpdir(), `gift-batch-faults-${scenario.name}-`));
  const file = recipientFile(scenario.rows ?? DEFAULT_ROWS, scenario.name.toUpperCase());
  const violations: string[] = [];
  let timedOut = 0;
  let pipeline: LocalPipeline | undefined;
  const mark = (what: string) => {
    if (process.env.FAULTS_TRACE !== '1') return;
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    process.stderr.write(`${seconds}s ${what}\n`);
  };
  try {
    pipeline = await LocalPipeline.start({
      stateDir: join(dir, 'state'),
      fresh: true,
      sandbox: { redemptionUrlDelayMs: 300, seed: 5, ...scenario.sandbox },
      pollEveryMs: 150,
      environment: {
        POLL_FIRST_AFTER_MS: '100',
        POLL_MIN_INTERVAL_MS: '100',
        ...scenario.environment,
      },
      ...scenario.pipeline,
      onSenderInvoke: (report) => {
        if (report.outcome === 'timed-out') timedOut += 1;
      },
    });
    mark('pipeline started');
    const sandbox = pipeline.sandbox;
    if (!sandbox) throw new Error('the built-in sandbox should be running');
    const csvPath = join(dir, `${scenario.name}.csv`);
    await writeFile(csvPath, file.csv);
    const event = await pipeline.upload(csvPath);
    const batchId = await batchIdOfUpload(event);
    mark('uploaded');
    const context: ScenarioContext = {
      pipeline,
      sandbox,
      event,
      batchId,
      rows: file.rows.length,
      timedOutInvocations: () => timedOut,
    };

    // Act: deliver the upload, strike part-way, wait for the batch to end.
    const during = scenario.during?.(context).catch((error: unknown) => {
      violations.push(`the scenario's mid-batch fault failed: ${String(error)}`);
    });
    await (scenario.deliver ?? ((c) => c.pipeline.split(c.event)))(context);
    mark('delivered');
    let batch: BatchRecord | null = null;
    try {
      batch = await pipeline.waitForBatch(
        batchId,
        (current) => mark(JSON.stringify(current.counts)),
        {
          everyMs: 100,
          signal: AbortSignal.timeout(BATCH_DEADLINE_MS),
        },
      );
    } catch {
      violations.push(`the batch did not end within ${BATCH_DEADLINE_MS / 1000} s`);
    }
    await during;

    // Assess: the results file, the ledger and the sandbox against each other.
    let results: ResultsLine[] | null = null;
    if (batch?.phase === 'complete') {
      const out = join(dir, 'results.csv');
      await pipeline.downloadResults(batch, out);
      results = parseResultsCsv(await readFile(out, 'utf8'));
    } else if (batch) {
      violations.push(`the batch ended ${batch.phase}: ${batch.stopReason ?? ''}`);
    }
    const ledgerStates = new Map<number, string>();
    for await (const row of pipeline.ledger.listRows(batchId)) ledgerStates.set(row.row, row.state);
    const audit = auditScenario({
      planned: file.rows,
      results,
      gifts: sandbox.journal.gifts,
      ledgerStates,
      deadLetters: await pipeline.deadLetterCount(),
    });
    violations.push(...audit.violations);
    const valid = file.rows.filter((row) => row.kind === 'valid').length;
    const observed: Observed = {
      tally: audit.tally,
      journal: sandbox.journal,
      valid,
      sendable: valid + file.rows.filter((row) => row.kind === 'rejected').length,
      results,
    };
    violations.push(...(scenario.check?.(observed) ?? []));
    return {
      name: scenario.name,
      tally: audit.tally,
      violations,
      seconds: (performance.now() - started) / 1000,
      notes: scenario.notes?.(observed) ?? [],
    };
  } finally {
    await pipeline?.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

/** POST /gift_requests as the sandbox saw them. */
export function posts(journal: Journal) {
  return journal.requests.filter(
    (request) => request.method === 'POST' && request.path === '/gift_requests',
  );
}

/** Requests by HTTP status ("no-answer" for dropped sockets), as one short line. */
export function statusLine(journal: Journal): string {
  return Object.entries(journal.summary().byStatus)
    .map(([status, count]) => `${status}×${count}`)
    .join(' ');
}
