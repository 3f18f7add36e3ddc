import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Command, Option } from 'commander';
import {
  type ExportQuery,
  ExportRequestError,
  ExportService,
  type ExportSummary,
  exportQueryOf,
  summaryKeyOf,
} from '../../../lambdas/core/export-service.ts';
import { systemClock } from '../../../lambdas/ports/clock.ts';
import { type LedgerSourceOptions, oneLine, openLedgerSource } from '../ledger-source.ts';

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
  const outPath = resolve(options.out ?? defaultOutPath(query));
  let source: Awaited<ReturnType<typeof openLedgerSource>> | undefined;
  try {
    source = await openLedgerSource(options);
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
    const summaryPath = resolve(dirname(outPath), summaryKeyOf(outPath.split(/[\\/]/).pop() ?? ''));
    await writeFile(summaryPath, `${JSON.stringify(summary, null, 2)}\n`);
    output.stderr.write(summaryText(summary, outPath, summaryPath));
    return EXIT_OK;
  } catch (error) {
    output.stderr.write(`gift-batch export: ${oneLine(error)}\n`);
    return EXIT_FAILED;
  } finally {
    await source?.stop();
  }
}

/** `exports/<campaign>_<from>_<to>.csv`, days only, `start`/`now` for open ends. */
export function defaultOutPath(query: ExportQuery): string {
  const safe = query.campaignId.replace(/[^A-Za-z0-9._-]/g, '_');
  const from = query.from ? query.from.slice(0, 10) : 'start';
  const to = query.to ? query.to.slice(0, 10) : 'now';
  return join('exports', `${safe}_${from}_${to}.${query.format}`);
}

export function summaryText(summary: ExportSummary, outPath: string, summaryPath: string): string {
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
    .addHelpText(
      'after',
      `
Columns: the results file's (same order), then batch_id, source, idempotency_key.
CSV: UTF-8 with BOM, CRLF, cells that a spreadsheet would run as formulas are prefixed with '.
Beside the file: <name>.summary.json (totals by outcome and gift status, the exact interval).
Exit codes: 0 written, 1 the ledger could not be read, 2 a bad option (each problem is listed).

Examples:
  gift-batch export --campaign 1111-2222 --from 2026-11-01 --to 2026-11-30
  gift-batch export --campaign 1111-2222 --status unknown,rejected --format jsonl --out todo.jsonl`,
    )
    .action(async (options: ExportOptions) => {
      process.exitCode = await exportCampaign(options);
    });
}
