import { createHash } from 'node:crypto';
import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SendMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import type { Context, SQSEvent, SQSRecord } from 'aws-lambda';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  type LocalLambdaLogger,
  SqsEventSource,
  type SqsEventSourceOptions,
  type SqsHandler,
  type SqsInvocationReport,
} from '../../local/lambda/index.ts';
import { localClientConfig, type RunningStandIn, startFauxqs } from '../../local/standins/index.ts';

let fauxqs: RunningStandIn;
let sqs: SQSClient;
let queueCounter = 0;
/** Every event source a test starts, stopped after it even when it fails. */
const sources: SqsEventSource[] = [];

beforeAll(async () => {
  fauxqs = await startFauxqs();
  sqs = new SQSClient(localClientConfig(fauxqs.endpoint));
});

afterEach(async () => {
  await Promise.all(sources.splice(0).map((source) => source.stop()));
});

afterAll(async () => {
  sqs?.destroy();
  await fauxqs?.stop();
});

interface TestQueue {
  url: string;
  arn: string;
}

/** A fresh queue with a 1 s visibility timeout, so failed messages come back quickly. */
async function createQueue(attributes: Record<string, string> = {}): Promise<TestQueue> {
  queueCounter++;
  // SQS requires a FIFO queue's name to end in .fifo.
  const suffix = attributes.FifoQueue === 'true' ? '.fifo' : '';
  const created = await sqs.send(
    new CreateQueueCommand({
      QueueName: `esm-test-${process.pid}-${queueCounter}${suffix}`,
      Attributes: { VisibilityTimeout: '1', ...attributes },
    }),
  );
  const url = created.QueueUrl ?? '';
  const described = await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['QueueArn'] }),
  );
  return { url, arn: described.Attributes?.QueueArn ?? '' };
}

async function sendBodies(queue: TestQueue, bodies: string[]): Promise<string[]> {
  const sent = await sqs.send(
    new SendMessageBatchCommand({
      QueueUrl: queue.url,
      Entries: bodies.map((body, index) => ({ Id: `e${index}`, MessageBody: body })),
    }),
  );
  return (sent.Successful ?? []).map((entry) => entry.MessageId ?? '');
}

/** Visible plus in-flight messages: zero once everything was deleted. */
async function messagesLeft(queue: TestQueue): Promise<number> {
  const { Attributes } = await sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: queue.url,
      AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
    }),
  );
  return (
    Number(Attributes?.ApproximateNumberOfMessages) +
    Number(Attributes?.ApproximateNumberOfMessagesNotVisible)
  );
}

/** How long a test waits for deliveries before failing with a message instead of hanging. */
const WAIT_LIMIT_MS = 8_000;

/** Collects the invocation reports and lets a test wait for a condition on them. */
function reports() {
  const seen: SqsInvocationReport[] = [];
  const waiters: { ready: () => boolean; resolve: () => void }[] = [];
  return {
    seen,
    onInvoke(report: SqsInvocationReport) {
      seen.push(report);
      for (const waiter of waiters.filter((w) => w.ready())) waiter.resolve();
    },
    /** Resolves once `ready()` holds after some invocation; rejects after WAIT_LIMIT_MS. */
    until(ready: () => boolean, what: string): Promise<void> {
      if (ready()) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`Gave up after ${WAIT_LIMIT_MS} ms waiting for ${what}`)),
          WAIT_LIMIT_MS,
        );
        waiters.push({
          ready,
          resolve: () => {
            clearTimeout(timer);
            resolve();
          },
        });
      });
    },
  };
}

/** A promise and the means to settle it from outside. */
function gate() {
  let open: () => void = () => {};
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { opened, open };
}

type LogMethod = (message: string, attributes: Record<string, unknown>) => void;

/** A logger that prints nothing, its methods open to inspection. */
function silentLogger() {
  return {
    debug: vi.fn<LogMethod>(),
    info: vi.fn<LogMethod>(),
    warn: vi.fn<LogMethod>(),
    error: vi.fn<LogMethod>(),
  } satisfies LocalLambdaLogger;
}

function startSource(
  queue: TestQueue,
  handler: SqsHandler,
  options: Partial<SqsEventSourceOptions> = {},
): SqsEventSource {
  const source = new SqsEventSource({
    sqs,
    queueUrl: queue.url,
    queueArn: queue.arn,
    handler,
    functionName: 'gift-batch-sender',
    functionTimeoutMs: 5_000,
    logger: silentLogger(),
    ...options,
  });
  sources.push(source);
  source.start();
  return source;
}

/** Each delivery a handler saw: message id and ApproximateReceiveCount. */
type Delivery = { messageId: string; receiveCount: string };

function deliveriesOf(record: SQSRecord): Delivery {
  return { messageId: record.messageId, receiveCount: record.attributes.ApproximateReceiveCount };
}

describe('SqsEventSource (against fauxqs)', () => {
  it('delivers a batch with the exact Lambda record shape and a Lambda context', async () => {
    // Prepare
    const queue = await createQueue();
    const body = JSON.stringify({ row: 1, external_id: 'ext-1' });
    await sqs.send(
      new SendMessageCommand({
        QueueUrl: queue.url,
        MessageBody: body,
        MessageAttributes: {
          batchId: { DataType: 'String', StringValue: 'batch-7' },
          row: { DataType: 'Number', StringValue: '1' },
          blob: { DataType: 'Binary', BinaryValue: new Uint8Array([1, 2, 3]) },
        },
      }),
    );
    const invoked = gate();
    let event: SQSEvent | undefined;
    let context: Context | undefined;
    const log = reports();

    // Act
    startSource(
      queue,
      async (received, ctx) => {
        event = received;
        context = ctx;
        invoked.open();
      },
      { onInvoke: log.onInvoke },
    );
    await invoked.opened;
    await log.until(() => log.seen.length >= 1, 'the invocation report');

    // Assess
    expect(event?.Records).toHaveLength(1);
    const record = event?.Records[0];
    expect(Object.keys(record ?? {})).toEqual([
      'messageId',
      'receiptHandle',
      'body',
      'attributes',
      'messageAttributes',
      'md5OfBody',
      'md5OfMessageAttributes',
      'eventSource',
      'eventSourceARN',
      'awsRegion',
    ]);
    expect(Object.keys(record?.attributes ?? {})).toEqual([
      'ApproximateReceiveCount',
      'SentTimestamp',
      'SenderId',
      'ApproximateFirstReceiveTimestamp',
    ]);
    expect(record).toMatchObject({
      body,
      md5OfBody: createHash('md5').update(body).digest('hex'),
      eventSource: 'aws:sqs',
      eventSourceARN: queue.arn,
      awsRegion: 'us-east-1',
      attributes: { ApproximateReceiveCount: '1', SenderId: '000000000000' },
    });
    expect(record?.attributes.SentTimestamp).toMatch(/^\d{13}$/);
    expect(record?.attributes.ApproximateFirstReceiveTimestamp).toMatch(/^\d{13}$/);
    expect(record?.messageAttributes).toEqual({
      batchId: {
        stringValue: 'batch-7',
        stringListValues: [],
        binaryListValues: [],
        dataType: 'String',
      },
      row: { stringValue: '1', stringListValues: [], binaryListValues: [], dataType: 'Number' },
      blob: {
        binaryValue: Buffer.from([1, 2, 3]).toString('base64'),
        stringListValues: [],
        binaryListValues: [],
        dataType: 'Binary',
      },
    });
    expect(context).toMatchObject({
      functionName: 'gift-batch-sender',
      invokedFunctionArn: 'arn:aws:lambda:us-east-1:000000000000:function:gift-batch-sender',
    });
    expect(log.seen[0]).toMatchObject({
      outcome: 'succeeded',
      messageCount: 1,
      deletedCount: 1,
      awsRequestId: context?.awsRequestId,
    });
    expect(await messagesLeft(queue)).toBe(0);
  });

  it('carries the FIFO attributes in the order Lambda writes them', async () => {
    // Prepare
    const queue = await createQueue({ FifoQueue: 'true' });
    await sqs.send(
      new SendMessageCommand({
        QueueUrl: queue.url,
        MessageBody: 'fifo',
        MessageGroupId: 'batch-7',
        MessageDeduplicationId: 'row-1',
      }),
    );
    const log = reports();
    let record: SQSRecord | undefined;

    // Act
    startSource(
      queue,
      async (event) => {
        record = event.Records[0];
      },
      { onInvoke: log.onInvoke },
    );
    await log.until(() => log.seen.length >= 1, 'the invocation report');

    // Assess
    expect(Object.keys(record?.attributes ?? {})).toEqual([
      'ApproximateReceiveCount',
      'SentTimestamp',
      'SequenceNumber',
      'MessageGroupId',
      'SenderId',
      'MessageDeduplicationId',
      'ApproximateFirstReceiveTimestamp',
    ]);
    expect(record?.attributes).toMatchObject({
      MessageGroupId: 'batch-7',
      MessageDeduplicationId: 'row-1',
    });
    expect(record).not.toHaveProperty('md5OfMessageAttributes');
  });

  it('with a batching window, invokes with what arrived once the window has passed', async () => {
    // Prepare
    const queue = await createQueue();
    const ids = await sendBodies(queue, ['a', 'b']);
    const delivered: string[] = [];
    const log = reports();

    // Act
    startSource(
      queue,
      async (event) => {
        delivered.push(...event.Records.map((r) => r.messageId));
      },
      { onInvoke: log.onInvoke, batchSize: 10, maximumBatchingWindowMs: 300 },
    );
    await log.until(() => delivered.length >= 2, 'both messages');

    // Assess
    expect(delivered.sort()).toEqual([...ids].sort());
    expect(await messagesLeft(queue)).toBe(0);
  });

  it('on a partial batch failure deletes only the successes; the failed one comes back', async () => {
    // Prepare
    const queue = await createQueue();
    const [first, failing, third] = await sendBodies(queue, ['a', 'b', 'c']);
    const deliveries: Delivery[] = [];
    const log = reports();
    const handler: SqsHandler = async (event) => {
      deliveries.push(...event.Records.map(deliveriesOf));
      const fail = event.Records.filter(
        (r) => r.messageId === failing && r.attributes.ApproximateReceiveCount === '1',
      );
      return { batchItemFailures: fail.map((r) => ({ itemIdentifier: r.messageId })) };
    };

    // Act
    startSource(queue, handler, { onInvoke: log.onInvoke });
    await log.until(() => deliveries.length >= 4, 'four deliveries');

    // Assess
    expect(deliveries).toHaveLength(4);
    expect(
      deliveries
        .filter((d) => d.receiveCount === '1')
        .map((d) => d.messageId)
        .sort(),
    ).toEqual([first, failing, third].sort());
    expect(deliveries.at(-1)).toEqual({ messageId: failing, receiveCount: '2' });
    expect(
      log.seen.some((r) => r.outcome === 'partially-failed' && r.failedMessageIds[0] === failing),
    ).toBe(true);
    expect(await messagesLeft(queue)).toBe(0);
  });

  it('gives the whole batch back when the handler throws', async () => {
    // Prepare
    const queue = await createQueue();
    const ids = await sendBodies(queue, ['a', 'b', 'c']);
    const deliveries: Delivery[] = [];
    const log = reports();
    const handler: SqsHandler = async (event) => {
      deliveries.push(...event.Records.map(deliveriesOf));
      if (event.Records.some((r) => r.attributes.ApproximateReceiveCount === '1')) {
        throw new Error('downstream unavailable');
      }
    };

    // Act
    startSource(queue, handler, { onInvoke: log.onInvoke });
    await log.until(() => deliveries.length >= 6, 'six deliveries');

    // Assess
    const secondDeliveries = deliveries.filter((d) => d.receiveCount === '2');
    expect(secondDeliveries.map((d) => d.messageId).sort()).toEqual([...ids].sort());
    expect(log.seen.filter((r) => r.outcome === 'failed').every((r) => r.deletedCount === 0)).toBe(
      true,
    );
    expect(log.seen[0]?.error).toEqual(new Error('downstream unavailable'));
    expect(await messagesLeft(queue)).toBe(0);
  });

  it('gives the whole batch back when an itemIdentifier names no message of the batch', async () => {
    // Prepare
    const queue = await createQueue();
    const ids = await sendBodies(queue, ['a', 'b']);
    const deliveries: Delivery[] = [];
    const log = reports();
    const handler: SqsHandler = async (event) => {
      deliveries.push(...event.Records.map(deliveriesOf));
      const firstTime = event.Records.some((r) => r.attributes.ApproximateReceiveCount === '1');
      return { batchItemFailures: firstTime ? [{ itemIdentifier: 'not-a-message-id' }] : [] };
    };

    // Act
    startSource(queue, handler, { onInvoke: log.onInvoke });
    await log.until(() => deliveries.length >= 4, 'four deliveries');

    // Assess
    const redelivered = deliveries.filter((d) => d.receiveCount === '2').map((d) => d.messageId);
    expect(redelivered.sort()).toEqual([...ids].sort());
    expect(log.seen[0]).toMatchObject({ outcome: 'failed', deletedCount: 0 });
  });

  it('treats a handler that runs past its timeout as failed and deletes nothing', async () => {
    // Prepare
    const queue = await createQueue();
    const [id] = await sendBodies(queue, ['slow']);
    const deliveries: Delivery[] = [];
    const log = reports();
    const handler: SqsHandler = async (event) => {
      deliveries.push(...event.Records.map(deliveriesOf));
      // The first delivery hangs: Lambda would end it at the timeout.
      if (event.Records[0]?.attributes.ApproximateReceiveCount === '1') await new Promise(() => {});
    };

    // Act
    startSource(queue, handler, { onInvoke: log.onInvoke, functionTimeoutMs: 200 });
    await log.until(() => log.seen.length >= 2, 'two invocations');

    // Assess
    expect(log.seen.map((r) => r.outcome)).toEqual(['timed-out', 'succeeded']);
    expect(log.seen[0]?.error).toMatchObject({ name: 'LambdaTimeoutError' });
    expect(deliveries).toEqual([
      { messageId: id, receiveCount: '1' },
      { messageId: id, receiveCount: '2' },
    ]);
    expect(await messagesLeft(queue)).toBe(0);
  });

  it('lets the queue move a message to its DLQ after maxReceiveCount failed deliveries', async () => {
    // Prepare
    const dlq = await createQueue();
    const queue = await createQueue({
      RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlq.arn, maxReceiveCount: 2 }),
    });
    const [id] = await sendBodies(queue, ['poison']);
    const deliveries: Delivery[] = [];
    const handler: SqsHandler = async (event) => {
      deliveries.push(...event.Records.map(deliveriesOf));
      throw new Error('poison message');
    };

    // Act
    startSource(queue, handler);
    let dead: { MessageId?: string; Body?: string } | undefined;
    for (let attempt = 0; dead === undefined && attempt < 10; attempt++) {
      const received = await sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: dlq.url,
          WaitTimeSeconds: 1,
          MaxNumberOfMessages: 1,
        }),
      );
      dead = received.Messages?.[0];
    }

    // Assess
    expect(dead).toMatchObject({ MessageId: id, Body: 'poison' });
    expect(deliveries).toEqual([
      { messageId: id, receiveCount: '1' },
      { messageId: id, receiveCount: '2' },
    ]);
  });

  it('never runs more than maxConcurrency invocations at once', async () => {
    // Prepare
    const queue = await createQueue({ VisibilityTimeout: '30' });
    await sendBodies(
      queue,
      Array.from({ length: 10 }, (_, i) => `m${i}`),
    );
    await sendBodies(
      queue,
      Array.from({ length: 5 }, (_, i) => `n${i}`),
    );
    let inFlight = 0;
    let maxInFlight = 0;
    const log = reports();
    const handler: SqsHandler = async () => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      // Long enough for the other pollers to receive and start their own invocations.
      await new Promise((resolve) => setTimeout(resolve, 100));
      inFlight--;
    };

    // Act
    startSource(queue, handler, { onInvoke: log.onInvoke, batchSize: 1, maxConcurrency: 3 });
    await log.until(() => log.seen.length >= 15, 'fifteen invocations');

    // Assess
    expect(maxInFlight).toBe(3);
    expect(log.seen.every((r) => r.messageCount === 1 && r.outcome === 'succeeded')).toBe(true);
    expect(await messagesLeft(queue)).toBe(0);
  });

  it('stop() waits for the invocation in flight, then receives nothing more', async () => {
    // Prepare
    const queue = await createQueue({ VisibilityTimeout: '30' });
    await sendBodies(queue, ['in-flight']);
    const invoked = gate();
    const release = gate();
    let invocations = 0;
    let handlerFinished = false;
    const source = startSource(queue, async () => {
      invocations++;
      invoked.open();
      await release.opened;
      handlerFinished = true;
    });
    await invoked.opened;

    // Act
    let stopped = false;
    const stopping = source.stop().then(() => {
      stopped = true;
    });
    // Turn the event loop a few times: stop() must still be waiting for the handler.
    for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
    const stoppedWhileHandlerRan = stopped;
    const inFlightWhileStopping = source.inFlight;
    release.open();
    await stopping;
    await sendBodies(queue, ['after-stop']);

    // Assess
    expect(stoppedWhileHandlerRan).toBe(false);
    expect(inFlightWhileStopping).toBe(1);
    expect(handlerFinished).toBe(true);
    expect(source.inFlight).toBe(0);
    expect(invocations).toBe(1);
    // The in-flight message was deleted; the one sent after stop() is still waiting.
    expect(await messagesLeft(queue)).toBe(1);
  });

  it('logs SQS errors and keeps retrying instead of crashing', async () => {
    // Prepare
    const missing = {
      url: `${fauxqs.endpoint}/000000000000/no-such-queue`,
      arn: 'arn:aws:sqs:us-east-1:000000000000:no-such-queue',
    };
    const logger = silentLogger();
    const retried = new Promise<void>((resolve) => {
      logger.warn.mockImplementation(() => {
        if (logger.warn.mock.calls.length >= 4) resolve();
      });
    });
    const handler = vi.fn(async () => {});

    // Act
    const source = startSource(missing, handler, { logger });
    await retried;
    await source.stop();

    // Assess
    expect(logger.warn).toHaveBeenCalledWith(
      'SQS receive failed; retrying',
      expect.objectContaining({ functionName: 'gift-batch-sender', retryInMs: expect.any(Number) }),
    );
    expect(handler).not.toHaveBeenCalled();
  });

  it('refuses options AWS would refuse', () => {
    // Prepare
    const base = {
      sqs,
      queueUrl: 'http://127.0.0.1:1/000000000000/q',
      queueArn: 'arn:aws:sqs:us-east-1:000000000000:q',
      handler: async () => {},
      functionName: 'f',
      functionTimeoutMs: 1_000,
    };

    // Act
    const attempts = [
      () => new SqsEventSource({ ...base, batchSize: 11 }),
      () => new SqsEventSource({ ...base, batchSize: 0 }),
      () => new SqsEventSource({ ...base, maxConcurrency: 1 }),
      () => new SqsEventSource({ ...base, waitTimeSeconds: 21 }),
      () => new SqsEventSource({ ...base, queueArn: 'q' }),
    ];

    // Assess
    for (const attempt of attempts) expect(attempt).toThrow(RangeError);
  });
});
