/**
 * The SQS handlers (sender, intake) invoked concurrently in one process, as the local runtime's
 * event sources invoke them (Lambda runs one invocation per container at a time; one machine runs
 * several at once). Each invocation must answer for its own records only: a partial-batch response
 * that names another invocation's message fails the whole batch (Lambda's rule), and one that
 * forgets its own failure deletes a message that should have stayed.
 *
 * The batches hold only unreadable messages: the handlers refuse them before any AWS call, so no
 * stand-in is needed and the endpoints below are never dialled.
 */
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { beforeAll, describe, expect, it } from 'vitest';
import { lambdaContext } from '../../../local/lambda/index.ts';

type SqsHandler = (event: SQSEvent, context: Context) => Promise<SQSBatchResponse>;

function unreadableRecord(messageId: string): SQSRecord {
  return {
    messageId,
    receiptHandle: `receipt-${messageId}`,
    body: `not json ${messageId}`,
    attributes: {
      ApproximateReceiveCount: '1',
      SentTimestamp: '1795000000000',
      SenderId: 'local',
      ApproximateFirstReceiveTimestamp: '1795000000000',
    },
    messageAttributes: {},
    md5OfBody: '',
    eventSource: 'aws:sqs',
    eventSourceARN: 'arn:aws:sqs:us-east-1:000000000000:gift-batch-send',
    awsRegion: 'us-east-1',
  };
}

function batchOf(prefix: string, count: number): SQSEvent {
  return {
    Records: Array.from({ length: count }, (_, index) => unreadableRecord(`${prefix}-${index}`)),
  };
}

function failedIds(response: SQSBatchResponse): string[] {
  return response.batchItemFailures.map((failure) => failure.itemIdentifier).sort();
}

/** Several invocations of one handler at once, each with its own batch of unreadable messages. */
async function invokeAtOnce(handler: SqsHandler, functionName: string) {
  const batches = [batchOf('a', 3), batchOf('b', 1), batchOf('c', 2)];
  const responses = await Promise.all(
    batches.map((event) => handler(event, lambdaContext({ functionName, timeoutMs: 30_000 }))),
  );
  return { batches, responses };
}

describe('SQS handlers invoked concurrently in one process', () => {
  let sender: SqsHandler;
  let intake: SqsHandler;

  beforeAll(async () => {
    // The handlers read their environment once, when loaded (a closed port: never dialled).
    Object.assign(process.env, {
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'local',
      AWS_SECRET_ACCESS_KEY: 'local',
      AWS_ENDPOINT_URL_SQS: 'http://127.0.0.1:9',
      AWS_ENDPOINT_URL_DYNAMODB: 'http://127.0.0.1:9',
      AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:9',
      LEDGER_TABLE: 'gift-batch-ledger',
      SEND_QUEUE_URL: 'http://127.0.0.1:9/000000000000/gift-batch-send',
      RESULTS_BUCKET: 'gift-batch-results',
      ANDOPEN_BASE_URL: 'http://127.0.0.1:9',
      ANDOPEN_API_KEY: 'ao-v1-staging-concurrencytestkey',
      POWERTOOLS_LOG_LEVEL: 'SILENT',
      POWERTOOLS_METRICS_DISABLED: 'true',
    });
    sender = (await import('../../../lambdas/handlers/sender.ts')).handler;
    intake = (await import('../../../lambdas/handlers/intake.ts')).handler;
  });

  it.each([
    ['sender', () => sender],
    ['intake', () => intake],
  ])('the %s answers each invocation for its own messages only', async (name, handlerOf) => {
    // Prepare: three batches, every message unreadable (each must be reported as failed).

    // Act: the three invocations run at once.
    const { batches, responses } = await invokeAtOnce(handlerOf(), `gift-batch-${name}`);

    // Assess: each response names exactly its own messages.
    responses.forEach((response, index) => {
      const own = (batches[index]?.Records ?? []).map((record) => record.messageId).sort();
      expect(failedIds(response)).toEqual(own);
    });
  });
});
