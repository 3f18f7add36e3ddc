/**
 * The SplitContinuations port over Amazon SQS (and fauxqs locally): the split continuation queue, a
 * second event source of the splitter (batch size 1). A queue rather than the splitter invoking
 * itself: no permission of a function on itself (circular in CloudFormation), and a continuation
 * that keeps failing is retried and then kept in the queue's dead-letter queue, where an alarm sees it.
 */

import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { SplitContinuation, SplitContinuations } from '../ports/split-continuations.ts';
import { PoisonMessageError } from './sqs-send-queue.ts';

const MESSAGE_VERSION = 1;

export class SqsSplitContinuations implements SplitContinuations {
  readonly #client: SQSClient;
  readonly #queueUrl: string;

  constructor(options: { client: SQSClient; queueUrl: string }) {
    this.#client = options.client;
    this.#queueUrl = options.queueUrl;
  }

  async handOver(continuation: SplitContinuation): Promise<void> {
    await this.#client.send(
      new SendMessageCommand({
        QueueUrl: this.#queueUrl,
        MessageBody: formatSplitContinuation(continuation),
      }),
    );
  }
}

export function formatSplitContinuation(continuation: SplitContinuation): string {
  const { batchId, sequence, requeueLastChunk } = continuation;
  return JSON.stringify({ v: MESSAGE_VERSION, batchId, sequence, requeueLastChunk });
}

/** Reads a continuation message; anything else is poison (it goes to the dead-letter queue). */
export function parseSplitContinuation(body: string): SplitContinuation {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch (error) {
    throw new PoisonMessageError(`split continuation is not JSON (${body.length} characters)`, {
      cause: error,
    });
  }
  const { v, batchId, sequence, requeueLastChunk } = (parsed ?? {}) as Record<string, unknown>;
  if (
    v !== MESSAGE_VERSION ||
    typeof batchId !== 'string' ||
    batchId === '' ||
    typeof sequence !== 'number' ||
    !Number.isSafeInteger(sequence) ||
    sequence < 0 ||
    typeof requeueLastChunk !== 'boolean'
  ) {
    throw new PoisonMessageError(
      'split continuation is not { v: 1, batchId, sequence, requeueLastChunk }',
    );
  }
  return { batchId, sequence, requeueLastChunk };
}
