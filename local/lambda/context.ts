import { AsyncLocalStorage } from 'node:async_hooks';
import { randomBytes, randomUUID } from 'node:crypto';
import type { Context } from 'aws-lambda';

/** The account and region the local runtime pretends to run in (ARNs only; nothing is called). */
export const LOCAL_ACCOUNT_ID = '000000000000';
export const LOCAL_LAMBDA_REGION = 'us-east-1';

const DEFAULT_MEMORY_MB = 128;

/** A Lambda handler as the Node.js runtime calls it: async, no callback. */
export type LambdaHandler<TEvent, TResult = unknown> = (
  event: TEvent,
  context: Context,
) => Promise<TResult>;

export interface LambdaContextOptions {
  functionName: string;
  /** The function's configured timeout; `getRemainingTimeInMillis()` counts down from it. */
  timeoutMs: number;
  /** Defaults to 128, Lambda's default. */
  memoryLimitInMB?: number;
  /** Defaults to a fresh UUID, as Lambda gives every invocation. */
  awsRequestId?: string;
  /** Milliseconds since the epoch; the invocation starts at the first reading. Default `Date.now`. */
  now?: () => number;
}

/**
 * A `Context` as the Lambda Node.js runtime builds it for one invocation. The invocation starts
 * when this is called.
 */
export function lambdaContext(options: LambdaContextOptions): Context {
  assertTimeout(options.timeoutMs);
  const now = options.now ?? Date.now;
  const deadline = now() + options.timeoutMs;
  const { functionName } = options;
  const deprecated = (name: string) => () => {
    // The Node.js 24 runtime removed these; the project's handlers are async and must not use them.
    throw new Error(
      `context.${name}() is deprecated and not supported: return a value or throw from the async handler`,
    );
  };
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:${LOCAL_LAMBDA_REGION}:${LOCAL_ACCOUNT_ID}:function:${functionName}`,
    memoryLimitInMB: String(options.memoryLimitInMB ?? DEFAULT_MEMORY_MB),
    awsRequestId: options.awsRequestId ?? randomUUID(),
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: logStreamName(new Date(now())),
    getRemainingTimeInMillis: () => Math.max(0, deadline - now()),
    done: deprecated('done'),
    fail: deprecated('fail'),
    succeed: deprecated('succeed'),
  };
}

/** Thrown when a handler runs past its timeout, as Lambda would end the invocation. */
export class LambdaTimeoutError extends Error {
  override name = 'LambdaTimeoutError';
  readonly functionName: string;
  readonly timeoutMs: number;
  readonly awsRequestId: string;

  constructor(functionName: string, timeoutMs: number, awsRequestId: string) {
    // Lambda's own wording, so logs read the same locally and in AWS.
    super(`${functionName}: Task timed out after ${(timeoutMs / 1000).toFixed(2)} seconds`);
    this.functionName = functionName;
    this.timeoutMs = timeoutMs;
    this.awsRequestId = awsRequestId;
  }
}

/** Thrown at a timed-out invocation that still tries to change something in AWS. */
export class InvocationEndedError extends Error {
  override name = 'InvocationEndedError';
}

/** The invocation the current async call chain belongs to, and whether Lambda would have ended it. */
const currentInvocation = new AsyncLocalStorage<{ functionName: string; ended: boolean }>();

/**
 * Throws an {@link InvocationEndedError} when called from an invocation that ran past its timeout.
 * Lambda ends such an invocation (requests already in flight may still arrive, nothing after them is
 * sent); this process cannot stop a promise, so the local runtime calls this before every change a
 * handler's AWS clients would make (see {@link haltAfterTimeout}).
 */
export function assertInvocationRunning(): void {
  const invocation = currentInvocation.getStore();
  if (invocation?.ended) {
    throw new InvocationEndedError(
      `${invocation.functionName}: the invocation timed out; Lambda would have ended it here`,
    );
  }
}

/**
 * Commands that only read. A timed-out invocation may still run them: they change nothing, and
 * handlers share some reads between concurrent invocations (one process here, one container each in
 * Lambda), which must not fail for the others.
 */
const READ_ONLY_COMMAND = /^(Get|BatchGet|Query|Scan|Describe|List|Head|Receive)[A-Za-z]*Command$/;

/**
 * An AWS SDK v3 `initialize` middleware that refuses every change (a write, a send, a delete) from
 * an invocation that timed out, so that a handler left running in the background after its timeout
 * changes nothing in DynamoDB, SQS or S3: the rows it held stay `sending`, its messages come back
 * after their visibility timeout, as in Lambda. Add it with
 * `client.middlewareStack.add(haltAfterTimeout, HALT_AFTER_TIMEOUT)`.
 */
export function haltAfterTimeout<Next extends (args: never) => Promise<unknown>>(
  next: Next,
  context: { commandName?: string },
): Next {
  return (async (args: Parameters<Next>[0]) => {
    if (!READ_ONLY_COMMAND.test(context.commandName ?? '')) assertInvocationRunning();
    return next(args);
  }) as Next;
}

export const HALT_AFTER_TIMEOUT = { step: 'initialize', name: 'haltAfterLambdaTimeout' } as const;

/**
 * Runs `handler` with a fresh {@link lambdaContext} and resolves with its result, or rejects with
 * its error, or with a {@link LambdaTimeoutError} once it runs past `timeoutMs`. After a timeout the
 * handler's promise is abandoned: unlike Lambda, this process cannot freeze it, so it may still
 * run in the background; its outcome is ignored, and clients given {@link haltAfterTimeout}
 * refuse its requests from then on.
 */
export async function invokeWithTimeout<TEvent, TResult>(
  handler: LambdaHandler<TEvent, TResult>,
  event: TEvent,
  options: LambdaContextOptions,
): Promise<TResult> {
  const context = lambdaContext(options);
  const invocation = { functionName: options.functionName, ended: false };
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      invocation.ended = true;
      reject(new LambdaTimeoutError(options.functionName, options.timeoutMs, context.awsRequestId));
    }, options.timeoutMs);
  });
  // A handler that throws synchronously fails the invocation like one that rejects.
  const handled = currentInvocation.run(
    invocation,
    () => new Promise<TResult>((resolve) => resolve(handler(event, context))),
  );
  try {
    return await Promise.race([handled, timedOut]);
  } finally {
    clearTimeout(timer);
  }
}

function assertTimeout(timeoutMs: number): void {
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) {
    throw new RangeError(`timeoutMs must be a positive number of milliseconds, got ${timeoutMs}`);
  }
}

/** `2026/05/14/[$LATEST]` and 32 hex digits, the shape of a Lambda log stream. */
function logStreamName(at: Date): string {
  const day = at.toISOString().slice(0, 10).replaceAll('-', '/');
  return `${day}/[$LATEST]${randomBytes(16).toString('hex')}`;
}
