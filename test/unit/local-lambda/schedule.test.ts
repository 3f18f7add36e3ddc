import { afterEach, describe, expect, it, vi } from 'vitest';
import type { LocalLambdaLogger } from '../../../local/lambda/index.ts';
import { Schedule, scheduledEvent } from '../../../local/lambda/index.ts';

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

/** A promise and the means to settle it from outside. */
function gate() {
  let open: () => void = () => {};
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { opened, open };
}

describe('Schedule', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('starts each run everyMs after the previous one ended, never overlapping', async () => {
    // Prepare
    vi.useFakeTimers();
    const starts: number[] = [];
    let running = 0;
    let maxRunning = 0;
    const schedule = new Schedule({
      everyMs: 1_000,
      run: async () => {
        starts.push(Date.now());
        running++;
        maxRunning = Math.max(maxRunning, running);
        // Each run takes 400 ms.
        await new Promise((resolve) => setTimeout(resolve, 400));
        running--;
      },
    });
    const t0 = Date.now();

    // Act
    schedule.start();
    await vi.advanceTimersByTimeAsync(4_300);
    await schedule.stop();

    // Assess
    expect(starts.map((at) => at - t0)).toEqual([1_000, 2_400, 3_800]);
    expect(maxRunning).toBe(1);
  });

  it('runNow runs at once and resets the timer', async () => {
    // Prepare
    vi.useFakeTimers();
    const starts: number[] = [];
    const schedule = new Schedule({
      everyMs: 1_000,
      run: async () => {
        starts.push(Date.now());
      },
    });
    const t0 = Date.now();
    schedule.start();
    await vi.advanceTimersByTimeAsync(600);

    // Act
    await schedule.runNow();
    await vi.advanceTimersByTimeAsync(1_000);
    await schedule.stop();

    // Assess
    expect(starts.map((at) => at - t0)).toEqual([600, 1_600]);
  });

  it('runNow during a run waits for it, then runs once for all callers', async () => {
    // Prepare
    const firstStarted = gate();
    const releaseFirst = gate();
    let runs = 0;
    const schedule = new Schedule({
      everyMs: 60_000,
      run: async () => {
        runs++;
        if (runs === 1) {
          firstStarted.open();
          await releaseFirst.opened;
        }
      },
    });
    const inFlight = schedule.runNow();
    await firstStarted.opened;

    // Act
    const a = schedule.runNow();
    const b = schedule.runNow();
    for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
    const runsWhileFirstBlocked = runs;
    releaseFirst.open();
    await Promise.all([inFlight, a, b]);
    await schedule.stop();

    // Assess
    expect(runsWhileFirstBlocked).toBe(1);
    expect(a).toBe(b);
    expect(runs).toBe(2);
  });

  it('stop() waits for the run in flight and prevents any further run', async () => {
    // Prepare
    vi.useFakeTimers();
    const release = gate();
    let runs = 0;
    let finished = false;
    const schedule = new Schedule({
      everyMs: 100,
      run: async () => {
        runs++;
        await release.opened;
        finished = true;
      },
    });
    schedule.start();
    await vi.advanceTimersByTimeAsync(100);

    // Act
    let stopped = false;
    const stopping = schedule.stop().then(() => {
      stopped = true;
    });
    await vi.advanceTimersByTimeAsync(10);
    const stoppedBeforeRunEnded = stopped;
    release.open();
    await stopping;
    await vi.advanceTimersByTimeAsync(1_000);
    await schedule.runNow();

    // Assess
    expect(stoppedBeforeRunEnded).toBe(false);
    expect(finished).toBe(true);
    expect(runs).toBe(1);
  });

  it('logs a failed timed run and keeps the schedule going; runNow hands the failure back', async () => {
    // Prepare
    vi.useFakeTimers();
    const logger = silentLogger();
    let runs = 0;
    const schedule = new Schedule({
      everyMs: 100,
      name: 'poller',
      logger,
      run: async () => {
        runs++;
        throw new Error(`run ${runs} failed`);
      },
    });
    schedule.start();

    // Act
    await vi.advanceTimersByTimeAsync(250);
    const manual = await schedule.runNow().catch((error: unknown) => error);
    await schedule.stop();

    // Assess
    expect(runs).toBe(3);
    expect(logger.error).toHaveBeenCalledTimes(2);
    expect(logger.error).toHaveBeenCalledWith(
      expect.stringContaining('Scheduled run failed'),
      expect.objectContaining({ schedule: 'poller', errorMessage: 'run 1 failed' }),
    );
    expect(manual).toEqual(new Error('run 3 failed'));
  });
});

describe('scheduledEvent', () => {
  it('has the shape EventBridge delivers for a schedule rule', () => {
    // Prepare
    const time = new Date('2026-05-14T10:11:12.345Z');

    // Act
    const event = scheduledEvent({ ruleName: 'gift-batch-poller', time });

    // Assess
    expect(event).toEqual({
      version: '0',
      id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      'detail-type': 'Scheduled Event',
      source: 'aws.events',
      account: '000000000000',
      time: '2026-05-14T10:11:12Z',
      region: 'us-east-1',
      resources: ['arn:aws:events:us-east-1:000000000000:rule/gift-batch-poller'],
      detail: {},
    });
  });
});
