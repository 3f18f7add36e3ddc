import type { Context } from 'aws-lambda';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  haltAfterTimeout,
  InvocationEndedError,
  invokeWithTimeout,
  LambdaTimeoutError,
  lambdaContext,
} from '../../../local/lambda/index.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** A clock the test moves by hand. */
function manualClock(start: number) {
  let time = start;
  return {
    now: () => time,
    advance(ms: number) {
      time += ms;
    },
  };
}

describe('lambdaContext', () => {
  it('has the fields the Lambda Node.js runtime gives a handler', () => {
    // Prepare
    const clock = manualClock(Date.parse('2026-05-14T10:00:00Z'));

    // Act
    const context = lambdaContext({
      functionName: 'gift-batch-sender',
      timeoutMs: 30_000,
      now: clock.now,
    });

    // Assess
    expect(context).toMatchObject({
      functionName: 'gift-batch-sender',
      functionVersion: '$LATEST',
      invokedFunctionArn: 'arn:aws:lambda:us-east-1:000000000000:function:gift-batch-sender',
      memoryLimitInMB: '128',
      logGroupName: '/aws/lambda/gift-batch-sender',
      callbackWaitsForEmptyEventLoop: true,
    });
    expect(context.awsRequestId).toMatch(UUID);
    expect(context.logStreamName).toMatch(/^2026\/05\/14\/\[\$LATEST\][0-9a-f]{32}$/);
  });

  it('gives every invocation a fresh request id', () => {
    // Prepare
    const options = { functionName: 'f', timeoutMs: 1_000 };

    // Act
    const ids = new Set(Array.from({ length: 5 }, () => lambdaContext(options).awsRequestId));

    // Assess
    expect(ids.size).toBe(5);
  });

  it('takes the memory size and request id it is given', () => {
    // Prepare
    const awsRequestId = '11111111-2222-4333-8444-555555555555';

    // Act
    const context = lambdaContext({
      functionName: 'f',
      timeoutMs: 1_000,
      memoryLimitInMB: 512,
      awsRequestId,
    });

    // Assess
    expect(context.memoryLimitInMB).toBe('512');
    expect(context.awsRequestId).toBe(awsRequestId);
  });

  it('counts the remaining time down from the start of the invocation, never below zero', () => {
    // Prepare
    const clock = manualClock(1_000_000);
    const context = lambdaContext({ functionName: 'f', timeoutMs: 3_000, now: clock.now });
    const readings: number[] = [];

    // Act
    readings.push(context.getRemainingTimeInMillis());
    clock.advance(1_250);
    readings.push(context.getRemainingTimeInMillis());
    clock.advance(1_750);
    readings.push(context.getRemainingTimeInMillis());
    clock.advance(500);
    readings.push(context.getRemainingTimeInMillis());

    // Assess
    expect(readings).toEqual([3_000, 1_750, 0, 0]);
  });

  it.each(['done', 'fail', 'succeed'] as const)('throws on the deprecated context.%s()', (name) => {
    // Prepare
    const context = lambdaContext({ functionName: 'f', timeoutMs: 1_000 });

    // Act
    const call = () => (context[name] as (arg?: unknown) => void)('x');

    // Assess
    expect(call).toThrow(/deprecated/);
  });

  it('refuses a timeout that is not a positive number', () => {
    // Prepare
    const options = { functionName: 'f', timeoutMs: 0 };

    // Act
    const build = () => lambdaContext(options);

    // Assess
    expect(build).toThrow(RangeError);
  });
});

describe('invokeWithTimeout', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('resolves with the result, having given the handler a context for the function', async () => {
    // Prepare
    let seen: Context | undefined;
    const handler = async (event: { n: number }, context: Context) => {
      seen = context;
      return event.n * 2;
    };

    // Act
    const result = await invokeWithTimeout(
      handler,
      { n: 21 },
      { functionName: 'doubler', timeoutMs: 5_000 },
    );

    // Assess
    expect(result).toBe(42);
    expect(seen?.functionName).toBe('doubler');
    expect(seen?.getRemainingTimeInMillis()).toBeLessThanOrEqual(5_000);
  });

  it('rejects with a LambdaTimeoutError when the handler runs past the timeout', async () => {
    // Prepare
    vi.useFakeTimers();
    let requestId: string | undefined;
    const neverEnds = (_event: unknown, context: Context) => {
      requestId = context.awsRequestId;
      return new Promise<never>(() => {});
    };
    const invocation = invokeWithTimeout(neverEnds, {}, { functionName: 'slow', timeoutMs: 3_000 });
    const settled = invocation.catch((error: unknown) => error);

    // Act
    await vi.advanceTimersByTimeAsync(3_000);
    const error = await settled;

    // Assess
    expect(error).toBeInstanceOf(LambdaTimeoutError);
    expect(error).toMatchObject({
      name: 'LambdaTimeoutError',
      message: 'slow: Task timed out after 3.00 seconds',
      functionName: 'slow',
      timeoutMs: 3_000,
      awsRequestId: requestId,
    });
  });

  it('does not time out a handler that finishes just in time, and leaves no timer behind', async () => {
    // Prepare
    vi.useFakeTimers();
    const handler = () =>
      new Promise<string>((resolve) => setTimeout(() => resolve('done'), 2_999));
    const invocation = invokeWithTimeout(handler, {}, { functionName: 'f', timeoutMs: 3_000 });

    // Act
    await vi.advanceTimersByTimeAsync(2_999);
    const result = await invocation;

    // Assess
    expect(result).toBe('done');
    expect(vi.getTimerCount()).toBe(0);
  });

  it('refuses the AWS changes of a handler still running after its timeout, as Lambda ends it', async () => {
    // Prepare: a client call through the middleware, and two invocations of the same function.
    vi.useFakeTimers();
    const sent: string[] = [];
    const send = haltAfterTimeout(
      async (what: string) => {
        sent.push(what);
        return what;
      },
      { commandName: 'UpdateItemCommand' },
    );
    const read = haltAfterTimeout(async (what: string) => what, { commandName: 'GetItemCommand' });
    const outcomes: string[] = [];
    const handler = async (event: { name: string; workMs: number }) => {
      await send(`${event.name} before`);
      await new Promise((resolve) => setTimeout(resolve, event.workMs));
      outcomes.push(await read(`${event.name} read`));
      try {
        await send(`${event.name} after`);
        outcomes.push(`${event.name}: sent`);
      } catch (error) {
        outcomes.push(`${event.name}: ${(error as Error).name}`);
      }
    };
    const slow = invokeWithTimeout(
      handler,
      { name: 'slow', workMs: 5_000 },
      { functionName: 'f', timeoutMs: 3_000 },
    ).catch((error: unknown) => error);
    const quick = invokeWithTimeout(
      handler,
      { name: 'quick', workMs: 4_000 },
      { functionName: 'f', timeoutMs: 10_000 },
    );

    // Act
    await vi.advanceTimersByTimeAsync(5_000);

    // Assess: the timed-out one reached nothing after its deadline; the other was not touched.
    expect(await slow).toBeInstanceOf(LambdaTimeoutError);
    await quick;
    expect(sent).toEqual(['slow before', 'quick before', 'quick after']);
    expect(outcomes).toEqual([
      'quick read',
      'quick: sent',
      'slow read', // reads change nothing: they pass
      `slow: ${InvocationEndedError.name}`,
    ]);
  });

  it('rejects with what the handler throws, synchronously or not', async () => {
    // Prepare
    const thrown = new Error('boom');
    const throwsNow = (): Promise<never> => {
      throw thrown;
    };
    const rejects = async (): Promise<never> => {
      throw thrown;
    };

    // Act
    const results = await Promise.allSettled([
      invokeWithTimeout(throwsNow, {}, { functionName: 'f', timeoutMs: 1_000 }),
      invokeWithTimeout(rejects, {}, { functionName: 'f', timeoutMs: 1_000 }),
    ]);

    // Assess
    expect(results).toEqual([
      { status: 'rejected', reason: thrown },
      { status: 'rejected', reason: thrown },
    ]);
  });
});
