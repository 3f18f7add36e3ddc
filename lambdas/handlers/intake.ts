import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { type IntakeResult, IntakeService } from '../core/events/intake-service.ts';
import { systemClock } from '../ports/clock.ts';
import { ledger, logger, outcomePublisher, sendQueue } from './dependencies.ts';
import { type METRIC, METRIC_UNIT, metrics } from './metrics.ts';

const service = new IntakeService({
  ledger,
  queue: sendQueue,
  outcomes: outcomePublisher,
  clock: systemClock,
});

/** A message no gift can be recorded for (no readable idempotency key): left to the intake DLQ. */
export class UnreadableGiftEventError extends Error {
  override readonly name = 'UnreadableGiftEventError';
}

/**
 * The intake queue (EventBridge "Gift Requested" events routed by a rule, and contract messages put
 * straight on the queue) → at most one ledger row per idempotency key, queued on the send queue. A
 * message without a readable key fails alone and, after the queue's receive count, lands in the
 * intake dead-letter queue with its reason in the log.
 */
export const handler = async (event: SQSEvent, context: Context): Promise<SQSBatchResponse> => {
  logger.addContext(context);
  const recordHandler = async (record: SQSRecord): Promise<void> => {
    const result = await service.intake(record.body);
    recordMetrics(result);
    if (result.kind === 'unreadable') {
      logger.error('unreadable gift event: it goes to the intake DLQ after its receives', {
        messageId: record.messageId,
        receiveCount: record.attributes.ApproximateReceiveCount,
        reason: result.reason,
      });
      throw new UnreadableGiftEventError(result.reason);
    }
    if (result.kind === 'conflict') {
      logger.error('idempotency key reused with a different payload: rejected and reported', {
        messageId: record.messageId,
        ...result,
      });
    } else {
      logger.info('event', { messageId: record.messageId, ...result });
    }
  };
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
  if (metrics.hasStoredMetrics()) metrics.publishStoredMetrics();
  return response;
};

function recordMetrics(result: IntakeResult): void {
  const count = (name: keyof typeof METRIC) => metrics.addMetric(name, METRIC_UNIT[name], 1);
  switch (result.kind) {
    case 'accepted':
      count('EventsAccepted');
      if (result.state === 'invalid') count('RowsInvalid');
      return;
    case 'duplicate':
      count('EventsDuplicate');
      return;
    case 'conflict':
      count('EventKeyConflicts');
      return;
    case 'unreadable':
      count('EventsUnreadable');
  }
}
