import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import pLimit from 'p-limit';
import { parseSendMessage } from '../adapters/sqs-send-queue.ts';
import { senderConfig } from '../config.ts';
import { Permits } from '../core/rate-limiter.ts';
import { BatchActivity, CountsByBatch, retryDelaySeconds } from '../core/send-counts.ts';
import type { SendResult } from '../core/send-service.ts';
import { SendService } from '../core/send-service.ts';
import { systemClock } from '../ports/clock.ts';
import type { SendMessage } from '../ports/send-queue.ts';
import { andOpenApi, ledger, limiter, logger, outcomes, sendQueue } from './dependencies.ts';
import { METRIC, METRIC_UNIT, metrics } from './metrics.ts';

const config = senderConfig();
// Across invocations: a batch whose rows only wait (a 429 storm) is marked active once a minute.
const activity = new BatchActivity(systemClock);
let service: SendService | undefined;

/**
 * An SQS batch → one gift request per row, `config.concurrency` at a time. A row that must wait
 * (throttled, maintenance, nothing sent, batch stopped) goes back on the queue as a new delayed
 * message, so waiting never counts as a failed receive and never pushes a row toward the DLQ; only a
 * message that cannot be handled at all (poison) fails and is redriven there.
 */
export const handler = async (event: SQSEvent, context: Context): Promise<SQSBatchResponse> => {
  logger.addContext(context);
  service ??= new SendService({
    ledger,
    api: andOpenApi(),
    clock: systemClock,
    settings: {
      firstPollAfterMs: config.firstPollAfterMs,
      pollDeadlineMs: config.pollDeadlineMs,
      useWebhookNews: config.useWebhookNews,
    },
    limiter,
  });
  const sendRow = service;
  const limit = pLimit(config.concurrency);
  // This invocation's slots of the fleet's rate, at most one per row.
  const permits = new Permits(limiter, systemClock, event.Records.length);
  const counts = new CountsByBatch();
  const decided: SendMessage[] = [];

  const recordHandler = (record: SQSRecord): Promise<void> =>
    limit(async () => {
      const message = parseSendMessage(record.body);
      const result = await sendRow.send(message, permits);
      if (result.kind === 'retry') {
        await sendQueue.enqueue([message], { delaySeconds: retryDelaySeconds(result) });
      }
      counts.add(message.batchId, result);
      if (isDecided(result)) decided.push(message);
      recordMetrics(result);
      logger.info('row', { batchId: message.batchId, row: message.row, ...result });
    });

  // A processor per invocation: it holds the batch's state, and the local runtime runs several
  // invocations at once in one process (Lambda runs one per container at a time).
  const response = await processPartialResponse(
    event,
    recordHandler,
    new BatchProcessor(EventType.SQS),
    {
      context,
      throwOnFullBatchFailure: false,
    },
  );
  await counts.flush(ledger, new Date().toISOString(), activity).catch((error: unknown) => {
    // Counters are a progress hint; completion checks the rows themselves when they lag.
    logger.warn('could not update batch counters', { error });
  });
  // Event-sourced rows rejected, unknown, or created with their URL: tell their producers.
  await outcomes.rowsDecided(decided).catch((error: unknown) => {
    logger.error('could not publish outcome events', { error });
  });
  // An invocation with nothing to count publishes nothing (Powertools would warn about it).
  if (metrics.hasStoredMetrics()) metrics.publishStoredMetrics();
  return response;
};

/** A final outcome, and for a created gift one whose URL came with the answer (else the poller's). */
function isDecided(result: SendResult): boolean {
  // An answer the ledger did not record (the row had moved on) decided nothing.
  if (result.kind !== 'done' || result.movedFrom === null) return false;
  return result.state === 'created' ? result.settled === true : result.state !== 'skipped';
}

const DONE_METRIC = {
  created: METRIC.RowsCreated,
  rejected: METRIC.RowsRejected,
  unknown: METRIC.RowsUnknown,
} as const;

function recordMetrics(result: SendResult): void {
  if (result.kind === 'done') {
    if (result.state === 'skipped') return;
    const name = DONE_METRIC[result.state];
    metrics.addMetric(name, METRIC_UNIT[name], 1);
    return;
  }
  if (result.reason === 'throttled') {
    metrics.addMetric(METRIC.RowsThrottled, METRIC_UNIT.RowsThrottled, 1);
  }
  if (result.reason === 'configuration-stop') {
    metrics.addMetric(METRIC.ConfigurationStops, METRIC_UNIT.ConfigurationStops, 1);
  }
  if ((result.reason === 'throttled' || result.reason === 'unavailable') && result.retryAfterMs) {
    metrics.addMetric(METRIC.PausedSeconds, METRIC_UNIT.PausedSeconds, result.retryAfterMs / 1000);
  }
}
