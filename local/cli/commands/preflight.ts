import { createReadStream } from 'node:fs';
import { access } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { AndOpenHttpClient } from '../../../lambdas/adapters/andopen-http-client.ts';
import { maxRowsPerFile } from '../../../lambdas/config.ts';
import {
  type PreflightFindingKind,
  type PreflightReport,
  PreflightService,
} from '../../../lambdas/core/preflight-service.ts';
import { FleetRateLimiter } from '../../../lambdas/core/rate-limiter.ts';
import {
  DEFAULT_MAX_ROWS_PER_FILE,
  readRecipients,
} from '../../../lambdas/core/recipients/index.ts';
import { systemClock } from '../../../lambdas/ports/clock.ts';
import type { GiftingApi } from '../../../lambdas/ports/gifting-api.ts';
import type { LimiterStore } from '../../../lambdas/ports/rate-limit.ts';
import { SANDBOX_API_KEY, type Sandbox, startSandbox } from '../../../sandbox/index.ts';
import { MemoryLimiterStore } from '../../runtime/memory-limiter-store.ts';

export const EXIT_CLEAN = 0;
export const EXIT_FINDINGS = 1;
export const EXIT_UNREADABLE = 2;
export const EXIT_UNCHECKED = 3;

export interface PreflightOptions {
  campaign?: string;
  json?: boolean;
  apiUrl?: string;
  apiKey?: string;
  region?: 'us' | 'eu' | 'staging';
  maxRps?: number;
  /** The row limit per file, as the pipeline applies it (default MAX_ROWS_PER_FILE or 100,000). */
  maxRows?: number;
  stateDir?: string;
}

interface Output {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
}

/** Streams a recipient file through the preflight (the file is read once, in flat memory). */
export function preflightFile(
  file: string,
  deps: {
    api: GiftingApi;
    limiterStore: LimiterStore;
    campaign?: string;
    maxRps?: number;
    /**
     * A file with more data rows is refused after reading one row past it, as the split refuses
     * it (default MAX_ROWS_PER_FILE, else 100,000).
     */
    maxRows?: number;
  },
): Promise<PreflightReport> {
  const limiter = new FleetRateLimiter({
    store: deps.limiterStore,
    clock: systemClock,
    settings: { ceilingRps: deps.maxRps ?? null },
  });
  const service = new PreflightService({ api: deps.api, clock: systemClock, limiter });
  return service.check(
    readRecipients(createReadStream(file, { highWaterMark: 64 * 1024 }), {
      fileName: file,
      defaultCampaignId: deps.campaign ?? null,
      maxRows: deps.maxRows ?? maxRowsPerFile(),
    }),
  );
}

/** The exit code a report means: unreadable file, then campaigns &Open was not asked about, then findings. */
export function preflightExitCode(report: PreflightReport): number {
  if (report.fileError !== null) return EXIT_UNREADABLE;
  if (report.findings.some((finding) => finding.kind === 'campaign-unchecked')) {
    return EXIT_UNCHECKED;
  }
  return report.findings.length > 0 ? EXIT_FINDINGS : EXIT_CLEAN;
}

/**
 * `gift-batch preflight FILE`: checks the file against &Open's campaigns (the built-in sandbox, or
 * --api-url/--region with a key) and sends nothing. Its only &Open calls are one GET per campaign,
 * paced by a rate limiter held in this process: a one-off command is the only caller, so no
 * stand-in is started for a shared state.
 */
export async function runPreflight(
  file: string,
  options: PreflightOptions = {},
  output: Output = { stdout: process.stdout, stderr: process.stderr },
): Promise<number> {
  const say = (line: string) => output.stderr.write(`${line}\n`);
  try {
    await access(file);
  } catch {
    say(`gift-batch preflight: ${file}: no such file`);
    return EXIT_UNREADABLE;
  }
  const apiUrl = options.apiUrl ?? options.region;
  const apiKey = options.apiKey ?? process.env.ANDOPEN_API_KEY;
  if (apiUrl && !apiKey) {
    say(
      'gift-batch preflight: a real &Open needs an API key: pass --api-key or set ANDOPEN_API_KEY',
    );
    return EXIT_UNREADABLE;
  }
  let sandbox: Sandbox | null = null;
  let client: AndOpenHttpClient | null = null;
  try {
    if (!apiUrl) {
      // The sandbox a local run uses remembers its stock beside the ledger: read the same state.
      sandbox = await startSandbox({
        stateFile: join(resolve(options.stateDir ?? '.gift-batch'), 'sandbox.jsonl'),
      });
    }
    client = new AndOpenHttpClient({
      baseUrl: apiUrl ?? (sandbox as Sandbox).url,
      apiKey: apiKey && apiUrl ? apiKey : SANDBOX_API_KEY,
    });
    const report = await preflightFile(file, {
      api: client,
      limiterStore: new MemoryLimiterStore(),
      maxRows: options.maxRows ?? maxRowsPerFile(),
      ...(options.campaign ? { campaign: options.campaign } : {}),
      ...(options.maxRps ? { maxRps: options.maxRps } : {}),
    });
    if (options.json) {
      output.stdout.write(`${JSON.stringify(preflightJson(file, report), null, 2)}\n`);
    } else {
      output.stdout.write(preflightText(file, report));
    }
    if (report.fileError !== null) say(`gift-batch preflight: ${file}: ${report.fileError}`);
    return preflightExitCode(report);
  } catch (error) {
    say(`gift-batch preflight: ${oneLine(error)}`);
    return EXIT_UNCHECKED;
  } finally {
    client?.close();
    await sandbox?.stop();
  }
}

const KIND_LABELS: Record<PreflightFindingKind, string> = {
  'unknown-campaign': 'unknown campaign',
  'archived-campaign': 'archived campaign',
  'direct-send-not-allowed': 'direct-send not allowed',
  'unknown-variant': 'unknown item',
  'stock-shortfall': 'not enough stock',
  'campaign-unchecked': 'not checked',
};

/** The report for a person: what was checked, then one finding per line naming its rows. */
export function preflightText(file: string, report: PreflightReport): string {
  // A file refused whole (over the row limit, no header): nothing of it was checked or would be sent.
  if (report.fileError !== null && report.campaigns.length === 0) {
    return `${file}: not checked: ${report.fileError}\n`;
  }
  const lines = [
    `${file}: ${plural(report.rows, 'row')}, ${report.checkedRows} checked against ${plural(report.campaigns.length, 'campaign')}`,
  ];
  if (report.invalidRows > 0) {
    lines.push(
      `  ${plural(report.invalidRows, 'invalid row')} not checked (never sent; gift-batch validate lists them)`,
    );
  }
  for (const campaign of report.campaigns) {
    const about =
      campaign.lookup === 'found'
        ? [campaign.name, campaign.status, campaign.invitationMethod].filter(Boolean).join(', ')
        : campaign.lookup === 'not-found'
          ? 'not found'
          : 'not checked';
    lines.push(`  campaign ${campaign.id}: ${about}; ${plural(campaign.rows, 'row')}`);
  }
  if (report.findings.length === 0) {
    lines.push('no problems found: every campaign, item and stock level the file needs is there');
  } else {
    lines.push(`${plural(report.findings.length, 'problem')} found before sending:`);
    for (const finding of report.findings) {
      lines.push(`  ${KIND_LABELS[finding.kind]}: ${finding.message}`);
    }
  }
  if (report.fileError !== null) lines.push(`the file stops being readable: ${report.fileError}`);
  return `${lines.join('\n')}\n`;
}

export function preflightJson(file: string, report: PreflightReport) {
  return { file, ok: preflightExitCode(report) === EXIT_CLEAN, ...report };
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}

function oneLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.split('\n')[0] ?? 'failed';
}

function positiveNumber(value: string): number {
  const number = Number(value);
  if (!Number.isFinite(number) || number <= 0) {
    throw new InvalidArgumentError('must be a number > 0.');
  }
  return number;
}

function positiveInteger(value: string): number {
  if (!/^[1-9]\d*$/.test(value)) throw new InvalidArgumentError('must be a whole number ≥ 1.');
  return Number(value);
}

export function preflightCommand(): Command {
  return new Command('preflight')
    .description(
      "Check a recipient file against &Open's campaigns before sending: unknown or archived campaigns, direct-send on a campaign that does not take it, unknown items, stock shortfalls. Sends nothing.",
    )
    .argument('<file>', 'recipient file: .csv or .jsonl')
    .option('--campaign <id>', 'campaign for rows whose campaign_id is blank')
    .option('--json', 'print one JSON document instead of text')
    .option('--api-url <url>', '&Open base URL (default: the built-in sandbox)')
    .option('--api-key <key>', '&Open API key (default: $ANDOPEN_API_KEY; the sandbox needs none)')
    .addOption(
      new Option('--region <name>', 'a real &Open region instead of the sandbox').choices([
        'us',
        'eu',
        'staging',
      ]),
    )
    .option('--max-rps <r>', 'the most requests per second to send to &Open', positiveNumber)
    .option(
      '--max-rows <n>',
      `refuse a file with more data rows than this, as the pipeline does, after reading one row past it (default ${DEFAULT_MAX_ROWS_PER_FILE.toLocaleString('en-US')}; also $MAX_ROWS_PER_FILE)`,
      positiveInteger,
    )
    .option(
      '--state-dir <dir>',
      'where the local run keeps the sandbox’s stock (default ./.gift-batch)',
    )
    .addHelpText(
      'after',
      `
Reads the file once and asks &Open for each campaign it names, once (GET /campaigns/{id}),
then reports, one line per problem, naming the rows:
  - campaigns that do not exist or are archived;
  - direct-send rows (address and item) on a campaign whose invitation method is not
    sender_provided_address;
  - a sku or variant_id that matches no enabled variant of the campaign's catalogue;
  - stock shortfalls summed over the whole file, e.g.
    "30 rows want HOODIE-L-BLK (quantity 30), 12 in stock in campaign …".
Rows that fail local validation are counted, not checked (gift-batch validate lists them).
Without --api-url or --region it asks the built-in sandbox, with the stock a local run left.

Exit codes:
  0  no problems found
  1  problems found
  2  the file cannot be read, or has more rows than --max-rows
  3  a campaign could not be checked (&Open refused the key or could not be reached)

Examples:
  $ gift-batch preflight examples/recipients.csv
  $ ANDOPEN_API_KEY=ao-v1-production-… gift-batch preflight staff.csv --region eu --json
`,
    )
    .exitOverride((error) => process.exit(error.exitCode === 0 ? 0 : EXIT_UNREADABLE))
    .action(async (file: string, options: PreflightOptions) => {
      process.exitCode = await runPreflight(file, options);
    });
}

/** `gift-batch run` stops here without sending when problems were found and nobody said yes. */
export const EXIT_NOT_APPROVED = 4;

export interface SendApproval {
  /** `--yes`: send without asking (scripts). */
  yes: boolean;
  /** Asks a person on the terminal; null when there is no terminal to ask on. */
  ask: ((question: string) => Promise<string>) | null;
  say: (line: string) => void;
}

/**
 * The yes a batch with problems needs before it is sent: `--yes`, or a person's "y" at the prompt.
 * Without a terminal and without --yes the answer is no: a script must opt in, never by default.
 */
export async function approveSending(question: string, approval: SendApproval): Promise<boolean> {
  if (approval.yes) {
    approval.say(`${question} yes (--yes)`);
    return true;
  }
  if (approval.ask === null) {
    approval.say(
      `${question} not without a yes: nothing was sent. Fix the file, or run again with --yes to send anyway (exit code ${EXIT_NOT_APPROVED}).`,
    );
    return false;
  }
  const answer = (await approval.ask(`${question} [y/N] `)).trim().toLowerCase();
  const yes = answer === 'y' || answer === 'yes';
  if (!yes) approval.say('not sent: nothing left this machine.');
  return yes;
}

/**
 * The preflight of `gift-batch run`, before the file is split: prints what it found and asks one
 * question that covers the problems and the approval limit (rows over it wait for a yes, as in AWS).
 * `yes`: go ahead (nothing to ask, `--yes`, or a person said yes); `no`: a person said no, or there
 * were only problems and nobody to ask (nothing is recorded); `{ question }`: over the limit with
 * nobody to ask: the run records the batch and leaves it waiting for `gift-batch approve`.
 */
export async function preflightBeforeSending(
  file: string,
  deps: {
    api: GiftingApi;
    limiterStore: LimiterStore;
    campaign?: string;
    maxRps?: number;
    maxRows?: number;
    approval: SendApproval;
    /** Rows over this wait for approval; null: no size limit. */
    approvalRowsOver?: number | null;
  },
): Promise<'yes' | 'no' | { question: string }> {
  const { say } = deps.approval;
  say('preflight: checking the file against &Open’s campaigns…');
  const report = await preflightFile(file, deps);
  // Nothing to ask a person about: the split refuses this file whole and says why.
  if (report.fileError !== null && report.campaigns.length === 0) return 'yes';
  const limit = deps.approvalRowsOver ?? null;
  const overLimit = limit !== null && report.rows > limit;
  const sizeText = `${plural(report.rows, 'row')}, over the approval limit of ${limit}`;
  if (report.findings.length === 0) {
    say(
      `preflight: no problems found (${plural(report.campaigns.length, 'campaign')}, ${plural(report.checkedRows, 'row')} checked)`,
    );
    if (!overLimit) return 'yes';
  } else {
    for (const line of preflightText(file, report).trimEnd().split('\n')) say(line);
  }
  const problems =
    report.findings.length > 0 ? `${plural(report.findings.length, 'problem')} found` : null;
  const question = `${[problems, overLimit ? sizeText : null].filter(Boolean).join(' and ')}: ${problems ? 'send anyway?' : 'send them?'}`;
  // Over the limit with nobody to ask: recorded and held, as AWS holds it, for `gift-batch approve`.
  if (overLimit && !deps.approval.yes && deps.approval.ask === null) return { question };
  return (await approveSending(question, deps.approval)) ? 'yes' : 'no';
}
