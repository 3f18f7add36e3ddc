/**
 * The SendQueue port over Amazon SQS (and fauxqs locally: same SDK code path).
 *
 * A message is only a pointer to a ledger row (`{ v: 1, batchId, row }`); the ledger decides what is
 * sent, so a message delivered twice, or enqueued twice by a caller that retries a failed enqueue,
 * can never send a gift twice. That is why a partly failed enqueue may simply be repeated whole.
 */

import {
  SendMessageBatchCommand,
  type SendMessageBatchRequestEntry,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import pLimit from 'p-limit';
import type { EnqueueOptions, SendMessage, SendQueue } from '../ports/send-queue.ts';

/** SQS takes at most 10 entries per SendMessageBatch. */
const ENTRIES_PER_BATCH = 10;
/** SQS accepts 0–900 seconds. */
const MAX_DELAY_SECONDS = 900;
const MESSAGE_VERSION = 1;

const DEFAULTS = {
  concurrency: 8,
  maxAttempts: 5,
  baseRetryDelayMs: 100,
} as const;

export interface SqsSendQueueOptions {
  client: SQSClient;
  queueUrl: string;
  /** SendMessageBatch calls in flight at once. Default 8. */
  concurrency?: number;
  /** Attempts per entry that SQS reports Failed (the first send included). Default 5. */
  maxAttempts?: number;
  /** Pause before the first retry; doubles each time. Default 100 ms. */
  baseRetryDelayMs?: number;
  /** Injectable for tests, so retries need no real waiting. */
  sleep?: (ms: number) => Promise<void>;
}

/** Some messages could not be enqueued; `notSent` lists them so the caller can log or retry them. */
export class SendQueueError extends Error {
  readonly notSent: SendMessage[];

  constructor(message: string, notSent: SendMessage[], options?: ErrorOptions) {
    super(message, options);
    this.name = 'SendQueueError';
    this.notSent = notSent;
  }
}

/** A queue message that is not `{ v: 1, batchId, row }`: retrying cannot help, it goes to the DLQ. */
export class PoisonMessageError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'PoisonMessageError';
  }
}

export class SqsSendQueue implements SendQueue {
  readonly #client: SQSClient;
  readonly #queueUrl: string;
  readonly #concurrency: number;
  readonly #maxAttempts: number;
  readonly #baseRetryDelayMs: number;
  readonly #sleep: (ms: number) => Promise<void>;

  constructor(options: SqsSendQueueOptions) {
    this.#client = options.client;
    this.#queueUrl = options.queueUrl;
    this.#concurrency = options.concurrency ?? DEFAULTS.concurrency;
    this.#maxAttempts = options.maxAttempts ?? DEFAULTS.maxAttempts;
    this.#baseRetryDelayMs = options.baseRetryDelayMs ?? DEFAULTS.baseRetryDelayMs;
    this.#sleep = options.sleep ?? defaultSleep;
  }

  async enqueue(messages: SendMessage[], options: EnqueueOptions = {}): Promise<void> {
    const delaySeconds =
      options.delaySeconds === undefined ? undefined : clampDelaySeconds(options.delaySeconds);
    const limit = pLimit(this.#concurrency);
    const results = await Promise.all(
      chunk(messages, ENTRIES_PER_BATCH).map((group) =>
        limit(() => this.#sendGroup(group, delaySeconds)),
      ),
    );

    const notSent = results.flatMap((result) => result.notSent);
    if (notSent.length === 0) return;
    const reasons = [...new Set(results.flatMap((result) => result.reasons))].slice(0, 5);
    const firstError = results.find((result) => result.error !== undefined)?.error;
    throw new SendQueueError(
      `${notSent.length} of ${messages.length} send messages were not enqueued: ${reasons.join('; ')}`,
      notSent,
      firstError === undefined ? undefined : { cause: firstError },
    );
  }

  /** Up to 10 messages: one SendMessageBatch, then retries of the entries SQS reports Failed. */
  async #sendGroup(group: SendMessage[], delaySeconds: number | undefined): Promise<GroupResult> {
    // Entry ids are indexes into the group: unique within the request, as SQS requires.
    let pending = group.map((message, index) => ({ id: String(index), message }));
    const reasons: string[] = [];
    const givenUp: SendMessage[] = [];

    for (let attempt = 1; pending.length > 0; attempt += 1) {
      if (attempt > 1) await this.#sleep(this.#baseRetryDelayMs * 2 ** (attempt - 2));
      let failed: { Id?: string; SenderFault?: boolean; Code?: string; Message?: string }[];
      try {
        const response = await this.#client.send(
          new SendMessageBatchCommand({
            QueueUrl: this.#queueUrl,
            Entries: pending.map(({ id, message }) => toEntry(id, message, delaySeconds)),
          }),
        );
        failed = response.Failed ?? [];
      } catch (error) {
        // The SDK has already retried transient errors; what is left (no queue, no permission,
        // network down) will not pass on another try here.
        const reason = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
        return {
          notSent: [...givenUp, ...pending.map(({ message }) => message)],
          reasons: [...reasons, reason],
          error,
        };
      }

      const failedIds = new Set<string>();
      const retryable = new Set<string>();
      for (const entry of failed) {
        if (entry.Id === undefined) continue;
        failedIds.add(entry.Id);
        reasons.push(`${entry.Code ?? 'unknown'}${entry.Message ? ` (${entry.Message})` : ''}`);
        // A sender fault (a body SQS refuses) fails the same way every time: do not retry it.
        if (entry.SenderFault !== true) retryable.add(entry.Id);
      }
      const stillPending = pending.filter(({ id }) => failedIds.has(id));
      givenUp.push(
        ...stillPending.filter(({ id }) => !retryable.has(id)).map(({ message }) => message),
      );
      pending = stillPending.filter(({ id }) => retryable.has(id));
      if (attempt >= this.#maxAttempts) {
        givenUp.push(...pending.map(({ message }) => message));
        break;
      }
    }
    return { notSent: givenUp, reasons };
  }
}

interface GroupResult {
  notSent: SendMessage[];
  reasons: string[];
  error?: unknown;
}

/** The message body a sender reads back with {@link parseSendMessage}. */
export function formatSendMessage(message: SendMessage): string {
  return JSON.stringify({ v: MESSAGE_VERSION, batchId: message.batchId, row: message.row });
}

/**
 * Reads a send-queue message body. Throws PoisonMessageError for anything that is not
 * `{ v: 1, batchId: non-empty string, row: positive integer }`: such a message can never succeed,
 * so the sender lets it go to the dead-letter queue instead of retrying it.
 */
export function parseSendMessage(body: string): SendMessage {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch (error) {
    throw new PoisonMessageError(`send message is not JSON ${describeBody(body)}`, {
      cause: error,
    });
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new PoisonMessageError(`send message is not a JSON object ${describeBody(body)}`);
  }
  const { v, batchId, row } = parsed as Record<string, unknown>;
  if (v !== MESSAGE_VERSION) {
    throw new PoisonMessageError(`send message has version ${String(v)}, expected 1`);
  }
  if (typeof batchId !== 'string' || batchId === '') {
    throw new PoisonMessageError('send message has no batchId');
  }
  if (typeof row !== 'number' || !Number.isSafeInteger(row) || row < 1) {
    throw new PoisonMessageError(`send message row must be a positive integer, got ${String(row)}`);
  }
  return { batchId, row };
}

/** 0–900 whole seconds; a fraction rounds up so a message is never delivered before it was asked. */
export function clampDelaySeconds(seconds: number): number {
  if (Number.isNaN(seconds)) return 0;
  return Math.min(MAX_DELAY_SECONDS, Math.max(0, Math.ceil(seconds)));
}

function toEntry(
  id: string,
  message: SendMessage,
  delaySeconds: number | undefined,
): SendMessageBatchRequestEntry {
  const entry: SendMessageBatchRequestEntry = { Id: id, MessageBody: formatSendMessage(message) };
  if (delaySeconds !== undefined) entry.DelaySeconds = delaySeconds;
  return entry;
}

function chunk<T>(items: T[], size: number): T[][] {
  const chunks: T[][] = [];
  for (let start = 0; start < items.length; start += size) {
    chunks.push(items.slice(start, start + size));
  }
  return chunks;
}

/** Its size only: a stray message on this queue may carry anything, recipients' data included. */
function describeBody(body: string): string {
  return `(${body.length} characters)`;
}

function defaultSleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
