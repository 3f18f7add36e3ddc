import { Command, InvalidArgumentError } from 'commander';
import { findRowByIdempotencyKey } from '../../../lambdas/core/events/find-by-key.ts';
import {
  type BatchDetail,
  type BatchStatus,
  type StatusList,
  StatusService,
} from '../../../lambdas/core/status-service.ts';
import { systemClock } from '../../../lambdas/ports/clock.ts';
import type { RowRecord } from '../../../lambdas/ports/ledger.ts';
import {
  approveCommandFor,
  type LedgerSourceOptions,
  oneLine,
  openLedgerSource,
} from '../ledger-source.ts';
import { formatDuration } from '../progress.ts';

export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_NOT_FOUND = 2;

export interface StatusOptions extends LedgerSourceOptions {
  json?: boolean;
  limit?: number;
  /** Human output lists at most this many unknown / waiting rows (`--json` has them all). */
  rows?: number;
  /** A gift event's idempotency key: show the gift it stands for instead of a batch. */
  key?: string;
}

interface Output {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
}

/**
 * `gift-batch status [BATCH]`: where the batches stand, from the ledger (local, or a stack's).
 * Returns the exit code.
 */
export async function showStatus(
  batchId: string | undefined,
  options: StatusOptions,
  output: Output = { stdout: process.stdout, stderr: process.stderr },
  now: () => number = systemClock.now,
): Promise<number> {
  let source: Awaited<ReturnType<typeof openLedgerSource>> | undefined;
  try {
    source = await openLedgerSource(options);
    const service = new StatusService({
      ledger: source.ledger,
      limiter: source.limiterStore,
      clock: { now },
      approveCommand: (id) => approveCommandFor(id, options),
    });
    if (options.key !== undefined) {
      const row = await findRowByIdempotencyKey(source.ledger, options.key);
      if (!row) {
        output.stderr.write(
          `gift-batch status: no gift event with idempotency key ${JSON.stringify(options.key)} in ${source.where}\n`,
        );
        return EXIT_NOT_FOUND;
      }
      output.stdout.write(options.json ? toJson(keyStatusOf(row)) : renderKeyStatus(row));
      return EXIT_OK;
    }
    if (batchId === undefined) {
      const list = await service.list(options.limit ? { limit: options.limit } : {});
      output.stdout.write(options.json ? toJson(list) : renderList(list, now()));
      return EXIT_OK;
    }
    const detail = await service.detail(batchId);
    if (!detail) {
      output.stderr.write(`gift-batch status: there is no batch ${batchId} in ${source.where}\n`);
      return EXIT_NOT_FOUND;
    }
    output.stdout.write(
      options.json ? toJson(detail) : renderDetail(detail, now(), options.rows ?? 20),
    );
    return EXIT_OK;
  } catch (error) {
    output.stderr.write(`gift-batch status: ${oneLine(error)}\n`);
    return EXIT_FAILED;
  } finally {
    await source?.stop();
  }
}

const toJson = (value: unknown): string => `${JSON.stringify(value, null, 2)}\n`;

/** What a producer wants to know of its gift event (`status --key K --json`). */
export interface KeyStatus {
  idempotencyKey: string;
  batchId: string;
  row: number;
  /** The ledger state: pending and sending while it is on its way, then its outcome. */
  state: RowRecord['state'];
  externalId: string | null;
  campaignId: string | null;
  giftRequestId: string | null;
  giftStatus: string | null;
  redemptionUrl: string | null;
  requestId: string | null;
  unknownReason: string | null;
  errors: RowRecord['errors'];
  metadata: Record<string, string> | null;
  createdAt: string;
  updatedAt: string;
}

export function keyStatusOf(row: RowRecord): KeyStatus {
  return {
    idempotencyKey: row.idempotencyKey ?? '',
    batchId: row.batchId,
    row: row.row,
    state: row.state,
    externalId: row.echo.externalId,
    campaignId: row.echo.campaignId,
    giftRequestId: row.giftRequestId,
    giftStatus: row.giftStatus,
    redemptionUrl: row.redemptionUrl,
    requestId: row.requestId,
    unknownReason: row.unknownReason,
    errors: row.errors,
    metadata: row.metadata,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
  };
}

/** One gift event, a field a line. The redemption link is the producer's own gift: shown whole. */
export function renderKeyStatus(row: RowRecord): string {
  const status = keyStatusOf(row);
  const lines = [
    `idempotency key  ${status.idempotencyKey}`,
    `batch            ${status.batchId}, row ${status.row}`,
    `state            ${status.state}`,
  ];
  if (status.externalId) lines.push(`external id      ${status.externalId}`);
  if (status.giftRequestId) {
    lines.push(
      `gift request     ${status.giftRequestId} (${status.giftStatus ?? 'no status yet'})`,
    );
    lines.push(`redemption url   ${status.redemptionUrl ?? 'not yet'}`);
  }
  if (status.unknownReason) lines.push(`why unknown      ${status.unknownReason}`);
  for (const error of status.errors) {
    lines.push(
      `error            ${error.code}${error.param ? ` (${error.param})` : ''}: ${error.message}`,
    );
  }
  if (status.requestId) lines.push(`request id       ${status.requestId}`);
  lines.push(`updated          ${second(status.updatedAt)}`);
  return `${lines.join('\n')}\n`;
}

const BATCH_WIDTH = 24;

/** The batches as an aligned table (≤ 100 columns), each with a line of state under it. */
export function renderList(list: StatusList, nowMs: number): string {
  if (list.batches.length === 0) return 'no batches yet: send one with "gift-batch run FILE"\n';
  const header = [
    pad('BATCH', BATCH_WIDTH),
    pad('STARTED (UTC)', 16),
    left('ROWS', 6),
    left('CREATED', 7),
    left('REJECTED', 8),
    left('UNKNOWN', 7),
    left('INVALID', 7),
    left('DONE', 6),
    left('ROWS/MIN', 8),
  ].join(' ');
  const lines = [header.trimEnd()];
  for (const batch of list.batches) {
    const { counts } = batch;
    lines.push(
      [
        pad(clip(batch.batchId, BATCH_WIDTH), BATCH_WIDTH),
        pad(minute(batch.startedAt), 16),
        left(counts.rows, 6),
        left(counts.created, 7),
        left(counts.rejected, 8),
        left(counts.unknown, 7),
        left(counts.invalid, 7),
        left(`${batch.progressPercent.toFixed(1)}%`, 6),
        left(batch.rateRowsPerMinute === null ? '-' : batch.rateRowsPerMinute.toFixed(1), 8),
      ].join(' '),
    );
    lines.push(...wrapParts(stateParts(batch, nowMs), '  ', 100));
    // Whole, never clipped: a person copies it.
    if (batch.approval?.approveCommand) lines.push(`  approve: ${batch.approval.approveCommand}`);
  }
  return `${lines.join('\n')}\n`;
}

function stateParts(batch: BatchStatus, nowMs: number): string[] {
  const parts: string[] = [];
  if (batch.batchId.length > BATCH_WIDTH) parts.push(batch.batchId);
  parts.push(phaseText(batch));
  if (batch.paused) parts.push(pausedText(batch.paused, nowMs));
  if (batch.etaAt) parts.push(`ETA ${etaText(batch.etaAt, nowMs)}`);
  if (batch.approval?.approveCommand) parts.push('no ETA: waits for approval');
  if (batch.waitingForUrl > 0) parts.push(`${batch.waitingForUrl} waiting for URLs`);
  parts.push(`from ${batch.source}`);
  if (batch.fileError) parts.push(`file: ${batch.fileError}`);
  return parts;
}

/** The phase in words: why a batch stopped or waits, and what an approval means. */
function phaseText(batch: BatchStatus): string {
  if (batch.stopped) return `STOPPED: ${batch.stopped.reason}`;
  if (batch.approval?.state === 'awaiting') {
    return `awaiting approval: ${batch.approval.reason ?? 'no reason recorded'}`;
  }
  if (batch.approval?.state === 'approved') return 'approved, sending starts shortly';
  return batch.phase;
}

/** Parts joined by " · ", broken into indented lines of at most `width` (a longer part is clipped). */
function wrapParts(parts: string[], indent: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const part of parts) {
    const joined = line ? `${line} · ${part}` : part;
    if (line && indent.length + joined.length > width) {
      lines.push(`${indent}${line} ·`);
      line = part;
    } else line = joined;
  }
  if (line) lines.push(`${indent}${line}`);
  return lines.map((text) => clip(text, width));
}

/** One batch in detail: figures, errors by code with examples, rows that need a person. */
export function renderDetail(detail: BatchDetail, nowMs: number, maxRows: number): string {
  const { counts } = detail;
  const field = (name: string, value: string) => `  ${pad(name, 12)}${value}`;
  const lines = [
    `batch ${detail.batchId}`,
    field('state', phaseText(detail)),
    field('source', detail.source),
    field('started', `${second(detail.startedAt)} UTC`),
    field('rows', `${counts.rows}: ${counts.valid} valid, ${counts.invalid} invalid`),
    field(
      'outcomes',
      `created ${counts.created} · rejected ${counts.rejected} · unknown ${counts.unknown} · not sent yet ${Math.max(0, counts.valid - detail.decided)}`,
    ),
    field(
      'progress',
      [
        `${detail.progressPercent.toFixed(1)}%`,
        detail.rateRowsPerMinute === null ? null : `${detail.rateRowsPerMinute} rows/min`,
        detail.etaAt ? `ETA ${etaText(detail.etaAt, nowMs)}` : null,
        detail.approval?.state === 'awaiting' ? 'no ETA: waits for approval' : null,
      ]
        .filter(Boolean)
        .join(' · '),
    ),
    field(
      'urls',
      `${counts.created - detail.waitingForUrl} of ${counts.created} created gifts settled, ${detail.waitingForUrl} waiting`,
    ),
  ];
  if (detail.approval?.approveCommand) {
    lines.push(field('approve', detail.approval.approveCommand));
  }
  if (detail.paused) lines.push(field('paused', pausedText(detail.paused, nowMs)));
  if (detail.fileError) lines.push(field('file', detail.fileError));
  if (detail.completedAt) lines.push(field('completed', `${second(detail.completedAt)} UTC`));
  if (detail.resultsKey) lines.push(field('results', detail.resultsKey));

  if (detail.approval && detail.approval.preflightFindingsTotal > 0) {
    const { preflightFindings: findings, preflightFindingsTotal: total } = detail.approval;
    lines.push('', `preflight: ${total} problem${total === 1 ? '' : 's'} found before sending`);
    for (const finding of findings) lines.push(clip(`  ${finding}`, 100));
    if (total > findings.length) lines.push(`  … and ${total - findings.length} more`);
  }
  if (detail.errorsByCode.length > 0) {
    lines.push('', 'errors by code');
    for (const group of detail.errorsByCode) {
      lines.push(`  ${group.type}/${group.code}: ${group.rows} row${group.rows === 1 ? '' : 's'}`);
      for (const example of group.examples) {
        const param = example.param ? `${example.param}: ` : '';
        lines.push(
          clip(
            `    row ${example.row}  ${example.externalId ?? '-'}  ${param}${example.message}`,
            100,
          ),
        );
      }
    }
  }
  if (detail.unknownRows.length > 0) {
    lines.push('', 'unknown: check these with &Open before releasing them with retry-unknown');
    for (const row of detail.unknownRows.slice(0, maxRows)) {
      const reference = row.requestId ? `  Request-Id ${row.requestId}` : '';
      lines.push(
        clip(`  row ${row.row}  ${row.externalId ?? '-'}  ${row.reason}${reference}`, 100),
      );
    }
    lines.push(...more(detail.unknownRows.length, maxRows));
  }
  if (detail.waitingRows.length > 0) {
    lines.push('', 'waiting for a redemption URL');
    for (const row of detail.waitingRows.slice(0, maxRows)) {
      lines.push(
        clip(
          `  row ${row.row}  ${row.externalId ?? '-'}  ${row.giftRequestId ?? '-'}  ${row.giftStatus ?? '-'}  since ${row.createdAt ? second(row.createdAt) : '-'}`,
          100,
        ),
      );
    }
    lines.push(...more(detail.waitingRows.length, maxRows));
  }
  return `${lines.join('\n')}\n`;
}

const more = (total: number, shown: number): string[] =>
  total > shown ? [`  … and ${total - shown} more (--json lists them all)`] : [];

function pausedText(paused: { until: string; reason: string }, nowMs: number): string {
  return `paused ${formatDuration(Date.parse(paused.until) - nowMs)}: ${paused.reason}`;
}

function etaText(etaAt: string, nowMs: number): string {
  return `${etaAt.slice(11, 19)} UTC (in ${formatDuration(Date.parse(etaAt) - nowMs)})`;
}

const minute = (iso: string): string => iso.slice(0, 16).replace('T', ' ');
const second = (iso: string): string => iso.slice(0, 19).replace('T', ' ');
const pad = (text: string, width: number): string => text.padEnd(width);
const left = (value: string | number, width: number): string => String(value).padStart(width);
const clip = (text: string, width: number): string =>
  text.length > width ? `${text.slice(0, width - 1)}…` : text;

export function statusCommand(): Command {
  return new Command('status')
    .description(
      'Where batches stand: without BATCH the batches, newest first; with BATCH its errors by code, unknown rows and rows waiting for a URL.',
    )
    .argument('[batch]', 'a batch id, as run printed it')
    .option(
      '--json',
      'print the same as JSON (fields: BatchStatus / BatchDetail in lambdas/core/status-service.ts)',
    )
    .option('--limit <n>', 'how many batches to list (default 20)', positiveInteger)
    .option('--key <key>', 'show the gift a gift event with this idempotency key stands for')
    .option('--state-dir <dir>', 'where the local ledger lives (default ./.gift-batch)')
    .option(
      '--stack <name>',
      'read a deployed stack’s ledger instead (your AWS credentials and region)',
    )
    .addHelpText(
      'after',
      `
A "gift-batch run" may be running at the same time: status reads through it.
Exit codes: 0 shown, 1 the ledger could not be read, 2 no such batch.

Examples:
  gift-batch status
  gift-batch status recipients-f48751fc326e
  gift-batch status --key signup-4711
  gift-batch status --stack GiftBatch --json`,
    )
    .action(async (batchId: string | undefined, options: StatusOptions) => {
      process.exitCode = await showStatus(batchId, options);
    });
}

function positiveInteger(value: string): number {
  if (!/^[1-9]\d*$/.test(value)) throw new InvalidArgumentError('must be a whole number ≥ 1.');
  return Number(value);
}
