import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Command, InvalidArgumentError, Option } from 'commander';
import { AndOpenHttpClient } from '../../../lambdas/adapters/andopen-http-client.ts';
import {
  type ExportQuery,
  ExportRequestError,
  ExportService,
  type ExportSummary,
  exportQueryOf,
  reportKeyOf,
  summaryKeyOf,
} from '../../../lambdas/core/export-service.ts';
import { FleetRateLimiter } from '../../../lambdas/core/rate-limiter.ts';
import { RefreshService } from '../../../lambdas/core/refresh-service.ts';
import { systemClock } from '../../../lambdas/ports/clock.ts';
import { SANDBOX_API_KEY, type Sandbox, startSandbox } from '../../../sandbox/index.ts';
import {
  type LedgerSource,
  type LedgerSourceOptions,
  oneLine,
  openLedgerSource,
} from '../ledger-source.ts';

export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_BAD_REQUEST = 2;

export interface ExportOptions extends LedgerSourceOptions {
  campaign?: string;
  from?: string;
  to?: string;
  status?: string;
  format?: string;
  out?: string;
  /** Re-read current statuses from &Open first (within the shared rate budget). */
  refresh?: boolean;
  apiUrl?: string;
  apiKey?: string;
  region?: 'us' | 'eu' | 'staging';
  maxRps?: number;
}

interface Output {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
}

/**
 * `gift-batch export --campaign ID …`: every row of a campaign in an interval, across batches, to a
 * file (streamed: flat memory whatever its size), with its summary beside it and on stderr.
 * Returns the exit code.
 */
export async function exportCampaign(
  options: ExportOptions,
  output: Output = { stdout: process.stdout, stderr: process.stderr },
): Promise<number> {
  let query: ExportQuery;
  try {
    query = exportQueryOf({
      campaignId: options.campaign,
      from: options.from,
      to: options.to,
      status: options.status,
      format: options.format,
    });
  } catch (error) {
    if (!(error instanceof ExportRequestError)) throw error;
    for (const problem of error.problems) output.stderr.write(`gift-batch export: ${problem}\n`);
    return EXIT_BAD_REQUEST;
  }
  const apiUrl = options.apiUrl ?? options.region;
  if (options.refresh && apiUrl && !(options.apiKey ?? process.env.ANDOPEN_API_KEY)) {
    output.stderr.write(
      'gift-batch export: --refresh against a real &Open needs an API key: pass --api-key or set ANDOPEN_API_KEY\n',
    );
    return EXIT_BAD_REQUEST;
  }
  if (options.refresh && options.stack && !apiUrl) {
    output.stderr.write(
      "gift-batch export: --refresh with --stack asks the stack's &Open: give --region or --api-url (and ANDOPEN_API_KEY)\n",
    );
    return EXIT_BAD_REQUEST;
  }
  const outPath = resolve(options.out ?? defaultOutPath(query));
  let source: Awaited<ReturnType<typeof openLedgerSource>> | undefined;
  try {
    source = await openLedgerSource(options);
    if (options.refresh) await refreshStatuses(query, source, options, output);
    const running = new ExportService({ ledger: source.ledger, clock: systemClock }).start(query);
    await mkdir(dirname(outPath), { recursive: true });
    // Written aside and renamed at the end: a failed export never leaves a file that looks whole.
    const partPath = `${outPath}.part`;
    try {
      await pipeline(Readable.from(running.body), createWriteStream(partPath));
      await rename(partPath, outPath);
    } catch (error) {
      await rm(partPath, { force: true });
      throw error;
    }
    const summary = running.summary();
    const outName = outPath.split(/[\\/]/).pop() ?? '';
    const summaryPath = resolve(dirname(outPath), summaryKeyOf(outName));
    await writeFile(summaryPath, `${JSON.stringify(summary, null, 2)}\n`);
    const reportPath = resolve(dirname(outPath), reportKeyOf(outName));
    await writeFile(reportPath, running.reportHtml(outName));
    output.stderr.write(summaryText(summary, outPath, summaryPath, reportPath));
    return EXIT_OK;
  } catch (error) {
    output.stderr.write(`gift-batch export: ${oneLine(error)}\n`);
    return EXIT_FAILED;
  } finally {
    await source?.stop();
  }
}

/**
 * `--refresh`: asks &Open for the current status of every gift in the interval that can still
 * change, taking each GET from the fleet's shared rate (in the ledger), so a batch sending at the
 * same time and this refresh together stay within &Open's limit. Without --api-url or --region it
 * asks the built-in sandbox, with the gifts a local run left.
 */
async function refreshStatuses(
  query: ExportQuery,
  source: LedgerSource,
  options: ExportOptions,
  output: Output,
): Promise<void> {
  const apiUrl = options.apiUrl ?? options.region;
  let sandbox: Sandbox | null = null;
  let client: AndOpenHttpClient | null = null;
  try {
    if (!apiUrl) {
      sandbox = await startSandbox({
        stateFile: join(resolve(options.stateDir ?? '.gift-batch'), 'sandbox.jsonl'),
      });
    }
    client = new AndOpenHttpClient({
      baseUrl: apiUrl ?? (sandbox as Sandbox).url,
      apiKey: apiUrl
        ? ((options.apiKey ?? process.env.ANDOPEN_API_KEY) as string)
        : SANDBOX_API_KEY,
    });
    const limiter = new FleetRateLimiter({
      store: source.limiterStore,
      clock: systemClock,
      settings: { ceilingRps: options.maxRps ?? null },
    });
    const report = await new RefreshService({
      ledger: source.ledger,
      api: client,
      clock: systemClock,
      limiter,
    }).refresh(query);
    output.stderr.write(
      `refresh: ${report.refreshed} of ${report.candidates} gifts that can still change read from &Open (${report.requests} requests of the shared rate budget), ${report.changed} changed\n`,
    );
    for (const problem of report.problems) output.stderr.write(`refresh: ${problem}\n`);
  } finally {
    client?.close();
    await sandbox?.stop();
  }
}

/** `exports/<campaign>_<from>_<to>.csv`, days only, `start`/`now` for open ends. */
export function defaultOutPath(query: ExportQuery): string {
  const safe = query.campaignId.replace(/[^A-Za-z0-9._-]/g, '_');
  const from = query.from ? query.from.slice(0, 10) : 'start';
  const to = query.to ? query.to.slice(0, 10) : 'now';
  return join('exports', `${safe}_${from}_${to}.${query.format}`);
}

export function summaryText(
  summary: ExportSummary,
  outPath: string,
  summaryPath: string,
  reportPath: string,
): string {
  const counts = (record: Record<string, number>) =>
    Object.entries(record)
      .map(([name, count]) => `${name} ${count}`)
      .join(' · ');
  const filter = [...summary.filter.outcomes, ...summary.filter.giftStatuses];
  return [
    `campaign ${summary.campaignId}: ${summary.rows} rows`,
    `  interval    ${summary.interval.from ?? 'the beginning'} → ${summary.interval.to ?? 'now'} (rows recorded in the ledger, both ends included)`,
    ...(filter.length > 0 ? [`  filter      ${filter.join(', ')}`] : []),
    `  by outcome  ${counts(summary.byOutcome)}`,
    `  by status   ${Object.keys(summary.byGiftStatus).length > 0 ? counts(summary.byGiftStatus) : '-'}`,
    `export: ${outPath}`,
    `summary: ${summaryPath}`,
    `report: ${reportPath}`,
    '',
  ].join('\n');
}

export function exportCommand(): Command {
  return new Command('export')
    .description(
      'Every gift of a campaign in a date range, across all batches, to a CSV (Excel-ready) or JSONL file, with a summary that reconciles with it.',
    )
    .requiredOption('--campaign <id>', 'the campaign to export')
    .option('--from <date>', 'first day (2026-11-01) or instant (2026-11-01T09:00:00Z), UTC')
    .option('--to <date>', 'last day, included whole, or instant (default: now)')
    .option(
      '--status <names>',
      'only these outcomes (created, rejected, invalid, unknown) and/or gift statuses (submitted, redeemed, dispatched, delivered, cancelled), comma-separated',
    )
    .addOption(
      new Option('--format <format>', 'file format').choices(['csv', 'jsonl']).default('csv'),
    )
    .option('--out <path>', 'where to write it (default ./exports/<campaign>_<from>_<to>.<format>)')
    .option('--state-dir <dir>', 'where the local ledger lives (default ./.gift-batch)')
    .option(
      '--stack <name>',
      'read a deployed stack’s ledger instead (your AWS credentials and region)',
    )
    .option(
      '--refresh',
      're-read the current status of every gift that can still change from &Open first (one GET each, within the shared rate budget)',
    )
    .option('--api-url <url>', 'with --refresh: &Open base URL (default: the built-in sandbox)')
    .option('--api-key <key>', 'with --refresh: &Open API key (default: $ANDOPEN_API_KEY)')
    .addOption(
      new Option('--region <name>', 'with --refresh: a real &Open region').choices([
        'us',
        'eu',
        'staging',
      ]),
    )
    .option(
      '--max-rps <r>',
      'with --refresh: the most requests per second to &Open',
      positiveNumber,
    )
    .addHelpText(
      'after',
      `
Columns: the results file's (same order), then batch_id, source, idempotency_key, metadata.
CSV: UTF-8 with BOM, CRLF, cells that a spreadsheet would run as formulas are prefixed with '.
Beside the file: <name>.summary.json (totals by outcome and gift status, the exact interval) and
<name>.html (the one-page report of the exported rows).
--refresh costs one GET per created gift not yet delivered or cancelled, from the same rate budget
as the senders: refreshing while a batch sends slows that batch accordingly.
Exit codes: 0 written, 1 the ledger could not be read, 2 a bad option (each problem is listed).

Examples:
  gift-batch export --campaign 1111-2222 --from 2026-11-01 --to 2026-11-30
  gift-batch export --campaign 1111-2222 --status unknown,rejected --format jsonl --out todo.jsonl`,
    )
    .action(async (options: ExportOptions) => {
      process.exitCode = await exportCampaign(options);
    });
}

function positiveNumber(value: string): number {
  const number = Number(value);
  if (!Number.isFinite(number) || number <= 0) {
    throw new InvalidArgumentError('must be a number above 0.');
  }
  return number;
}
