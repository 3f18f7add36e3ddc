import { Command } from 'commander';
import {
  addPipelineOptions,
  EXIT_COMPLETED,
  followBatch,
  type Output,
  type RunOptions,
  withInterrupt,
  withLocalPipeline,
} from './run.ts';

/**
 * `gift-batch reconcile`: the ledger is the source of truth. Re-drives every row the local ledger
 * says is undecided (an interrupted run's rows, whose messages lived in that run's process) and
 * follows those batches until they finish, because this process's queue dies with it.
 *
 * 1. Start the local pipeline; its start re-drives the undecided rows of every batch still sending.
 * 2. Say per batch how many rows were queued, or that there was nothing to reconcile; name the
 *    stopped batches, which wait for `resume`.
 * 3. Follow each batch to the end and write its results. The exit code is the worst of them.
 */
export async function reconcileBatches(
  options: RunOptions,
  output: Output = { stdout: process.stdout, stderr: process.stderr },
  signal?: AbortSignal,
): Promise<number> {
  return withLocalPipeline(
    'reconcile',
    options,
    output,
    signal,
    async (pipeline, say, redriven) => {
      const total = [...redriven.values()].reduce((sum, rows) => sum + rows, 0);
      for (const [batchId, rows] of redriven) {
        say(
          rows > 0
            ? `batch ${batchId}: ${rows} undecided row${rows === 1 ? '' : 's'} queued again`
            : `batch ${batchId}: nothing to queue; waiting for its last outcomes`,
        );
      }
      if (total === 0) say('nothing to reconcile: no undecided row is waiting for a message');
      const stopped = (await pipeline.ledger.listBatches({ limit: 1_000 })).filter(
        (batch) => batch.phase === 'stopped',
      );
      for (const batch of stopped) {
        say(
          `batch ${batch.batchId} is stopped (${batch.stopReason ?? 'a configuration error'}): fix it, then gift-batch resume ${batch.batchId}`,
        );
      }
      let exitCode = EXIT_COMPLETED;
      for (const batchId of redriven.keys()) {
        const code = await followBatch(pipeline, batchId, {}, output, say, signal);
        exitCode = Math.max(exitCode, code);
      }
      return exitCode;
    },
    // It says per batch what it queued, in its own words.
    { announceRedriven: false },
  );
}

export function reconcileCommand(): Command {
  return addPipelineOptions(
    new Command('reconcile').description(
      'Re-drive every row the local ledger says is undecided (an interrupted run left it) and follow those batches until they finish.',
    ),
    { out: false },
  )
    .addHelpText(
      'after',
      `
Each batch's results go to ./results/<batch>.csv. A row an interrupted sender held mid-request
becomes unknown (never a second POST). Stopped batches are named and left for "gift-batch resume".
Every "gift-batch run" does the same at its start. Exit codes as for run (the worst of the batches).

Example:
  gift-batch reconcile`,
    )
    .action(async (options: RunOptions) =>
      withInterrupt((signal) => reconcileBatches(options, undefined, signal)),
    );
}
