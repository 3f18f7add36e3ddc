import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import {
  DeleteMessageBatchCommand,
  type DeleteMessageBatchRequestEntry,
  type Message,
  type MessageAttributeValue,
  ReceiveMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type {
  Context,
  SQSEvent,
  SQSMessageAttributes,
  SQSRecord,
  SQSRecordAttributes,
} from 'aws-lambda';
import { invokeWithTimeout, LambdaTimeoutError } from './context.ts';
import { describeError, type LocalLambdaLogger, stderrLogger } from './logger.ts';

/**
 * An SQS-triggered handler. The result is read the way Lambda reads it: `{ batchItemFailures }`
 * when `reportBatchItemFailures` is on, ignored otherwise.
 */
export type SqsHandler = (event: SQSEvent, context: Context) => Promise<unknown>;

export interface SqsEventSourceOptions {
  sqs: SQSClient;
  queueUrl: string;
  /** `arn:aws:sqs:REGION:ACCOUNT:NAME`; the records' `eventSourceARN`, and their `awsRegion`. */
  queueArn: string;
  handler: SqsHandler;
  functionName: string;
  functionTimeoutMs: number;
  /** 1–10, default 10. */
  batchSize?: number;
  /** How long to keep gathering messages for a batch once the first arrived. Default 0. */
  maximumBatchingWindowMs?: number;
  /** Concurrent invocations at most, like the ESM's `MaximumConcurrency`. ≥ 2, default 2. */
  maxConcurrency?: number;
  /** Default true: the handler's `batchItemFailures` decide which messages stay. */
  reportBatchItemFailures?: boolean;
  /** Long-poll wait per receive, 0–20 s. Default 1, so `stop()` returns within about a second. */
  waitTimeSeconds?: number;
  /** Defaults to Lambda's 128. */
  memoryLimitInMB?: number;
  /** Called after every invocation, once its deletes are done. Must not throw (it is logged). */
  onInvoke?: (report: SqsInvocationReport) => void;
  /** Defaults to warnings and errors on stderr. */
  logger?: LocalLambdaLogger;
}

export type SqsInvocationOutcome = 'succeeded' | 'partially-failed' | 'failed' | 'timed-out';

export interface SqsInvocationReport {
  functionName: string;
  awsRequestId: string;
  outcome: SqsInvocationOutcome;
  messageCount: number;
  /** The messages left on the queue to come back after their visibility timeout. */
  failedMessageIds: string[];
  /** Messages actually deleted (a failed delete leaves a message to be delivered again). */
  deletedCount: number;
  durationMs: number;
  /** What the handler threw, a {@link LambdaTimeoutError}, or an {@link InvalidBatchResponseError}. */
  error?: unknown;
}

/** A handler result Lambda would read as "the whole batch failed". */
export class InvalidBatchResponseError extends Error {
  override name = 'InvalidBatchResponseError';
}

/** SQS's own limits for ReceiveMessage. */
const MAX_BATCH_SIZE = 10;
const MAX_WAIT_TIME_SECONDS = 20;
/** SQS errors: first retry after 100 ms, doubling up to 5 s. */
const BACKOFF_BASE_MS = 100;
const BACKOFF_CAP_MS = 5_000;
const DELETE_ATTEMPTS = 4;
/** Between short polls while a batching window is open, so an idle queue is not hammered. */
const WINDOW_POLL_PAUSE_MS = 50;

/**
 * An event source mapping for one SQS queue, as AWS runs it: up to `maxConcurrency` pollers, each
 * receiving a batch, invoking the handler with Lambda's `SQSEvent`, and deleting only what the
 * invocation reports as processed. A failed or timed-out invocation deletes nothing: its messages
 * come back after the queue's visibility timeout, and after the queue's `maxReceiveCount` SQS
 * itself moves them to the dead-letter queue (the queue's RedrivePolicy, not this class).
 */
export class SqsEventSource {
  private readonly options: Required<Omit<SqsEventSourceOptions, 'onInvoke'>> &
    Pick<SqsEventSourceOptions, 'onInvoke'>;
  private readonly awsRegion: string;
  private pollers: Promise<void>[] | undefined;
  private stopping = false;
  private stopped: Promise<void> | undefined;
  private wakeSleepers: () => void = () => {};
  private readonly stopRequested: Promise<void>;
  private inFlightCount = 0;

  constructor(options: SqsEventSourceOptions) {
    this.options = {
      batchSize: MAX_BATCH_SIZE,
      maximumBatchingWindowMs: 0,
      maxConcurrency: 2,
      reportBatchItemFailures: true,
      waitTimeSeconds: 1,
      memoryLimitInMB: 128,
      logger: stderrLogger,
      ...withoutUndefined(options),
    };
    const { batchSize, maxConcurrency, waitTimeSeconds, maximumBatchingWindowMs } = this.options;
    assertInteger('batchSize', batchSize, 1, MAX_BATCH_SIZE);
    // The ESM's MaximumConcurrency has the same floor of 2.
    assertInteger('maxConcurrency', maxConcurrency, 2, 1_000);
    assertInteger('waitTimeSeconds', waitTimeSeconds, 0, MAX_WAIT_TIME_SECONDS);
    assertInteger('maximumBatchingWindowMs', maximumBatchingWindowMs, 0, 300_000);
    // Lambda's own limit is 900 s; checked here so a bad value fails now, not on every batch.
    assertInteger('functionTimeoutMs', this.options.functionTimeoutMs, 1, 900_000);
    this.awsRegion = regionOf(options.queueArn);
    this.stopRequested = new Promise((resolve) => {
      this.wakeSleepers = resolve;
    });
  }

  /** Invocations running right now. */
  get inFlight(): number {
    return this.inFlightCount;
  }

  /** Starts the pollers. An event source starts once; make a new one to start again. */
  start(): void {
    if (this.pollers !== undefined) throw new Error(`${this.describe()} was already started`);
    this.pollers = Array.from({ length: this.options.maxConcurrency }, () => this.poll());
  }

  /**
   * Stops receiving, waits for the invocations in flight (and their deletes), then resolves. A long
   * poll already under way is allowed to finish (at most `waitTimeSeconds`) and what it brings is
   * processed: aborting it could leave received messages invisible until their timeout.
   */
  stop(): Promise<void> {
    if (this.stopped !== undefined) return this.stopped;
    this.stopping = true;
    this.wakeSleepers();
    this.stopped = Promise.all(this.pollers ?? []).then(() => undefined);
    return this.stopped;
  }

  /** One poller: receive a batch, invoke, delete; until stopped. Never rejects. */
  private async poll(): Promise<void> {
    let consecutiveErrors = 0;
    while (!this.stopping) {
      let batch: Message[];
      try {
        batch = await this.receiveBatch();
        consecutiveErrors = 0;
      } catch (error) {
        consecutiveErrors++;
        const delayMs = backoffMs(consecutiveErrors);
        this.options.logger.warn('SQS receive failed; retrying', {
          ...this.logAttributes(),
          ...describeError(error),
          retryInMs: delayMs,
        });
        await this.sleep(delayMs);
        continue;
      }
      if (batch.length > 0) await this.invoke(batch);
    }
  }

  /**
   * Up to `batchSize` messages. Without a batching window: one receive. With one: keeps receiving
   * until the batch is full or the window, opened by the first message, has passed.
   */
  private async receiveBatch(): Promise<Message[]> {
    const { batchSize, maximumBatchingWindowMs, waitTimeSeconds } = this.options;
    const batch = await this.receive(batchSize, waitTimeSeconds);
    if (batch.length === 0 || maximumBatchingWindowMs === 0) return batch;
    const windowEnds = performance.now() + maximumBatchingWindowMs;
    while (batch.length < batchSize && !this.stopping) {
      const leftMs = windowEnds - performance.now();
      if (leftMs <= 0) break;
      const waitSeconds = Math.min(waitTimeSeconds, Math.floor(leftMs / 1000));
      let more: Message[];
      try {
        more = await this.receive(batchSize - batch.length, waitSeconds);
      } catch (error) {
        // The messages already received are in flight: invoke with them rather than drop them.
        this.options.logger.warn('SQS receive failed inside the batching window', {
          ...this.logAttributes(),
          ...describeError(error),
        });
        break;
      }
      batch.push(...more);
      if (more.length === 0 && waitSeconds === 0) {
        await this.sleep(Math.min(WINDOW_POLL_PAUSE_MS, leftMs));
      }
    }
    return batch;
  }

  private async receive(maxMessages: number, waitTimeSeconds: number): Promise<Message[]> {
    const response = await this.options.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: this.options.queueUrl,
        MaxNumberOfMessages: maxMessages,
        WaitTimeSeconds: waitTimeSeconds,
        MessageSystemAttributeNames: ['All'],
        MessageAttributeNames: ['All'],
      }),
    );
    return response.Messages ?? [];
  }

  private async invoke(batch: Message[]): Promise<void> {
    const { functionName, functionTimeoutMs, handler, memoryLimitInMB } = this.options;
    const records = batch.flatMap((message) => this.toRecordOrSkip(message));
    if (records.length === 0) return;
    const awsRequestId = randomUUID();
    const event: SQSEvent = { Records: records };
    const started = performance.now();
    this.inFlightCount++;
    let outcome: SqsInvocationOutcome;
    let failedMessageIds: string[];
    let error: unknown;
    try {
      const result = await invokeWithTimeout(handler, event, {
        functionName,
        timeoutMs: functionTimeoutMs,
        memoryLimitInMB,
        awsRequestId,
      });
      const verdict = this.options.reportBatchItemFailures
        ? readBatchResponse(result, records)
        : { failed: [] };
      failedMessageIds = verdict.failed;
      error = verdict.error;
      outcome =
        verdict.error !== undefined
          ? 'failed'
          : failedMessageIds.length > 0
            ? 'partially-failed'
            : 'succeeded';
    } catch (thrown) {
      error = thrown;
      outcome = thrown instanceof LambdaTimeoutError ? 'timed-out' : 'failed';
      failedMessageIds = records.map((record) => record.messageId);
    } finally {
      this.inFlightCount--;
    }
    const durationMs = performance.now() - started;
    if (outcome === 'failed' || outcome === 'timed-out') {
      this.options.logger.error(
        'Invocation failed; its messages return after their visibility timeout',
        {
          ...this.logAttributes(),
          awsRequestId,
          outcome,
          messageCount: records.length,
          ...describeError(error),
        },
      );
    }

    // Only now, with the handler finished, may anything be deleted.
    const failed = new Set(failedMessageIds);
    const done = records.filter((record) => !failed.has(record.messageId));
    const deletedCount = await this.deleteMessages(done);
    this.report({
      functionName,
      awsRequestId,
      outcome,
      messageCount: records.length,
      failedMessageIds,
      deletedCount,
      durationMs,
      ...(error === undefined ? {} : { error }),
    });
  }

  /**
   * Deletes with DeleteMessageBatch, retrying errors and entries SQS failed on its side. Returns
   * how many were deleted; what could not be is logged and will simply be delivered again.
   */
  private async deleteMessages(records: SQSRecord[]): Promise<number> {
    let pending: DeleteMessageBatchRequestEntry[] = records.map((record, index) => ({
      Id: `m${index}`,
      ReceiptHandle: record.receiptHandle,
    }));
    let deleted = 0;
    for (let attempt = 1; pending.length > 0; attempt++) {
      try {
        const response = await this.options.sqs.send(
          new DeleteMessageBatchCommand({ QueueUrl: this.options.queueUrl, Entries: pending }),
        );
        deleted += response.Successful?.length ?? 0;
        const failures = response.Failed ?? [];
        const retryable = new Set(failures.filter((f) => !f.SenderFault).map((f) => f.Id));
        for (const failure of failures.filter((f) => f.SenderFault)) {
          this.options.logger.warn('SQS refused to delete a message; it will be delivered again', {
            ...this.logAttributes(),
            code: failure.Code,
            reason: failure.Message,
          });
        }
        pending = pending.filter((entry) => retryable.has(entry.Id));
        if (pending.length === 0) break;
      } catch (error) {
        this.options.logger.warn('SQS DeleteMessageBatch failed', {
          ...this.logAttributes(),
          ...describeError(error),
          attempt,
        });
      }
      if (attempt >= DELETE_ATTEMPTS) {
        this.options.logger.warn('Gave up deleting messages; they will be delivered again', {
          ...this.logAttributes(),
          count: pending.length,
        });
        break;
      }
      // Not interrupted by stop(): a delete that can still succeed saves a duplicate delivery.
      await delay(backoffMs(attempt));
    }
    return deleted;
  }

  private toRecordOrSkip(message: Message): SQSRecord[] {
    if (message.MessageId === undefined || message.ReceiptHandle === undefined) {
      this.options.logger.warn('SQS returned a message without id or receipt handle; skipped', {
        ...this.logAttributes(),
      });
      return [];
    }
    return [toSqsRecord(message, this.options.queueArn, this.awsRegion)];
  }

  private report(report: SqsInvocationReport): void {
    try {
      this.options.onInvoke?.(report);
    } catch (error) {
      this.options.logger.warn('onInvoke threw', {
        ...this.logAttributes(),
        ...describeError(error),
      });
    }
  }

  /** Resolves after `ms`, or at once when stop() is called. */
  private async sleep(ms: number): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, ms);
      }),
      this.stopRequested,
    ]);
    clearTimeout(timer);
  }

  private logAttributes(): Record<string, unknown> {
    return { functionName: this.options.functionName, queueArn: this.options.queueArn };
  }

  private describe(): string {
    return `SqsEventSource(${this.options.queueArn} → ${this.options.functionName})`;
  }
}

/**
 * One SQS message as Lambda hands it to a function: lower-camel keys, system attributes passed
 * through, message attributes in Lambda's own shape (binary as base64, empty list values).
 */
export function toSqsRecord(message: Message, queueArn: string, awsRegion: string): SQSRecord {
  return {
    messageId: message.MessageId ?? '',
    receiptHandle: message.ReceiptHandle ?? '',
    body: message.Body ?? '',
    attributes: toRecordAttributes(message.Attributes ?? {}),
    messageAttributes: toRecordMessageAttributes(message.MessageAttributes ?? {}),
    md5OfBody: message.MD5OfBody ?? '',
    // Present only when the message has attributes, as in Lambda's events.
    ...(message.MD5OfMessageAttributes === undefined
      ? {}
      : { md5OfMessageAttributes: message.MD5OfMessageAttributes }),
    eventSource: 'aws:sqs',
    eventSourceARN: queueArn,
    awsRegion,
  };
}

/** Lambda's order for the attributes it documents; any others SQS sends follow as they came. */
const ATTRIBUTE_ORDER = [
  'ApproximateReceiveCount',
  'AWSTraceHeader',
  'SentTimestamp',
  'SequenceNumber',
  'MessageGroupId',
  'SenderId',
  'MessageDeduplicationId',
  'ApproximateFirstReceiveTimestamp',
  'DeadLetterQueueSourceArn',
];

function toRecordAttributes(attributes: Partial<Record<string, string>>): SQSRecordAttributes {
  const known = ATTRIBUTE_ORDER.filter((name) => attributes[name] !== undefined);
  const others = Object.keys(attributes).filter((name) => !ATTRIBUTE_ORDER.includes(name));
  const ordered: Record<string, string> = {};
  for (const name of [...known, ...others]) {
    const value = attributes[name];
    if (value !== undefined) ordered[name] = value;
  }
  // SQS always sends the four required ones when asked for 'All'.
  return ordered as unknown as SQSRecordAttributes;
}

function toRecordMessageAttributes(
  attributes: Record<string, MessageAttributeValue>,
): SQSMessageAttributes {
  const converted: SQSMessageAttributes = {};
  for (const [name, value] of Object.entries(attributes)) {
    converted[name] = {
      ...(value.StringValue === undefined ? {} : { stringValue: value.StringValue }),
      ...(value.BinaryValue === undefined
        ? {}
        : { binaryValue: Buffer.from(value.BinaryValue).toString('base64') }),
      // Reserved by SQS and always empty in Lambda's events.
      stringListValues: value.StringListValues ?? [],
      binaryListValues: (value.BinaryListValues ?? []).map((item) =>
        Buffer.from(item).toString('base64'),
      ),
      dataType: value.DataType ?? 'String',
    };
  }
  return converted;
}

interface BatchVerdict {
  /** Message ids to leave on the queue. */
  failed: string[];
  /** Set when the response makes the whole batch a failure. */
  error?: InvalidBatchResponseError;
}

/**
 * Reads a handler's result the way Lambda does with ReportBatchItemFailures. Complete success:
 * nothing returned, or `batchItemFailures` null or empty. Complete failure: a result that does not
 * serialize, is not an object, or has a failure entry whose `itemIdentifier` is missing, empty,
 * or names no message of the batch. Otherwise the listed messages stay and the rest are deleted.
 */
export function readBatchResponse(result: unknown, records: readonly SQSRecord[]): BatchVerdict {
  const all = records.map((record) => record.messageId);
  const wholeBatch = (why: string): BatchVerdict => ({
    failed: all,
    error: new InvalidBatchResponseError(`The handler's response fails the whole batch: ${why}`),
  });
  let response: unknown;
  try {
    // Lambda only ever sees the JSON the runtime sends back.
    const json = JSON.stringify(result);
    response = json === undefined ? null : JSON.parse(json);
  } catch (error) {
    return wholeBatch(`it cannot be serialized to JSON (${describeError(error).errorMessage})`);
  }
  if (response === null) return { failed: [] };
  if (typeof response !== 'object' || Array.isArray(response)) {
    return wholeBatch('it is not a JSON object');
  }
  const failures = (response as { batchItemFailures?: unknown }).batchItemFailures;
  if (failures === undefined || failures === null) return { failed: [] };
  if (!Array.isArray(failures)) return wholeBatch('batchItemFailures is not a list');
  const inBatch = new Set(all);
  const failed = new Set<string>();
  for (const failure of failures) {
    const id = (failure as { itemIdentifier?: unknown } | null)?.itemIdentifier;
    if (typeof id !== 'string' || id === '') {
      return wholeBatch('an itemIdentifier is missing or empty');
    }
    if (!inBatch.has(id)) return wholeBatch(`itemIdentifier ${id} is not a message of the batch`);
    failed.add(id);
  }
  return { failed: all.filter((id) => failed.has(id)) };
}

function backoffMs(attempt: number): number {
  const ceiling = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** (attempt - 1));
  // Jitter keeps the pollers from retrying in lockstep.
  return Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function regionOf(queueArn: string): string {
  const parts = queueArn.split(':');
  if (parts.length !== 6 || parts[0] !== 'arn' || parts[2] !== 'sqs' || !parts[3]) {
    throw new RangeError(
      `queueArn must look like arn:aws:sqs:REGION:ACCOUNT:NAME, got ${queueArn}`,
    );
  }
  return parts[3];
}

function assertInteger(name: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`${name} must be an integer from ${min} to ${max}, got ${value}`);
  }
}

/** So an explicit `undefined` option falls back to its default instead of overriding it. */
function withoutUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}
