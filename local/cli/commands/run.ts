import { access, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline/promises';
import { Command, InvalidArgumentError, Option } from 'commander';
import { AndOpenHttpClient } from '../../../lambdas/adapters/andopen-http-client.ts';
import { maxRowsPerFile } from '../../../lambdas/config.ts';
import { ApprovalService } from '../../../lambdas/core/approval-service.ts';
import type { ResultsSummary } from '../../../lambdas/core/results.ts';
import { systemClock } from '../../../lambdas/ports/clock.ts';
import type { BatchRecord } from '../../../lambdas/ports/ledger.ts';
import { DEFAULT_APPROVAL_ROWS_OVER } from '../../../lib/stack-settings.ts';
import {
  batchIdOfUpload,
  besideResults,
  LocalPipeline,
  LocalPipelineError,
} from '../../runtime/local-pipeline.ts';
import { shellWord } from '../ledger-source.ts';
import { ProgressReporter } from '../progress.ts';
import { approveSending, EXIT_NOT_APPROVED, preflightBeforeSending } from './preflight.ts';

export const EXIT_COMPLETED = 0;
export const EXIT_FAILED = 1;
export const EXIT_UNREADABLE = 2;
export const EXIT_STOPPED = 3;
export { EXIT_NOT_APPROVED };
export const EXIT_INTERRUPTED = 130;

export interface RunOptions {
  campaign?: string;
  apiUrl?: string;
  apiKey?: string;
  region?: 'us' | 'eu' | 'staging';
  out?: string;
  concurrency?: number;
  maxRps?: number;
  /** The row limit per file (MAX_ROWS_PER_FILE): a bigger file is refused whole. */
  maxRows?: number;
  fresh?: boolean;
  stateDir?: string;
  /** Send without asking when the preflight finds problems or the batch is over the limit (scripts). */
  yes?: boolean;
  /**
   * A batch with more rows than this waits for approval, as in AWS (APPROVAL_ROWS_OVER); null
   * (`--approve-over off`): no size limit. Default: $APPROVAL_ROWS_OVER, else 1,000 as in AWS.
   */
  approveOver?: number | null;
  /** `--no-preflight` sets it false: the file is not checked against the campaigns first. */
  preflight?: boolean;
  /** Links and status changes by signed webhooks from the built-in sandbox; polling as safety net. */
  webhooks?: boolean;
}

export interface Output {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown; isTTY?: boolean };
  /** Asks a person and resolves with the answer; absent without a terminal to ask on. */
  ask?: (question: string) => Promise<string>;
}

/** Where a person can answer: a terminal on stdin, asked on stderr (stdout stays the summary). */
export function terminalOutput(): Output {
  const output: Output = { stdout: process.stdout, stderr: process.stderr };
  if (process.stdin.isTTY) {
    output.ask = async (question) => {
      const prompt = createInterface({ input: process.stdin, output: process.stderr });
      try {
        return await prompt.question(question);
      } finally {
        prompt.close();
      }
    };
  }
  return output;
}

/**
 * `gift-batch run FILE`: the whole pipeline on this machine.
 *
 * 1. Start the stand-ins, the sandbox (without --api-url) and the handlers.
 * 2. Re-drive whatever an earlier, interrupted run left undecided.
 * 3. Upload the file to S3 and hand the splitter its S3 event.
 * 4. Show progress until every row has its outcome, then copy the results file out and summarise.
 * Returns the exit code; everything it started is stopped before it returns.
 */
export async function runPipeline(
  file: string,
  options: RunOptions,
  output: Output = terminalOutput(),
  signal?: AbortSignal,
): Promise<number> {
  try {
    await access(file);
  } catch {
    output.stderr.write(`gift-batch run: ${file}: no such file\n`);
    return EXIT_UNREADABLE;
  }
  return withLocalPipeline('run', options, output, signal, async (pipeline, say) => {
    const event = await pipeline.upload(
      file,
      options.campaign ? { campaign: options.campaign } : {},
    );
    const batchId = await batchIdOfUpload(event);
    const before = await pipeline.ledger.getBatch(batchId);
    // Whether a person already said yes to sending (null: nobody was asked yet). A batch the
    // splitter holds is approved at once on a yes, or else left waiting for `gift-batch approve`.
    let approval: SendDecision = { said: options.yes ? 'yes' : null };
    // A batch the ledger knows was checked (and agreed to) when it was first sent.
    if (!before && options.preflight !== false) {
      const client = new AndOpenHttpClient(pipeline.andOpen);
      try {
        const limit = approvalRowsOver(options);
        const decision = await preflightBeforeSending(file, {
          api: client,
          limiterStore: pipeline.limiterStore,
          maxRows: options.maxRows ?? maxRowsPerFile(),
          ...(options.campaign ? { campaign: options.campaign } : {}),
          ...(options.maxRps ? { maxRps: options.maxRps } : {}),
          approval: { yes: options.yes === true, ask: output.ask ?? null, say },
          approvalRowsOver: limit,
        });
        if (decision === 'no') return EXIT_NOT_APPROVED;
        approval =
          decision === 'yes'
            ? { said: 'yes' }
            : { said: 'no-terminal', question: decision.question };
      } finally {
        client.close();
      }
    }
    if (before?.phase === 'complete') {
      say(`this file was already sent as batch ${batchId}: nothing is sent twice; its results:`);
    } else if (before?.phase === 'stopped') {
      await resumeStopped(pipeline, batchId, before.stopReason, say);
    } else if (before?.phase === 'awaiting-approval') {
      say(`batch ${batchId} was recorded earlier and waits for approval: nothing was sent yet`);
    } else if (before) {
      say(`carrying on with batch ${batchId}, started ${before.createdAt}: nothing is sent twice`);
    }
    // A split an interrupted run left half done carries on only now that its file is back (the
    // local uploads died with that run).
    for (const resumedId of await pipeline.resumeInterruptedSplits()) {
      say(
        `resuming batch ${resumedId}: reading its file on from where the interrupted run stopped`,
      );
    }
    await pipeline.split(event);
    const batch = await pipeline.ledger.getBatch(batchId);
    if (batch?.fileError && batch.counts.rows === 0) {
      say(`gift-batch run: ${file}: ${batch.fileError}`);
      return EXIT_UNREADABLE;
    }
    return followBatch(pipeline, batchId, options, output, say, signal, approval);
  });
}

/**
 * Whether a person agreed to send: `yes` (--yes or at the prompt), `no-terminal` (nobody could be
 * asked: a held batch stays held, and the question is repeated in the message), null (not asked).
 */
export type SendDecision =
  | { said: 'yes' }
  | { said: 'no-terminal'; question: string }
  | { said: null };

/**
 * The approval limit of a local run: --approve-over, else $APPROVAL_ROWS_OVER (the splitter's own
 * setting), else AWS's default, so a file waits for a yes on this machine exactly where it would in
 * AWS. Null: no size limit.
 */
export function approvalRowsOver(options: RunOptions): number | null {
  if (options.approveOver !== undefined) return options.approveOver;
  const fromEnv = process.env.APPROVAL_ROWS_OVER?.trim();
  if (!fromEnv) return DEFAULT_APPROVAL_ROWS_OVER;
  try {
    return approvalLimit(fromEnv);
  } catch {
    throw new InvalidArgumentError(
      `APPROVAL_ROWS_OVER must be a whole number of rows or "off" (got "${fromEnv}")`,
    );
  }
}

/** `--approve-over`: a whole number of rows (0: every batch waits), or `off`. */
export function approvalLimit(value: string): number | null {
  if (value.trim().toLowerCase() === 'off') return null;
  if (!/^\d+$/.test(value.trim())) {
    throw new InvalidArgumentError('must be a whole number of rows, or "off".');
  }
  return Number(value.trim());
}

/**
 * `gift-batch resume BATCH`: carries on with a batch of the local ledger — one that stopped on a
 * configuration error (once it is fixed), or one an interrupted run left unfinished.
 */
export async function resumeBatch(
  batchId: string,
  options: RunOptions,
  output: Output = { stdout: process.stdout, stderr: process.stderr },
  signal?: AbortSignal,
): Promise<number> {
  return withLocalPipeline('resume', options, output, signal, async (pipeline, say) => {
    const batch = await pipeline.ledger.getBatch(batchId);
    if (!batch) {
      say(`gift-batch resume: there is no batch ${batchId} in the ledger under this state dir`);
      return EXIT_UNREADABLE;
    }
    if (batch.phase === 'stopped') await resumeStopped(pipeline, batchId, batch.stopReason, say);
    else if (batch.phase === 'complete') say(`batch ${batchId} is complete; its results:`);
    if ((await pipeline.ledger.getBatch(batchId))?.phase === 'splitting') {
      // Its file was still being read when the run that read it ended, and the local uploads
      // ended with that run: only the file itself can carry the split on.
      const file = batch.source.key?.split('/').at(-1) ?? 'FILE';
      say(
        `batch ${batchId} was still reading its file when its run ended; the rows read so far are ` +
          `kept: run \`gift-batch run ${shellWord(file)}\` again to read the rest and send`,
      );
      return EXIT_UNREADABLE;
    }
    return followBatch(pipeline, batchId, options, output, say, signal);
  });
}

export type Say = (line: string) => void;

/**
 * Starts the local pipeline, re-drives undecided rows, runs `body` (with the rows re-driven per
 * batch), and always stops it all.
 */
export async function withLocalPipeline(
  verb: string,
  options: RunOptions,
  output: Output,
  signal: AbortSignal | undefined,
  body: (pipeline: LocalPipeline, say: Say, redriven: Map<string, number>) => Promise<number>,
  { announceRedriven = true }: { announceRedriven?: boolean } = {},
): Promise<number> {
  const say: Say = (line) => output.stderr.write(`${line}\n`);
  const apiUrl = options.apiUrl ?? options.region;
  const apiKey = options.apiKey ?? process.env.ANDOPEN_API_KEY;
  if (apiUrl && !apiKey) {
    say(`gift-batch ${verb}: a real &Open needs an API key: pass --api-key or set ANDOPEN_API_KEY`);
    return EXIT_UNREADABLE;
  }
  say(
    apiUrl
      ? `starting the local pipeline against ${apiUrl}…`
      : 'starting the local pipeline and the &Open sandbox…',
  );
  let pipeline: LocalPipeline | undefined;
  try {
    pipeline = await LocalPipeline.start({
      stateDir: resolve(options.stateDir ?? '.gift-batch'),
      ...(options.fresh ? { fresh: true } : {}),
      ...(apiUrl ? { apiUrl } : {}),
      ...(apiKey ? { apiKey } : {}),
      ...(options.concurrency ? { concurrency: options.concurrency } : {}),
      ...(options.webhooks ? { webhooks: true } : {}),
      environment: handlerEnvironment(options),
    });
    if (signal?.aborted) throw new LocalPipelineError('interrupted');
    const resumed = await pipeline.reconcile();
    for (const [batchId, rows] of announceRedriven ? resumed : []) {
      if (rows > 0) say(`resuming batch ${batchId}: ${rows} undecided rows queued again`);
    }
    for (const batchId of await pipeline.resumeInterruptedSplits()) {
      say(`resuming batch ${batchId}: reading its file on from where the interrupted run stopped`);
    }
    return await body(pipeline, say, resumed);
  } catch (error) {
    if (signal?.aborted) {
      say('interrupted: rows already recorded are kept; run the same command again to carry on');
      return EXIT_INTERRUPTED;
    }
    say(`gift-batch ${verb}: ${oneLine(error)}`);
    return EXIT_FAILED;
  } finally {
    await pipeline?.stop();
  }
}

/** What the CLI's options set in the handlers' environment, as the stack's settings do in AWS. */
function handlerEnvironment(options: RunOptions): Record<string, string> {
  return {
    ...(options.maxRps ? { ANDOPEN_MAX_RPS: String(options.maxRps) } : {}),
    ...(options.maxRows ? { MAX_ROWS_PER_FILE: String(options.maxRows) } : {}),
    // The splitter holds a bigger batch as it does in AWS (empty: no limit).
    APPROVAL_ROWS_OVER: String(approvalRowsOver(options) ?? ''),
  };
}

export async function resumeStopped(
  pipeline: LocalPipeline,
  batchId: string,
  stopReason: string | null,
  say: Say,
): Promise<void> {
  const queued = await pipeline.resumeStopped(batchId);
  say(`resuming batch ${batchId}, stopped on: ${stopReason ?? 'a configuration error'}`);
  say(`${queued} rows queued again; nothing already decided is sent twice`);
}

/**
 * Shows progress until the batch completes or stops, then copies its results out and sums up. A
 * batch the guardrail holds is approved on a yes (given before, or asked now on a terminal) and
 * followed on; without one it is left waiting (exit 4), saying how to approve it.
 */
export async function followBatch(
  pipeline: LocalPipeline,
  batchId: string,
  options: RunOptions,
  output: Output,
  say: Say,
  signal: AbortSignal | undefined,
  approval: SendDecision = { said: null },
): Promise<number> {
  const approvals = new ApprovalService({
    ledger: pipeline.ledger,
    queue: pipeline.sendQueue,
    clock: systemClock,
  });
  // Approved while no run was going (gift-batch approve): released here, as the poller would.
  const queued = await approvals.release(batchId);
  if (queued !== null) say(`batch ${batchId} was approved: ${queued} rows queued`);
  const progress = new ProgressReporter({ out: output.stderr });
  let batch: BatchRecord;
  for (;;) {
    batch = await pipeline.waitForBatch(
      batchId,
      (current, limiter) => progress.update(current, limiter),
      signal ? { signal } : {},
    );
    if (batch.phase !== 'awaiting-approval') break;
    progress.finish();
    if (!(await approveHeldBatch(approvals, batch, options, output, say, approval))) {
      return EXIT_NOT_APPROVED;
    }
  }
  progress.finish();
  if (batch.phase === 'stopped') {
    say(`batch ${batchId} STOPPED: ${batch.stopReason ?? 'no reason recorded'}`);
    say(
      'No row was spent on this. Fix the cause (the API key, the URL), then run the same command again.',
    );
    return EXIT_STOPPED;
  }
  const outPath = resolve(options.out ?? join('results', `${batchId}.csv`));
  await pipeline.downloadResults(batch, outPath);
  output.stdout.write(summaryText(batch, outPath, await readSummary(outPath)));
  return EXIT_COMPLETED;
}

/**
 * A batch the splitter held: approved and released at once when a person said yes (before, or
 * now on a terminal); otherwise left waiting, with the commands that approve and send it.
 */
async function approveHeldBatch(
  approvals: ApprovalService,
  batch: BatchRecord,
  options: RunOptions,
  output: Output,
  say: Say,
  approval: SendDecision,
): Promise<boolean> {
  const id = batch.batchId;
  const reason = batch.approvalReason ?? 'no reason recorded';
  if (approval.said === null && output.ask) {
    // Nobody was asked yet (--no-preflight, or a file the ledger knew): say what waits, ask now.
    say(`batch ${id} waits for approval: ${reason}`);
    for (const message of batch.preflight?.messages ?? []) say(`  ${message}`);
    const question = `${batch.counts.valid} rows to send: send them?`;
    if (!(await approveSending(question, { yes: false, ask: output.ask, say }))) {
      say(heldText(id, reason, options, { runAgain: false }));
      return false;
    }
    approval = { said: 'yes' };
  }
  if (approval.said !== 'yes') {
    // Only run knows the question it could not ask (and takes --yes).
    const runAgain = approval.said === 'no-terminal';
    const prefix =
      approval.said === 'no-terminal' ? `${approval.question} not without a yes: ` : '';
    say(`${prefix}${heldText(id, reason, options, { runAgain })}`);
    return false;
  }
  const approved = await approvals.approve(id);
  const queued = await approvals.release(id);
  if (approved.kind === 'approved') {
    say(`batch ${id} approved (${reason}): ${queued ?? 0} rows queued`);
  }
  return true;
}

/** What a held batch needs: the commands that approve and send it, for this state dir. */
function heldText(
  batchId: string,
  reason: string,
  options: RunOptions,
  { runAgain }: { runAgain: boolean },
): string {
  const stateDir = options.stateDir ? ['--state-dir', options.stateDir] : [];
  const command = (verb: string) =>
    ['gift-batch', verb, batchId, ...stateDir].map(shellWord).join(' ');
  return [
    `batch ${batchId} is recorded and waits for approval (${reason}); nothing was sent.`,
    `To send it: ${command('approve')}, then ${command('resume')}${runAgain ? ' (or run this again with --yes)' : ''}. Exit code ${EXIT_NOT_APPROVED}.`,
  ].join('\n');
}

/** The JSON summary the results were written with, copied out beside the CSV. */
async function readSummary(csvPath: string): Promise<ResultsSummary | null> {
  try {
    return JSON.parse(await readFile(besideResults(csvPath, '.json'), 'utf8')) as ResultsSummary;
  } catch {
    return null;
  }
}

function summaryText(batch: BatchRecord, outPath: string, summary: ResultsSummary | null): string {
  const counts = batch.counts;
  const lines = [
    `batch ${batch.batchId}: ${counts.rows} rows`,
    `  created  ${counts.created}`,
    `  rejected ${counts.rejected}   (the API said no; reasons in the file)`,
    `  invalid  ${counts.invalid}   (failed local validation; never sent)`,
    `  unknown  ${counts.unknown}   (may or may not exist at &Open; check before retrying)`,
  ];
  if (summary && Object.keys(summary.byErrorCode).length > 0) {
    const codes = Object.entries(summary.byErrorCode)
      .sort(([, a], [, b]) => b - a)
      .map(([code, count]) => `${code} ${count}`)
      .join(', ');
    lines.push(`  errors by code: ${codes}`);
  }
  if (batch.fileError) lines.push(`  note: ${batch.fileError}`);
  if (counts.unknown > 0) {
    lines.push(
      `  unknown rows you checked with &Open and found without a gift: gift-batch retry-unknown ${batch.batchId} --rows …`,
    );
  }
  lines.push(`results: ${outPath}`);
  lines.push(
    `report:  ${besideResults(outPath, '.html')}  (open it in a browser; no links to gifts)`,
  );
  return `${lines.join('\n')}\n`;
}

function oneLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.split('\n')[0] ?? 'failed';
}

export function positiveNumber(value: string): number {
  const number = Number(value);
  if (!Number.isFinite(number) || number <= 0)
    throw new InvalidArgumentError('must be a number > 0.');
  return number;
}

export function positiveInteger(value: string): number {
  if (!/^[1-9]\d*$/.test(value)) throw new InvalidArgumentError('must be a whole number ≥ 1.');
  return Number(value);
}

export function runCommand(): Command {
  return addPipelineOptions(
    new Command('run')
      .description(
        'Send a recipient file through the whole pipeline on this machine: S3 → splitter → SQS → sender → ledger → poller → results.',
      )
      .argument('<file>', 'recipient file: .csv or .jsonl')
      .option('--campaign <id>', 'campaign for rows whose campaign_id is blank')
      .option(
        '--max-rows <n>',
        'refuse a file with more data rows than this, sending none of it (default 100,000; also $MAX_ROWS_PER_FILE)',
        positiveInteger,
      )
      .option('--fresh', 'forget every earlier batch in the local ledger first')
      .option(
        '--approve-over <n>',
        'a file with more rows than this waits for approval before anything is sent, as in AWS; "off": no limit (default 1,000; also $APPROVAL_ROWS_OVER)',
        approvalLimit,
      )
      .option(
        '-y, --yes',
        'send without asking, even when the preflight finds problems or the file is over --approve-over',
      )
      .option('--no-preflight', 'do not check the file against the campaigns before sending'),
  )
    .addHelpText(
      'after',
      `
Before sending a new file, run checks it against &Open's campaigns (as gift-batch preflight
does) and counts its rows. When it finds problems, or more rows than --approve-over (default
1,000, as in AWS), it prints them and asks one question, "send anyway? [y/N]", on a terminal;
--yes sends without asking. Without a terminal and without --yes nothing is sent (exit 4):
a file with problems only is not recorded; a file over the limit is recorded and waits for
approval, as in AWS: "gift-batch approve BATCH", then "gift-batch resume BATCH" sends it
(or run the same command again with --yes).

Exit codes: 0 the batch completed (rejected and invalid rows are reported in the file),
1 the run itself failed, 2 the file cannot be read or has more rows than --max-rows
(nothing of it is sent), 3 the batch stopped on a configuration error (bad key, wrong URL)
with no row spent, 4 not sent: problems found or over --approve-over, and nobody said yes,
130 interrupted (run again to carry on).

Example:
  gift-batch run examples/recipients.csv
  ANDOPEN_API_KEY=ao-v1-production-… gift-batch run staff.csv --region eu --campaign 1111…`,
    )
    .action(async (file: string, options: RunOptions) =>
      withInterrupt((signal) => runPipeline(file, options, undefined, signal)),
    );
}

/** The options every verb that drives the local pipeline takes. */
export function addPipelineOptions(command: Command, { out = true } = {}): Command {
  command
    .option('--api-url <url>', '&Open base URL (default: the built-in sandbox)')
    .option('--api-key <key>', '&Open API key (default: $ANDOPEN_API_KEY; the sandbox needs none)')
    .option(
      '--webhooks',
      'the built-in sandbox sends links and status changes as signed webhooks to the webhook handler; the poller only checks what they miss',
    )
    .addOption(
      new Option('--region <name>', 'a real &Open region instead of the sandbox').choices([
        'us',
        'eu',
        'staging',
      ]),
    );
  if (out) {
    command.option(
      '--out <path>',
      'where to write the results CSV (default ./results/<batch>.csv); its .json summary and .html report go beside it',
    );
  }
  return command
    .option('--concurrency <n>', 'sender invocations at once (default 5)', positiveInteger)
    .option(
      '--max-rps <r>',
      'the most requests per second to send to &Open, when you know your limit (default: learn it; also $ANDOPEN_MAX_RPS)',
      positiveNumber,
    )
    .option('--state-dir <dir>', 'where the local ledger lives (default ./.gift-batch)');
}

/** Ctrl-C or SIGTERM interrupts the run cleanly (everything started is stopped). */
export async function withInterrupt(run: (signal: AbortSignal) => Promise<number>): Promise<void> {
  const controller = new AbortController();
  const interrupt = () => controller.abort();
  process.once('SIGINT', interrupt);
  process.once('SIGTERM', interrupt);
  const code = await run(controller.signal);
  process.off('SIGINT', interrupt);
  process.off('SIGTERM', interrupt);
  process.exitCode = code;
}

export function resumeCommand(): Command {
  return addPipelineOptions(
    new Command('resume')
      .description(
        'Carry on with a batch of the local ledger: one stopped on a refused key or URL (once fixed), or one an interrupted run left unfinished.',
      )
      .argument('<batch>', 'the batch id (as run printed it, e.g. recipients-f48751fc326e)'),
  )
    .addHelpText(
      'after',
      `
A batch that waits for approval is sent once approved ("gift-batch approve BATCH" first; until
then resume exits 4). Exit codes as for run. Running the same "gift-batch run FILE" again does
the same for that file.

Example:
  gift-batch resume recipients-f48751fc326e --api-key ao-v1-production-…`,
    )
    .action(async (batchId: string, options: RunOptions) =>
      withInterrupt((signal) => resumeBatch(batchId, options, undefined, signal)),
    );
}
