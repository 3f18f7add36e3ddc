import type { Context, S3Event, SQSEvent } from 'aws-lambda';
import {
  parseSplitContinuation,
  SqsSplitContinuations,
} from '../adapters/sqs-split-continuations.ts';
import { splitterConfig } from '../config.ts';
import { PreflightService } from '../core/preflight-service.ts';
import { type InvocationBudget, type SplitResult, SplitService } from '../core/split-service.ts';
import { systemClock } from '../ports/clock.ts';
import { andOpenApi, ledger, limiter, logger, objects, sendQueue, sqs } from './dependencies.ts';
import { METRIC, METRIC_UNIT, metrics } from './metrics.ts';
import { uploadedObjectOf } from './s3-records.ts';

const config = splitterConfig();
let service: SplitService | undefined;

/** Built on first use: with the preflight on, it needs the &Open key from the secret. */
async function splitService(): Promise<SplitService> {
  service ??= new SplitService({
    ledger,
    objects,
    queue: sendQueue,
    continuations: new SqsSplitContinuations({ client: sqs, queueUrl: config.splitQueueUrl }),
    clock: systemClock,
    settings: {
      defaultCampaignId: config.defaultCampaignId,
      maxRows: config.maxRows,
      chunkSize: config.chunkRows,
      handOverWhenRemainingMs: config.handOverWhenRemainingMs,
      approvalRowsOver: config.approvalRowsOver,
    },
    // The campaign GETs take their slots of the fleet's shared rate, as the poller's do.
    preflight: config.preflight
      ? new PreflightService({ api: andOpenApi(), clock: systemClock, limiter })
      : null,
  });
  return service;
}

/**
 * Two event sources, one service:
 * - S3 ObjectCreated under uploads/ → one batch per object (a duplicate event is a no-op);
 * - the split continuation queue (batch size 1) → carry on with a split that one invocation's time
 *   could not finish (a message delivered twice is a no-op).
 * A continuation that throws fails its message: SQS retries it, then dead-letters it.
 */
export const handler = async (event: S3Event | SQSEvent, context: Context): Promise<void> => {
  logger.addContext(context);
  const budget: InvocationBudget = { remainingMs: () => context.getRemainingTimeInMillis() };
  for (const record of event.Records) {
    const split = await splitService();
    if ('s3' in record) {
      const object = uploadedObjectOf(record);
      report(await split.split(object, budget), object);
    } else {
      const continuation = parseSplitContinuation(record.body);
      report(await split.continueSplit(continuation, budget), continuation);
    }
  }
  // An invocation with nothing to count publishes nothing (Powertools would warn about it).
  if (metrics.hasStoredMetrics()) metrics.publishStoredMetrics();
};

function report(result: SplitResult, trigger: object): void {
  if (result.kind === 'split' && result.invalid > 0) {
    metrics.addMetric(METRIC.RowsInvalid, METRIC_UNIT.RowsInvalid, result.invalid);
  }
  logger.info('split', { ...trigger, ...result, summary: undefined });
  // The guardrail working as configured, not a fault: info, so a local run's terminal stays clean
  // (its handlers log warnings only); gift-batch status and approve show the batch waiting.
  if (result.kind === 'split' && result.awaitingApproval) {
    logger.info('batch awaits approval: nothing is sent until a person approves it', {
      batchId: result.batchId,
      reason: result.awaitingApproval,
    });
  }
  if (result.kind === 'split' && result.fileError) {
    logger.warn('recipient file unreadable from some point on', {
      batchId: result.batchId,
      fileError: result.fileError,
      rowsAccepted: result.rows,
    });
  }
}
