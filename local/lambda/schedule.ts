import { randomUUID } from 'node:crypto';
import type { ScheduledEvent } from 'aws-lambda';
import { LOCAL_ACCOUNT_ID, LOCAL_LAMBDA_REGION } from './context.ts';
import { describeError, type LocalLambdaLogger, stderrLogger } from './logger.ts';

export interface ScheduleOptions {
  /** The pause between the end of one run and the start of the next. */
  everyMs: number;
  run: () => Promise<unknown>;
  /** For log lines. */
  name?: string;
  /** Failed timed runs are logged here (a `runNow()` caller gets its failure instead). */
  logger?: LocalLambdaLogger;
}

/**
 * Runs an async function again and again, never two at once: the next run starts `everyMs` after
 * the previous one ended, like a poller on a schedule that must not pile up behind a slow run.
 * The first timed run comes `everyMs` after `start()`; `runNow()` brings one forward.
 */
export class Schedule {
  private readonly name: string;
  private readonly logger: LocalLambdaLogger;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private current: Promise<void> | undefined;
  private queued: Promise<void> | undefined;
  private started = false;
  private stopping = false;

  constructor(private readonly options: ScheduleOptions) {
    if (!Number.isFinite(options.everyMs) || options.everyMs <= 0) {
      throw new RangeError(`everyMs must be a positive number, got ${options.everyMs}`);
    }
    this.name = options.name ?? 'schedule';
    this.logger = options.logger ?? stderrLogger;
  }

  start(): void {
    if (this.started) throw new Error(`${this.name} was already started`);
    this.started = true;
    this.scheduleNext();
  }

  /**
   * Runs now, or right after the run in flight ends; resolves or rejects with that run. Calls made
   * while one is waiting share it. Once stopped, resolves without running.
   */
  runNow(): Promise<void> {
    if (this.stopping) return Promise.resolve();
    if (this.queued !== undefined) return this.queued;
    if (this.current === undefined) return this.runOnce();
    const queued = this.current
      .catch(() => {})
      .then(() => {
        this.queued = undefined;
        return this.stopping ? undefined : this.runOnce();
      });
    this.queued = queued;
    return queued;
  }

  /** No further runs; resolves once the run in flight (if any) has ended. Never rejects. */
  async stop(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.timer);
    await (this.queued ?? this.current)?.catch(() => {});
  }

  private runOnce(): Promise<void> {
    clearTimeout(this.timer);
    // Started from a resolved promise so that even a synchronous throw settles after `current` is set.
    const run = Promise.resolve()
      .then(() => this.options.run())
      .then(() => undefined)
      .finally(() => {
        this.current = undefined;
        this.scheduleNext();
      });
    this.current = run;
    return run;
  }

  private scheduleNext(): void {
    if (this.stopping || !this.started) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.runOnce().catch((error: unknown) => {
        this.logger.error('Scheduled run failed; the next one is still scheduled', {
          schedule: this.name,
          ...describeError(error),
        });
      });
    }, this.options.everyMs);
  }
}

export interface ScheduledEventOptions {
  /** The EventBridge rule's name, for `resources`. */
  ruleName: string;
  /** Defaults to now. */
  time?: Date;
  region?: string;
  account?: string;
}

/** The event an EventBridge schedule rule delivers to its target function. */
export function scheduledEvent(options: ScheduledEventOptions): ScheduledEvent {
  const region = options.region ?? LOCAL_LAMBDA_REGION;
  const account = options.account ?? LOCAL_ACCOUNT_ID;
  return {
    version: '0',
    id: randomUUID(),
    'detail-type': 'Scheduled Event',
    source: 'aws.events',
    account,
    // EventBridge writes whole seconds.
    time: (options.time ?? new Date()).toISOString().replace(/\.\d{3}Z$/, 'Z'),
    region,
    resources: [`arn:aws:events:${region}:${account}:rule/${options.ruleName}`],
    detail: {},
  };
}
