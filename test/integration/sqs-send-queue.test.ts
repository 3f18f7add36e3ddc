/**
 * SqsSendQueue against real fauxqs (SQS on 127.0.0.1, a free port), through the real SDK client;
 * the retry of entries SQS reports Failed with a scripted client (fauxqs never fails an entry).
 */

import {
  CreateQueueCommand,
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  type Message,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  type SendMessageBatchCommandOutput,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  clampDelaySeconds,
  formatSendMessage,
  PoisonMessageError,
  parseSendMessage,
  SendQueueError,
  SqsSendQueue,
} from '../../lambdas/adapters/sqs-send-queue.ts';
import type { SendMessage } from '../../lambdas/ports/send-queue.ts';
import { localClientConfig, type RunningStandIn, startFauxqs } from '../../local/standins/index.ts';

let fauxqs: RunningStandIn;
let client: SQSClient;
let queueCount = 0;

beforeAll(async () => {
  fauxqs = await startFauxqs();
  client = new SQSClient(localClientConfig(fauxqs.endpoint));
});

afterAll(async () => {
  client?.destroy();
  await fauxqs?.stop();
});

/** A fresh queue per test, so no test sees another's messages. */
async function createQueue(): Promise<string> {
  queueCount += 1;
  const created = await client.send(
    new CreateQueueCommand({ QueueName: `send-${queueCount}-${Date.now()}` }),
  );
  if (created.QueueUrl === undefined) throw new Error('CreateQueue returned no QueueUrl');
  return created.QueueUrl;
}

function messagesFor(batchId: string, count: number): SendMessage[] {
  return Array.from({ length: count }, (_, index) => ({ batchId, row: index + 1 }));
}

/** Receives (and deletes) until `expected` messages arrived or `patience` polls came back empty. */
async function drain(queueUrl: string, expected: number, patience = 3): Promise<Message[]> {
  const received: Message[] = [];
  let emptyPolls = 0;
  while (received.length < expected && emptyPolls < patience) {
    const { Messages = [] } = await client.send(
      new ReceiveMessageCommand({
        QueueUrl: queueUrl,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: 1,
      }),
    );
    if (Messages.length === 0) {
      emptyPolls += 1;
      continue;
    }
    received.push(...Messages);
    await client.send(
      new DeleteMessageBatchCommand({
        QueueUrl: queueUrl,
        Entries: Messages.map((message, index) => ({
          Id: String(index),
          ReceiptHandle: message.ReceiptHandle,
        })),
      }),
    );
  }
  return received;
}

async function approximateCounts(queueUrl: string): Promise<{ visible: number; delayed: number }> {
  const { Attributes = {} } = await client.send(
    new GetQueueAttributesCommand({
      QueueUrl: queueUrl,
      AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesDelayed'],
    }),
  );
  return {
    visible: Number(Attributes.ApproximateNumberOfMessages),
    delayed: Number(Attributes.ApproximateNumberOfMessagesDelayed),
  };
}

describe('SqsSendQueue.enqueue against fauxqs', () => {
  it('enqueues 95 messages: every one received exactly once, with its body', async () => {
    // Prepare
    const queueUrl = await createQueue();
    const queue = new SqsSendQueue({ client, queueUrl });
    const messages = messagesFor('batch-95', 95);

    // Act
    await queue.enqueue(messages);
    const received = await drain(queueUrl, 95);
    // One more look, so a duplicate would be caught too.
    const extra = await drain(queueUrl, 1, 1);

    // Assess
    const rows = received.map((message) => parseSendMessage(message.Body ?? '').row);
    expect(received).toHaveLength(95);
    expect(extra).toHaveLength(0);
    expect(new Set(rows).size).toBe(95);
    expect(rows.toSorted((a, b) => a - b)).toEqual(messages.map((message) => message.row));
    for (const message of received) {
      expect(JSON.parse(message.Body ?? '')).toEqual({
        v: 1,
        batchId: 'batch-95',
        row: parseSendMessage(message.Body ?? '').row,
      });
    }
  });

  it('enqueues nothing for an empty list', async () => {
    // Prepare
    const queueUrl = await createQueue();
    const queue = new SqsSendQueue({ client, queueUrl });

    // Act
    await queue.enqueue([]);

    // Assess
    expect(await approximateCounts(queueUrl)).toEqual({ visible: 0, delayed: 0 });
  });

  it('honours delaySeconds: the message is invisible at first, then arrives', async () => {
    // Prepare
    const queueUrl = await createQueue();
    const queue = new SqsSendQueue({ client, queueUrl });

    // Act
    await queue.enqueue(messagesFor('batch-delay', 3), { delaySeconds: 1 });
    const atFirst = await client.send(
      new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10 }),
    );
    const countsAtFirst = await approximateCounts(queueUrl);
    const later = await drain(queueUrl, 3);

    // Assess
    expect(atFirst.Messages ?? []).toHaveLength(0);
    expect(countsAtFirst).toEqual({ visible: 0, delayed: 3 });
    expect(later).toHaveLength(3);
  });

  it('clamps delaySeconds to 0–900 (SQS refuses anything else)', async () => {
    // Prepare
    const queueUrl = await createQueue();
    const queue = new SqsSendQueue({ client, queueUrl });

    // Act
    await queue.enqueue(messagesFor('batch-late', 2), { delaySeconds: 5_000 });
    await queue.enqueue(messagesFor('batch-now', 1), { delaySeconds: -30 });
    const counts = await approximateCounts(queueUrl);

    // Assess
    expect(counts).toEqual({ visible: 1, delayed: 2 });
  });

  it('throws SendQueueError naming every message when the queue does not exist', async () => {
    // Prepare
    const queueUrl = `${fauxqs.endpoint}/000000000000/no-such-queue`;
    const queue = new SqsSendQueue({ client, queueUrl });

    // Act
    const enqueuing = queue.enqueue(messagesFor('batch-lost', 12));

    // Assess
    const error = await enqueuing.catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(SendQueueError);
    expect((error as SendQueueError).name).toBe('SendQueueError');
    expect((error as SendQueueError).notSent).toHaveLength(12);
    expect((error as SendQueueError).message).toMatch(/^12 of 12 send messages were not enqueued/);
    expect((error as SendQueueError).cause).toBeDefined();
  });
});

type Entry = { Id?: string; MessageBody?: string; DelaySeconds?: number };

/**
 * A client that answers SendMessageBatch from a script: `failures(call, entries)` says which entry
 * ids to report Failed, and whether as a sender fault.
 */
function scriptedClient(
  failures: (call: number, entries: Entry[]) => { id: string; senderFault: boolean }[],
) {
  const calls: Entry[][] = [];
  const fake = {
    async send(command: unknown): Promise<SendMessageBatchCommandOutput> {
      if (!(command instanceof SendMessageBatchCommand)) throw new Error('unexpected command');
      const entries = command.input.Entries ?? [];
      calls.push(entries);
      const failed = failures(calls.length, entries);
      const failedIds = new Set(failed.map((failure) => failure.id));
      return {
        $metadata: {},
        Successful: entries
          .filter((entry) => !failedIds.has(entry.Id ?? ''))
          .map((entry) => ({ Id: entry.Id, MessageId: `m-${entry.Id}`, MD5OfMessageBody: '' })),
        Failed: failed.map((failure) => ({
          Id: failure.id,
          SenderFault: failure.senderFault,
          Code: failure.senderFault ? 'InvalidMessageContents' : 'InternalError',
          Message: 'scripted',
        })),
      } as SendMessageBatchCommandOutput;
    },
  };
  return { client: fake as unknown as SQSClient, calls };
}

function recordingSleep() {
  const pauses: number[] = [];
  return { pauses, sleep: async (ms: number) => void pauses.push(ms) };
}

describe('SqsSendQueue.enqueue: entries SQS reports Failed', () => {
  it('sends 10 entries per call and retries only the failed ones, with a growing pause', async () => {
    // Prepare: entry 3 of the second request (row 14) fails three times (server side), then passes.
    const { client: scripted, calls } = scriptedClient((call, entries) =>
      call <= 1
        ? []
        : entries.some((e) => e.Id === '3') && call <= 4
          ? [{ id: '3', senderFault: false }]
          : [],
    );
    const { pauses, sleep } = recordingSleep();
    const queue = new SqsSendQueue({
      client: scripted,
      queueUrl: 'http://queue.invalid/q',
      concurrency: 1,
      baseRetryDelayMs: 50,
      sleep,
    });

    // Act
    await queue.enqueue(messagesFor('batch-retry', 15), { delaySeconds: 7 });

    // Assess
    // Call 1: rows 1–10 all pass. Call 2: rows 11–15, id 3 fails; calls 3–5 retry it alone.
    expect(calls.map((entries) => entries.length)).toEqual([10, 5, 1, 1, 1]);
    expect(calls[2]?.[0]?.Id).toBe('3');
    expect(parseSendMessage(calls[4]?.[0]?.MessageBody ?? '')).toEqual({
      batchId: 'batch-retry',
      row: 14,
    });
    expect(calls.flat().every((entry) => entry.DelaySeconds === 7)).toBe(true);
    expect(pauses).toEqual([50, 100, 200]);
  });

  it('gives up after maxAttempts and throws an error naming how many were not sent', async () => {
    // Prepare: ids 0 and 1 always fail (server side); id 2 is a sender fault, never retried.
    const { client: scripted, calls } = scriptedClient(() => [
      { id: '0', senderFault: false },
      { id: '1', senderFault: false },
      { id: '2', senderFault: true },
    ]);
    const { pauses, sleep } = recordingSleep();
    const queue = new SqsSendQueue({
      client: scripted,
      queueUrl: 'http://queue.invalid/q',
      maxAttempts: 3,
      baseRetryDelayMs: 10,
      sleep,
    });

    // Act
    const error = await queue
      .enqueue(messagesFor('batch-fail', 5))
      .catch((caught: unknown) => caught);

    // Assess
    expect(error).toBeInstanceOf(SendQueueError);
    expect((error as Error).message).toMatch(/^3 of 5 send messages were not enqueued/);
    expect((error as SendQueueError).notSent.map((message) => message.row).sort()).toEqual([
      1, 2, 3,
    ]);
    // Attempt 1 sends all 5; attempts 2 and 3 only the two retryable ones.
    expect(calls.map((entries) => entries.length)).toEqual([5, 2, 2]);
    expect(pauses).toEqual([10, 20]);
  });

  it('keeps several SendMessageBatch calls in flight, never more than the bound', async () => {
    // Prepare: a client that holds each call open until the next turn of the event loop.
    let inFlight = 0;
    let mostInFlight = 0;
    const { client: scripted, calls } = scriptedClient(() => []);
    const counting = {
      async send(command: unknown) {
        inFlight += 1;
        mostInFlight = Math.max(mostInFlight, inFlight);
        await new Promise((resolve) => setImmediate(resolve));
        inFlight -= 1;
        return scripted.send(command as SendMessageBatchCommand);
      },
    } as unknown as SQSClient;
    const queue = new SqsSendQueue({
      client: counting,
      queueUrl: 'http://queue.invalid/q',
      concurrency: 4,
    });

    // Act
    await queue.enqueue(messagesFor('batch-parallel', 95));

    // Assess
    expect(calls.map((entries) => entries.length)).toEqual([10, 10, 10, 10, 10, 10, 10, 10, 10, 5]);
    expect(mostInFlight).toBe(4);
  });

  it('does not set DelaySeconds when no delay is asked (the queue default applies)', async () => {
    // Prepare
    const { client: scripted, calls } = scriptedClient(() => []);
    const queue = new SqsSendQueue({ client: scripted, queueUrl: 'http://queue.invalid/q' });

    // Act
    await queue.enqueue(messagesFor('batch-default', 2));

    // Assess
    expect(calls.flat().map((entry) => entry.DelaySeconds)).toEqual([undefined, undefined]);
  });
});

describe('parseSendMessage', () => {
  it('reads the body enqueue writes', () => {
    // Prepare
    const body = formatSendMessage({ batchId: 'b-1', row: 42 });

    // Act
    const parsed = parseSendMessage(body);

    // Assess
    expect(body).toBe('{"v":1,"batchId":"b-1","row":42}');
    expect(parsed).toEqual({ batchId: 'b-1', row: 42 });
  });

  it.each([
    ['not JSON', 'hello'],
    ['a JSON array', '[1,2]'],
    ['null', 'null'],
    ['another version', '{"v":2,"batchId":"b","row":1}'],
    ['no version', '{"batchId":"b","row":1}'],
    ['an empty batchId', '{"v":1,"batchId":"","row":1}'],
    ['a numeric batchId', '{"v":1,"batchId":7,"row":1}'],
    ['row 0', '{"v":1,"batchId":"b","row":0}'],
    ['a fractional row', '{"v":1,"batchId":"b","row":1.5}'],
    ['a row as text', '{"v":1,"batchId":"b","row":"1"}'],
    ['an S3 event sent to the wrong queue', '{"Records":[{"eventSource":"aws:s3"}]}'],
  ])('throws PoisonMessageError for %s', (_, body) => {
    // Prepare
    const parse = () => parseSendMessage(body);

    // Act
    const error = (() => {
      try {
        parse();
        return undefined;
      } catch (caught) {
        return caught;
      }
    })();

    // Assess
    expect(error).toBeInstanceOf(PoisonMessageError);
    expect((error as Error).name).toBe('PoisonMessageError');
  });

  it('keeps the JSON error as the cause of a body that is not JSON', () => {
    // Prepare
    const body = '{"v":1,';

    // Act
    const error = (() => {
      try {
        return parseSendMessage(body);
      } catch (caught) {
        return caught;
      }
    })();

    // Assess
    expect((error as PoisonMessageError).cause).toBeInstanceOf(SyntaxError);
  });
});

describe('clampDelaySeconds', () => {
  it.each([
    [-1, 0],
    [0, 0],
    [0.2, 1],
    [30, 30],
    [900, 900],
    [901, 900],
    [Number.POSITIVE_INFINITY, 900],
    [Number.NaN, 0],
  ])('%s → %s', (input, expected) => {
    // Prepare
    const seconds = input;

    // Act
    const clamped = clampDelaySeconds(seconds);

    // Assess
    expect(clamped).toBe(expected);
  });
});
