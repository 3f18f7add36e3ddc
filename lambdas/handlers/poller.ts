import type { Context } from 'aws-lambda';
import { SqsSplitContinuations } from '../adapters/sqs-split-continuations.ts';
import { pollerConfig } from '../config.ts';
import { ApprovalService } from '../core/approval-service.ts';
import { CompletionService } from '../core/completion-service.ts';
import { PollService } from '../core/poll-service.ts';
import { ReconcileService } from '../core/reconcile-service.ts';
import { runAlone } from '../core/run-alone.ts';
import { resumeStalledSplits } from '../core/split-recovery.ts';
import { systemClock } from '../ports/clock.ts';
import {
  andOpenApi,
  ledger,
  limiter,
  limiterStore,
  logger,
  objects,
  outcomes,
  resultsBucket,
  runLease,
  sendQueue,
  sqs,
} from './dependencies.ts';
import { METRIC, METRIC_UNIT, metrics } from './metrics.ts';

const config = pollerConfig();
const completion = new CompletionService({
  ledger,
  objects,
  clock: systemClock,
  limiter: limiterStore,
  settings: {
    resultsBucket,
    recheckQuietBatchAfterMs: config.recheckQuietBatchAfterMs,
    // A row unchanged for as long as a sender can live has no counter delta on its way.
    countsSettleAfterMs: config.reconcileSendingStaleAfterMs,
    ceilingRps: limiter.settings.ceilingRps,
  },
});
const reconcile = new ReconcileService({
  ledger,
  queue: sendQueue,
  clock: systemClock,
  settings: {
    quietAfterMs: config.reconcileQuietAfterMs,
    sendingStaleAfterMs: config.reconcileSendingStaleAfterMs,
  },
});
// Batches a person approved (awaiting-approval → approved) start sending on the next run.
const approvals = new ApprovalService({ ledger, queue: sendQueue, clock: systemClock });
const splitRecovery = {
  ledger,
  continuations: new SqsSplitContinuations({ client: sqs, queueUrl: config.splitQueueUrl }),
  clock: systemClock,
};
let polling: PollService | undefined;

/**
 * On a schedule: release approved batches, follow created gifts until their URL appears, re-drive
 * the undecided rows of batches that went quiet (their messages were lost: the ledger is the source
 * of truth), then write finished batches' results (CSV, JSON summary, HTML report).
 */
export const handler = async (_event: unknown, context: Context): Promise<void> => {
  logger.addContext(context);
  if (!config.singleRun) return pollOnce();
  // One run at a time: a run may outlast its one-minute schedule (a big batch's results file,
  // hence the 300 s timeout), and two at once would do the same work twice and spend &Open's GET
  // budget twice. A lease in the ledger, not reserved concurrency: reserving would fail to deploy
  // on an account still on a new account's small concurrency quota.
  const run = await runAlone(
    runLease,
    {
      name: 'poller',
      holder: context.awsRequestId,
      clock: systemClock,
      remainingMs: context.getRemainingTimeInMillis(),
    },
    () => pollOnce(),
  );
  if (!run.ran) logger.info('an earlier poller run is still going: this one does nothing');
};

async function pollOnce(): Promise<void> {
  for (const [batchId, queued] of await approvals.releaseApproved()) {
    logger.info('approved batch released', { batchId, queued });
  }
  polling ??= new PollService({
    ledger,
    api: andOpenApi(),
    clock: systemClock,
    settings: config,
    limiter,
  });
  const report = await polling.pollDue();
  for (const alarm of report.alarms) logger.error(alarm);
  if (report.notFound > 0) {
    metrics.addMetric(METRIC.GiftsNotFound, METRIC_UNIT.GiftsNotFound, report.notFound);
    metrics.publishStoredMetrics();
  }
  // Event-sourced gifts whose URL arrived (or whose wait ended): tell their producers.
  await outcomes.rowsDecided(report.settledRows).catch((error: unknown) => {
    logger.error('could not publish outcome events', { error });
  });
  const redriven = await reconcile.redriveQuietBatches();
  for (const { batchId, queued, counts } of redriven) {
    // Worth a look: in a healthy fleet a batch is never quiet with undecided rows.
    if (queued > 0)
      logger.warn('re-drove the undecided rows of a quiet batch', { batchId, queued });
    // Counts lost with an invocation that ended before adding them (a timeout, a crash).
    if (counts === 'corrected') logger.warn('recounted a quiet batch from its rows', { batchId });
  }
  const completed = await completion.completeFinishedBatches();
  const splitsResumed = await resumeStalledSplits(splitRecovery, config.splitStalledAfterMs);
  logger.info('poll', {
    polled: report.polled,
    settled: report.settled,
    gaveUp: report.gaveUp,
    reconciled: redriven.map((batch) => batch.batchId),
    fromWebhookNews: report.fromWebhookNews,
    completed: completed.map((batch) => batch.batchId),
    splitsResumed,
  });
}
