/**
 * One scenario of `npm run bench:send`, alone in its process: the handlers read their environment
 * once per process, so each pipeline needs a process of its own (and the naive loop gets one too, so
 * that nothing left over from another scenario runs beside it).
 *
 * Usage: node --import tsx bench/send-scenario.ts '<ScenarioRequest as JSON>'
 * Prints exactly one JSON line (a ScenarioResult) on stdout; progress and logs go to stderr.
 */
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { AndOpenHttpClient } from '../lambdas/adapters/andopen-http-client.ts';
import { DynamoDbLedger } from '../lambdas/adapters/dynamodb-ledger.ts';
import { mapWithConcurrency } from '../lambdas/core/concurrency.ts';
import type { GiftRequestBody } from '../lambdas/ports/gifting-api.ts';
import type { BatchCounts, BatchPhase } from '../lambdas/ports/ledger.ts';
import { ensureLedgerTable } from '../local/aws/ledger-table.ts';
import { batchIdOfUpload, LocalPipeline } from '../local/runtime/local-pipeline.ts';
import { localClientConfig } from '../local/standins/client-config.ts';
import {
  DEMO_CAMPAIGNS,
  SANDBOX_API_KEY,
  type SandboxOptions,
  type WebhookSummary,
} from '../sandbox/index.ts';
import { clientEarly, describeSandboxEarly, listenToClient } from './client-view.ts';
import {
  computeFigures,
  extrapolate,
  type Interval,
  type SendFigures,
  sendPhase,
} from './metrics.ts';
import { runNaiveLoop } from './naive-loop.ts';
import { type SandboxProcess, startSandboxProcess } from './sandbox-process.ts';

export type ScenarioName = 'pipeline' | 'pipeline-503' | 'pipeline-webhooks' | 'naive';

export interface ScenarioRequest {
  scenario: ScenarioName;
  /** The recipient file (choice-mode rows; header `campaign_id,external_id,first_name,…`). */
  csv: string;
  rows: number;
  rps: number;
  latencyMs: { min: number; max: number };
  /** The naive loop runs on the first `naiveRows` rows and is extrapolated to `rows`. */
  naiveRows: number;
  /** Length of the maintenance window of `pipeline-503`. */
  maintenanceMs: number;
  /** Where the naive loop writes its results file. */
  naiveResultsPath: string;
  /** Where DynamoDB Local keeps the pipeline's ledger (see LedgerStorage in send.ts). */
  ledger: 'memory' | 'disk';
  /** Sender invocations at once, as `gift-batch run --concurrency`. */
  concurrency: number;
  /** Rows written and updated on a table of its own before the upload, to warm DynamoDB Local's JVM (0: none). */
  warmUpRows: number;
}

export interface ScenarioResult {
  scenario: ScenarioName;
  figures: SendFigures;
  /** The pipeline's own view of the batch at the end (null for the naive loop). */
  batch: { phase: BatchPhase; counts: BatchCounts } | null;
  /** The naive loop's outcomes, counted (null for the pipeline). */
  naive: { created: number; withUrl: number; failed: number } | null;
  /** The maintenance window as it was placed (journal clock), for pipeline-503. */
  maintenance: Interval | null;
  /** From the upload to the first POST's arrival (split and queue), for the pipeline. */
  firstPostAfterMs: number | null;
  /** The sandbox's webhook deliveries, for pipeline-webhooks (null otherwise). */
  webhooks: WebhookSummary | null;
  /**
   * Requests the pipeline's &Open client wrote after the fleet had heard a Retry-After and before
   * it passed (see client-view.ts); null for the naive loop.
   */
  clientEarlyRequests: number | null;
}

const REDEMPTION_URL_DELAY_MS = 1_500;
const PROGRESS_EVERY_MS = 5_000;
/** The table the warm-up writes to, beside the pipeline's ledger on the same DynamoDB Local. */
const WARM_UP_TABLE = 'bench-warm-up';

async function main(): Promise<void> {
  // Only the result goes to stdout: handler logs (Powertools writes to stdout) go to stderr.
  const writeResult = process.stdout.write.bind(process.stdout);
  process.stdout.write = process.stderr.write.bind(process.stderr) as typeof process.stdout.write;

  const request = JSON.parse(process.argv[2] ?? '') as ScenarioRequest;
  let result: ScenarioResult;
  try {
    result = request.scenario === 'naive' ? await runNaive(request) : await runPipeline(request);
  } catch (error) {
    // A crash: said on stderr, and the exit code tells the parent there is no result line.
    process.stderr.write(
      `[${request.scenario}] crashed: ${error instanceof Error ? error.stack : String(error)}\n`,
    );
    process.exit(1);
  }
  // Exit once the line is out: a keep-alive socket or timer left behind must not hold the
  // benchmark up (everything this scenario started was stopped before).
  writeResult(`${JSON.stringify(result)}\n`, () => process.exit(0));
}

/**
 * The pipeline with defaults a user gets (`gift-batch run`), R unknown to it.
 *
 * 1. Start the sandbox, limited to R, in a process of its own (see sandbox-process.ts); for
 *    pipeline-503 it places a maintenance window a third of the way into the expected send phase
 *    once the first POST arrives: the send phase taken as 1.5·N/R (POSTs plus the GETs that share
 *    the limit), so the window starts N/(2R) after the first POST.
 * 2. Start the local pipeline on a fresh, throwaway state dir, against that sandbox.
 * 3. Upload, split, wait until the batch is complete (its results are written then).
 * 4. Compute the figures from the sandbox's journal; stop everything.
 */
async function runPipeline(request: ScenarioRequest): Promise<ScenarioResult> {
  process.env.POWERTOOLS_LOG_LEVEL ??= 'ERROR';
  const stateDir = await mkdtemp(join(tmpdir(), 'gift-batch-bench-'));
  const say = label(request.scenario);
  let pipeline: LocalPipeline | undefined;
  let sandbox: SandboxProcess | undefined;
  const timers: NodeJS.Timeout[] = [];
  // What the pipeline's &Open client wrote and heard, beside what the sandbox saw arrive.
  const { view: client, stop: stopListening } = listenToClient();
  const stopOnSignal = () => {
    say('interrupted; stopping the pipeline');
    void (pipeline?.stop() ?? Promise.resolve())
      .then(() => sandbox?.stop())
      .finally(() => process.exit(130));
  };
  process.once('SIGINT', stopOnSignal);
  process.once('SIGTERM', stopOnSignal);
  try {
    say(
      `starting the sandbox (own process) and the local pipeline (DynamoDB Local with the ledger ${request.ledger === 'memory' ? 'in memory' : 'on disk'}, fauxqs)…`,
    );
    sandbox = await startSandboxProcess({
      sandbox: sandboxOptions(request),
      ...(request.scenario === 'pipeline-503'
        ? {
            maintenance: {
              afterFirstPostMs: (request.rows * 1000) / (2 * request.rps),
              durationMs: request.maintenanceMs,
            },
          }
        : {}),
    });
    pipeline = await LocalPipeline.start({
      stateDir,
      fresh: true,
      sandboxUrl: sandbox.url,
      ledgerStorage: request.ledger,
      concurrency: request.concurrency,
      // The sandbox announces each link by a signed webhook; the poller is only a safety net.
      ...(request.scenario === 'pipeline-webhooks' ? { webhooks: true } : {}),
    });

    if (request.warmUpRows > 0) {
      const took = await warmUpDynamoDbLocal(request.warmUpRows);
      say(`DynamoDB Local warmed up: ${request.warmUpRows} rows written and updated in ${took} ms`);
    }
    const startedAt = Date.now();
    // From the upload on: the split runs while the senders already send.
    let latest: BatchCounts | null = null;
    const progress = setInterval(() => {
      // The ledger's counts are read once the split has returned. (The sandbox's journal is read
      // once, at the end: reading it over HTTP every few seconds would load the sandbox.)
      const ledger = latest
        ? `${latest.created + latest.rejected + latest.unknown}/${request.rows} rows decided, ` +
          `${latest.settled} settled`
        : 'split still running';
      say(`${((Date.now() - startedAt) / 1000).toFixed(0)} s: ${ledger}`);
    }, PROGRESS_EVERY_MS);
    timers.push(progress);
    // BENCH_JOURNAL=path: also keep the limiter's view twice a second, to see where capacity went.
    const rates: string[] = [];
    if (process.env.BENCH_JOURNAL) {
      timers.push(
        setInterval(() => {
          void pipeline?.limiterState().then((state) => {
            if (!state) return;
            rates.push(
              `${Date.now()} rate=${state.rate.toFixed(1)} phase=${state.phase} paused=${state.pausedUntil} sendRate=${state.sendRate.toFixed(1)} measured=${state.measuredLimit?.toFixed(1) ?? '–'} refusals=${JSON.stringify(state.refusals ?? null)} credit=${JSON.stringify(state.credit ?? null)} burstAtMost=${state.burstAtMost ?? '–'}`,
            );
          });
        }, 500),
      );
    }
    const event = await pipeline.upload(request.csv);
    const batchId = await batchIdOfUpload(event);
    await pipeline.split(event);

    const batch = await pipeline
      .waitForBatch(
        batchId,
        (current) => {
          latest = current.counts;
        },
        // A pipeline that stalls must end the benchmark, not hang it.
        { signal: AbortSignal.timeout(deadlineMs(request)) },
      )
      .finally(() => clearInterval(progress));
    const finishedAt = batch.completedAt ? Date.parse(batch.completedAt) : Date.now();

    const journal = await sandbox.journal();
    const maintenance =
      request.scenario === 'pipeline-503' ? await sandbox.maintenanceWindow() : null;
    const figures = computeFigures({
      journal,
      rows: request.rows,
      rps: request.rps,
      endToEndMs: finishedAt - startedAt,
      paused: maintenance ? [maintenance] : [],
    });
    say(`batch ${batch.phase} in ${(figures.endToEndMs / 1000).toFixed(1)} s`);
    stopListening();
    const earlyOnTheClient = clientEarly(client);
    for (const line of describeSandboxEarly(journal.earlyRequests, client)) say(line);
    for (const request of earlyOnTheClient) {
      say(
        `client: ${request.method} ${request.path} written ${request.writtenAt - request.heardAt} ms after the fleet heard a Retry-After, ${request.until - request.writtenAt} ms before it passed${request.newConnection ? ' (new connection)' : ''}`,
      );
    }
    if (process.env.BENCH_JOURNAL) {
      // For looking at where the capacity went: one line per request, a file per scenario.
      const { writeFileSync } = await import('node:fs');
      const path = `${process.env.BENCH_JOURNAL}.${request.scenario}`;
      writeFileSync(
        path,
        journal.requests
          .map((r) => `${r.at} ${r.method} ${r.status} ${r.early ? 1 : 0}`)
          .join('\n'),
      );
      writeFileSync(`${path}.rates`, rates.join('\n'));
    }
    const firstPost = sendPhase(journal.requests);
    return {
      scenario: request.scenario,
      figures,
      batch: { phase: batch.phase, counts: batch.counts },
      naive: null,
      maintenance,
      firstPostAfterMs: firstPost === null ? null : firstPost.start - startedAt,
      webhooks: request.scenario === 'pipeline-webhooks' ? await sandbox.webhookSummary() : null,
      clientEarlyRequests: earlyOnTheClient.length,
    };
  } finally {
    stopListening();
    for (const timer of timers) clearInterval(timer);
    await pipeline?.stop();
    await sandbox?.stop();
    await rm(stateDir, { recursive: true, force: true });
    process.off('SIGINT', stopOnSignal);
    process.off('SIGTERM', stopOnSignal);
  }
}

/**
 * Runs the ledger's own writes (a batch written 25 rows at a time, each row claimed, released and
 * read, ten at once) against a table of their own on the pipeline's DynamoDB Local, and says how long
 * it took (ms). A new JVM runs its first thousands of requests interpreted, several times slower than
 * once compiled, and on two cores the split and the first sends queue behind it: the first seconds
 * would measure the stand-in's warm-up, which DynamoDB in AWS does not have, not the rate limiter.
 */
async function warmUpDynamoDbLocal(rows: number): Promise<number> {
  const endpoint = process.env.AWS_ENDPOINT_URL_DYNAMODB;
  if (!endpoint) throw new Error('the local pipeline did not say where its DynamoDB Local is');
  const startedAt = Date.now();
  const client = new DynamoDBClient(localClientConfig(endpoint));
  try {
    await ensureLedgerTable(client, WARM_UP_TABLE);
    const ledger = new DynamoDbLedger({ client, tableName: WARM_UP_TABLE });
    const batchId = 'warm-up';
    await ledger.createBatch({
      batchId,
      source: {
        description: 'DynamoDB Local warm-up',
        bucket: null,
        key: null,
        versionOrEtag: null,
      },
      createdAt: new Date().toISOString(),
    });
    const body = {
      campaign_id: DEMO_CAMPAIGNS.choice,
      recipient: { first_name: 'W', last_name: 'U' },
    };
    await ledger.putRows(
      Array.from({ length: rows }, (_, index) => ({
        batchId,
        row: index + 1,
        line: index + 2,
        state: 'pending' as const,
        echo: {
          externalId: null,
          campaignId: body.campaign_id,
          firstName: 'W',
          lastName: 'U',
          email: null,
        },
        body,
        errors: [],
      })),
    );
    await mapWithConcurrency(
      Array.from({ length: rows }, (_, index) => index + 1),
      10,
      async (row) => {
        await ledger.claimRow(batchId, row, new Date().toISOString());
        await ledger.releaseRow(batchId, row, new Date().toISOString());
        await ledger.getRow(batchId, row);
      },
    );
  } finally {
    client.destroy();
  }
  return Date.now() - startedAt;
}

/**
 * The naive loop on the first `naiveRows` rows, against a sandbox with the same limit and latency,
 * extrapolated linearly to all rows (it is sequential: every row costs it the same).
 */
async function runNaive(request: ScenarioRequest): Promise<ScenarioResult> {
  const say = label('naive');
  const sandbox = await startSandboxProcess({ sandbox: sandboxOptions(request) });
  const api = new AndOpenHttpClient({ baseUrl: sandbox.url, apiKey: SANDBOX_API_KEY });
  try {
    const startedAt = Date.now();
    const bodies = readBodies(request.csv, request.naiveRows);
    say(`${bodies.length} rows, one at a time (extrapolated to ${request.rows} afterwards)`);
    let lastShown = 0;
    const outcomes = await runNaiveLoop({
      api,
      bodies,
      onProgress: (phase, done, total) => {
        if (Date.now() - lastShown < PROGRESS_EVERY_MS && done !== total) return;
        lastShown = Date.now();
        say(`${phase === 'post' ? 'POST' : 'poll'} ${done}/${total}`);
      },
    });
    await writeNaiveResults(request.naiveResultsPath, outcomes);
    const endToEndMs = Date.now() - startedAt;

    const sample = computeFigures({
      journal: await sandbox.journal(),
      rows: bodies.length,
      rps: request.rps,
      endToEndMs,
    });
    say(`${bodies.length} rows in ${(endToEndMs / 1000).toFixed(1)} s`);
    return {
      scenario: 'naive',
      figures: extrapolate(sample, request.rows),
      batch: null,
      naive: {
        created: outcomes.filter((o) => o.giftRequestId !== null).length,
        withUrl: outcomes.filter((o) => o.redemptionUrl !== null).length,
        failed: outcomes.filter((o) => o.error !== null).length,
      },
      maintenance: null,
      firstPostAfterMs: null,
      webhooks: null,
      clientEarlyRequests: null,
    };
  } finally {
    api.close();
    await sandbox.stop();
  }
}

function sandboxOptions(request: ScenarioRequest): SandboxOptions {
  return {
    rateLimit: { rps: request.rps },
    latencyMs: request.latencyMs,
    redemptionUrlDelayMs: REDEMPTION_URL_DELAY_MS,
  };
}

/** Ten times the naive loop's pace, at least ten minutes: far beyond any pipeline that works. */
function deadlineMs(request: ScenarioRequest): number {
  const naivePaceMs = request.rows * 2 * request.latencyMs.max;
  return Math.max(10 * 60_000, naivePaceMs);
}

/** The first rows of the generated file, read as a user's script would: it has no quoted cells. */
function readBodies(csv: string, limit: number): GiftRequestBody[] {
  const [header, ...lines] = readFileSync(csv, 'utf8').split(/\r?\n/);
  const columns = (header ?? '').split(',');
  const at = (cells: string[], name: string) => cells[columns.indexOf(name)] ?? '';
  return lines
    .filter((line) => line !== '')
    .slice(0, limit)
    .map((line) => {
      const cells = line.split(',');
      const email = at(cells, 'email');
      return {
        campaign_id: at(cells, 'campaign_id'),
        recipient: {
          first_name: at(cells, 'first_name'),
          last_name: at(cells, 'last_name'),
          ...(email ? { email } : {}),
        },
      };
    });
}

async function writeNaiveResults(
  path: string,
  outcomes: Awaited<ReturnType<typeof runNaiveLoop>>,
): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const lines = outcomes.map((o) =>
    [o.row, o.giftRequestId ?? '', o.redemptionUrl ?? '', o.error ?? ''].join(','),
  );
  await writeFile(path, `row,gift_request_id,redemption_url,error\r\n${lines.join('\r\n')}\r\n`);
}

function label(scenario: string): (line: string) => void {
  return (line) => process.stderr.write(`[${scenario}] ${line}\n`);
}

await main();
