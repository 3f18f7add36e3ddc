import { Command, InvalidArgumentError } from 'commander';
import type { RowRecord } from '../../../lambdas/ports/ledger.ts';
import type { LocalPipeline } from '../../runtime/local-pipeline.ts';
import {
  addPipelineOptions,
  EXIT_COMPLETED,
  EXIT_UNREADABLE,
  followBatch,
  type Output,
  type RunOptions,
  resumeStopped,
  terminalOutput,
  withInterrupt,
  withLocalPipeline,
} from './run.ts';

export interface RetryUnknownOptions extends RunOptions {
  /** Only these rows (1-based data rows, as in the results file); default: every unknown row. */
  rows?: number[];
}

/**
 * `gift-batch retry-unknown BATCH [--rows 3,17]`: sends `unknown` rows again, after a person checked
 * with &Open that their gifts do not exist.
 *
 * 1. Start the local pipeline (as `resume` does) and find the batch and the rows to release.
 * 2. Show them, warn that a row whose gift did exist is sent twice, and ask before releasing several
 *    rows nobody named (or refuse where nobody can answer, unless --yes).
 * 3. Release them (`unknown → pending`, keeping what happened) and queue them; a completed batch goes
 *    back to sending, a stopped one is resumed.
 * 4. Follow the batch to the end and write its results again, as `resume` does.
 */
export async function retryUnknown(
  batchId: string,
  options: RetryUnknownOptions,
  output: Output = terminalOutput(),
  signal?: AbortSignal,
): Promise<number> {
  return withLocalPipeline('retry-unknown', options, output, signal, async (pipeline, say) => {
    const batch = await pipeline.ledger.getBatch(batchId);
    if (!batch) {
      say(
        `gift-batch retry-unknown: there is no batch ${batchId} in the ledger under this state dir`,
      );
      return EXIT_UNREADABLE;
    }
    const { unknown: toRelease, others } = await rowsToRelease(pipeline, batchId, options.rows);
    if (toRelease.length === 0) {
      if (!options.rows) {
        say(`batch ${batchId} has no unknown rows: nothing to release`);
        return EXIT_COMPLETED;
      }
      say(`gift-batch retry-unknown: none of the rows named is unknown; ${describeOthers(others)}`);
      return EXIT_UNREADABLE;
    }

    say(`batch ${batchId}: ${plural(toRelease.length, 'unknown row')} to send again:`);
    for (const row of toRelease) say(`  ${describeUnknownRow(row)}`);
    say(
      'warning: if &Open did create a gift for one of these rows, sending it again gives that person a second gift.',
    );
    const askFirst = !options.rows && toRelease.length > 1 && !options.yes;
    if (askFirst) {
      if (!output.ask) {
        say(
          `gift-batch retry-unknown: not releasing ${toRelease.length} rows without confirmation: pass --yes to release them all, or --rows to name the ones you checked`,
        );
        return EXIT_UNREADABLE;
      }
      const answer = await output.ask(`Send these ${toRelease.length} rows again? [y/N] `);
      if (!/^y(es)?$/i.test(answer.trim())) {
        say('nothing released');
        return EXIT_UNREADABLE;
      }
    }

    if (batch.phase === 'stopped') {
      await resumeStopped(pipeline, batchId, batch.stopReason, say);
    }
    // Only the rows shown: a row that turned unknown since is not released unseen.
    const report = await pipeline.releaseUnknown(
      batchId,
      toRelease.map((row) => row.row),
    );
    if (!report) throw new Error(`batch ${batchId} disappeared from the ledger`);
    say(`released ${plural(report.released.length, 'row')}: ${report.released.join(', ')}`);
    const notReleased = [
      ...others,
      ...report.notUnknown,
      ...report.notFound.map((row) => ({ row, state: 'missing' })),
    ];
    if (notReleased.length > 0) say(`not released: ${describeOthers(notReleased)}`);
    if (report.reopened) {
      say(`batch ${batchId} was complete: it completes again and its results are written anew`);
    }
    return followBatch(pipeline, batchId, options, output, say, signal);
  });
}

/** The rows to release: the named ones that are unknown (and what the others are), or every unknown one. */
async function rowsToRelease(
  pipeline: LocalPipeline,
  batchId: string,
  rows: number[] | undefined,
): Promise<{ unknown: RowRecord[]; others: { row: number; state: string }[] }> {
  if (!rows) return { unknown: await pipeline.unknownRows(batchId), others: [] };
  const unknown: RowRecord[] = [];
  const others: { row: number; state: string }[] = [];
  for (const row of [...new Set(rows)].sort((a, b) => a - b)) {
    const record = await pipeline.ledger.getRow(batchId, row);
    if (record?.state === 'unknown') unknown.push(record);
    else others.push({ row, state: record?.state ?? 'missing' });
  }
  return { unknown, others };
}

/** One line a person can check with &Open: the row, the recipient, why, and the Request-Id. */
export function describeUnknownRow(row: RowRecord): string {
  const who = [row.echo.firstName, row.echo.lastName].filter(Boolean).join(' ');
  const reference = [
    row.echo.externalId ? `external_id ${row.echo.externalId}` : null,
    row.echo.email,
  ].filter(Boolean);
  const since = `since ${row.updatedAt}`;
  const requestId = row.requestId ? `Request-Id ${row.requestId}` : 'no Request-Id';
  const reason = row.unknownReason ?? 'no decisive answer from &Open';
  return `row ${row.row}: ${who || 'no name'}${reference.length ? ` (${reference.join(', ')})` : ''}: ${reason}; ${requestId}; ${since}`;
}

function describeOthers(others: { row: number; state: string }[]): string {
  return others
    .map(({ row, state }) =>
      state === 'missing' ? `row ${row} is not in the batch` : `row ${row} is ${state}`,
    )
    .join('; ');
}

const plural = (count: number, noun: string): string => `${count} ${noun}${count === 1 ? '' : 's'}`;

/** `3,17,20-25` → [3, 17, 20, 21, …, 25]. */
export function parseRowList(value: string): number[] {
  const rows: number[] = [];
  for (const part of value.split(',').map((item) => item.trim())) {
    const range = /^([1-9]\d*)(?:-([1-9]\d*))?$/.exec(part);
    if (!range) {
      throw new InvalidArgumentError(
        `"${part}" is not a row number: use the results file's row numbers, e.g. 3,17 or 20-25.`,
      );
    }
    const from = Number(range[1]);
    const to = range[2] === undefined ? from : Number(range[2]);
    if (to < from) throw new InvalidArgumentError(`"${part}": the range runs backwards.`);
    if (to - from >= 100_000) throw new InvalidArgumentError(`"${part}": too many rows at once.`);
    for (let row = from; row <= to; row += 1) rows.push(row);
  }
  return rows;
}

export function retryUnknownCommand(): Command {
  return addPipelineOptions(
    new Command('retry-unknown')
      .description(
        'Send unknown rows of a batch again, after you checked with &Open that their gifts do not exist. A row whose gift did exist is sent twice.',
      )
      .argument('<batch>', 'the batch id (as run printed it, e.g. recipients-f48751fc326e)')
      .option(
        '--rows <list>',
        'only these rows (the results file’s row column), e.g. 3,17 or 20-25; default: every unknown row',
        parseRowList,
      )
      .option('-y, --yes', 'release every unknown row without asking (for scripts)'),
  )
    .addHelpText(
      'after',
      `
How to check an unknown row: the results file gives its request_id (quote it to &Open
support) and its recipient (look them up in &Open's dashboard, around the row's updated_at).
Release only the rows whose gift does not exist.

Without --rows and with more than one unknown row it asks first (on a terminal); elsewhere it
needs --yes. Exit codes as for run; 2 also when nothing was released (no such batch, none of
the named rows is unknown, or the release was not confirmed).

Example:
  gift-batch retry-unknown recipients-f48751fc326e --rows 3,17`,
    )
    .action(async (batchId: string, options: RetryUnknownOptions) =>
      withInterrupt((signal) => retryUnknown(batchId, options, undefined, signal)),
    );
}
