import { resolve } from 'node:path';
import { Command } from 'commander';
import { ApprovalService } from '../../../lambdas/core/approval-service.ts';
import { systemClock } from '../../../lambdas/ports/clock.ts';
import type { BatchRecord } from '../../../lambdas/ports/ledger.ts';
import { liveLedgerEndpoint } from '../../runtime/local-ledger.ts';
import {
  type LedgerSourceOptions,
  oneLine,
  openLedgerSource,
  type StackAccess,
  shellWord,
} from '../ledger-source.ts';
import { EXIT_NOT_APPROVED } from './preflight.ts';
import { type Output, terminalOutput } from './run.ts';

export const EXIT_APPROVED = 0;
export const EXIT_FAILED = 1;
export const EXIT_NOT_FOUND = 2;
/** The batch does not wait for approval: already approved, sending, complete, stopped. */
export const EXIT_NOT_WAITING = 3;
export { EXIT_NOT_APPROVED };

export interface ApproveOptions extends LedgerSourceOptions {
  /** Approve without asking (scripts). */
  yes?: boolean;
}

/**
 * `gift-batch approve BATCH`: lets a batch the guardrail held (over the size limit, or with
 * preflight findings) be sent. Returns the exit code.
 *
 * Primary course:
 * 1. Read the batch from the ledger (local, or the stack's with --stack) and show what is approved:
 *    rows, why it waits, what the preflight found.
 * 2. Ask on the terminal (or take --yes); without either, approve nothing.
 * 3. Approve through ApprovalService: one conditional write, so only a waiting batch moves, once.
 * 4. Say how sending starts: in AWS the poller releases it within a minute; locally a running
 *    `gift-batch run` does within seconds, or else `gift-batch resume BATCH`.
 */
export async function approveBatch(
  batchId: string,
  options: ApproveOptions,
  output: Output = terminalOutput(),
  deps: { stackAccess?: StackAccess; now?: () => number } = {},
): Promise<number> {
  const say = (line: string) => output.stderr.write(`${line}\n`);
  let source: Awaited<ReturnType<typeof openLedgerSource>> | undefined;
  try {
    source = await openLedgerSource(options, deps.stackAccess);
    const batch = await source.ledger.getBatch(batchId);
    if (!batch) {
      say(`gift-batch approve: there is no batch ${batchId} in ${source.where}`);
      return EXIT_NOT_FOUND;
    }
    if (batch.phase !== 'awaiting-approval') {
      say(`gift-batch approve: ${notWaitingText(batch, options)}`);
      return EXIT_NOT_WAITING;
    }
    output.stdout.write(heldBatchText(batch));
    if (!(await personSaysYes(batch, options, output, say))) return EXIT_NOT_APPROVED;

    const approvals = new ApprovalService({
      ledger: source.ledger,
      clock: { now: deps.now ?? systemClock.now },
    });
    const result = await approvals.approve(batchId);
    if (result.kind === 'missing') {
      say(`gift-batch approve: there is no batch ${batchId} in ${source.where}`);
      return EXIT_NOT_FOUND;
    }
    if (result.kind === 'not-awaiting') {
      // Someone else approved (or the batch moved) between the read and the write.
      const now = (await source.ledger.getBatch(batchId)) ?? result.batch;
      say(`gift-batch approve: ${notWaitingText(now, options)}`);
      return EXIT_NOT_WAITING;
    }
    output.stdout.write(`approved batch ${batchId}\n${await nextStepText(batchId, options)}\n`);
    return EXIT_APPROVED;
  } catch (error) {
    say(`gift-batch approve: ${oneLine(error)}`);
    return EXIT_FAILED;
  } finally {
    await source?.stop();
  }
}

/** What a person approves: the batch, its rows, why it waits and what the preflight found. */
export function heldBatchText(batch: BatchRecord): string {
  const { counts } = batch;
  const field = (name: string, value: string) => `  ${name.padEnd(11)}${value}`;
  const lines = [
    `batch ${batch.batchId} waits for approval`,
    field('source', batch.source.description),
    field('rows', `${counts.rows}: ${counts.valid} valid (to send), ${counts.invalid} invalid`),
    field('why', batch.approvalReason ?? 'no reason recorded'),
  ];
  const preflight = batch.preflight;
  if (preflight && preflight.findings > 0) {
    lines.push(field('preflight', `${plural(preflight.findings, 'problem')} found:`));
    for (const message of preflight.messages) lines.push(`    ${message}`);
    if (preflight.findings > preflight.messages.length) {
      lines.push(`    … and ${preflight.findings - preflight.messages.length} more`);
    }
  }
  lines.push(field('recorded', `${batch.createdAt.slice(0, 19).replace('T', ' ')} UTC`));
  return `${lines.join('\n')}\n`;
}

async function personSaysYes(
  batch: BatchRecord,
  options: ApproveOptions,
  output: Output,
  say: (line: string) => void,
): Promise<boolean> {
  const question = `approve batch ${batch.batchId} and send its ${plural(batch.counts.valid, 'valid row')}?`;
  if (options.yes) {
    say(`${question} yes (--yes)`);
    return true;
  }
  if (!output.ask) {
    say(
      `${question} not without a yes: nothing was approved (no terminal to ask on). Run again with --yes to approve it (exit code ${EXIT_NOT_APPROVED}).`,
    );
    return false;
  }
  const answer = (await output.ask(`${question} [y/N] `)).trim().toLowerCase();
  if (answer === 'y' || answer === 'yes') return true;
  say(`not approved: batch ${batch.batchId} still waits, nothing was sent.`);
  return false;
}

/** Why a batch cannot be approved, and what its state means for the person who tried. */
export function notWaitingText(batch: BatchRecord, options: LedgerSourceOptions): string {
  const id = batch.batchId;
  switch (batch.phase) {
    case 'approved':
      return `batch ${id} is already approved: ${options.stack ? 'the poller starts sending it within a minute' : `send it with ${resumeCommandFor(id, options)}`}`;
    case 'splitting':
      return `batch ${id} is still being split: a batch that must wait shows "awaiting-approval" in gift-batch status once its split is done`;
    case 'awaiting-approval':
      return `batch ${id} waits for approval`;
    default: {
      const state =
        batch.phase === 'stopped'
          ? `stopped (${batch.stopReason ?? 'no reason recorded'})`
          : batch.phase;
      return batch.approvalReason
        ? `batch ${id} was approved already; it is ${state}`
        : `batch ${id} is not waiting for approval: it is ${state}`;
    }
  }
}

/** After the approval: who starts sending, and how to follow it. */
async function nextStepText(batchId: string, options: LedgerSourceOptions): Promise<string> {
  if (options.stack) {
    return [
      `the stack's poller releases it: sending starts within a minute.`,
      `follow it: ${['gift-batch', 'status', batchId, '--stack', options.stack].map(shellWord).join(' ')}`,
    ].join('\n');
  }
  const running = await liveLedgerEndpoint(resolve(options.stateDir ?? '.gift-batch'));
  if (running) {
    return `the gift-batch run running here (process ${running.ownerPid}) starts sending it within seconds; ${resumeCommandFor(batchId, options)} follows it to its results.`;
  }
  return `send it (nothing is sent until then): ${resumeCommandFor(batchId, options)}`;
}

function resumeCommandFor(batchId: string, options: LedgerSourceOptions): string {
  const words = ['gift-batch', 'resume', batchId];
  if (options.stateDir) words.push('--state-dir', options.stateDir);
  return words.map(shellWord).join(' ');
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}

export function approveCommand(): Command {
  return new Command('approve')
    .description(
      'Approve a batch the guardrail holds (over the size limit, or with preflight findings) so that it is sent.',
    )
    .argument('<batch>', 'a batch id, as run or gift-batch status printed it')
    .option('-y, --yes', 'approve without asking (scripts)')
    .option('--state-dir <dir>', 'where the local ledger lives (default ./.gift-batch)')
    .option(
      '--stack <name>',
      'approve in a deployed stack’s ledger instead (your AWS credentials and region)',
    )
    .addHelpText(
      'after',
      `
Shows the batch (rows, why it waits, what the preflight found) and asks "approve … [y/N]" on a
terminal; --yes approves without asking; without a terminal and without --yes it approves nothing.
The approval is one conditional write: only a batch that waits moves, and only once.

Then sending starts: in AWS (--stack) the poller releases the batch within a minute. Locally a
"gift-batch run" running on the same state dir sends it within seconds; otherwise send it with
"gift-batch resume BATCH".

Exit codes: 0 approved, 1 the ledger could not be read or written, 2 no such batch,
3 the batch does not wait for approval (already approved, sending, complete or stopped),
4 not approved: nobody said yes.

Examples:
  gift-batch approve staff-0a1b2c3d4e5f
  gift-batch approve staff-0a1b2c3d4e5f --stack GiftBatch --yes`,
    )
    .action(async (batchId: string, options: ApproveOptions) => {
      process.exitCode = await approveBatch(batchId, options);
    });
}
