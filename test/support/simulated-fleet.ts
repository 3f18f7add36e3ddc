import {
  FleetRateLimiter,
  Permits,
  type RateLimitSettings,
} from '../../lambdas/core/rate-limiter.ts';
import type { LimiterState, LimiterStore } from '../../lambdas/ports/rate-limit.ts';

/**
 * A fleet of senders against a simulated &Open token bucket, in virtual time: the limiter's real code
 * runs, while sleeps and the server's latency advance a virtual clock. Deterministic, and seconds of
 * simulated traffic take milliseconds.
 */
export class VirtualTime {
  now = 0;
  readonly #timers: { at: number; seq: number; resolve: () => void }[] = [];
  #seq = 0;

  sleep = (ms: number): Promise<void> =>
    new Promise((resolve) => {
      this.#timers.push({ at: this.now + Math.max(0, ms), seq: this.#seq++, resolve });
    });

  /** Runs until `done` resolves, firing timers in time order once all other work has settled. */
  async run(done: Promise<unknown>): Promise<void> {
    let finished = false;
    void done.then(() => {
      finished = true;
    });
    while (!finished) {
      await new Promise((resolve) => setImmediate(resolve));
      if (finished) break;
      this.#timers.sort((a, b) => a.at - b.at || a.seq - b.seq);
      const timer = this.#timers.shift();
      if (!timer) throw new Error('simulation stalled: nothing left to wait for');
      this.now = Math.max(this.now, timer.at);
      timer.resolve();
    }
  }
}

export class InMemoryLimiterStore implements LimiterStore {
  state: LimiterState | null = null;
  writes = 0;
  /** Throttle episodes the fleet went through (each began a pause of at least a Retry-After). */
  episodes = 0;
  async read(): Promise<LimiterState | null> {
    return this.state ? { ...this.state } : null;
  }
  async write(state: LimiterState, expectedVersion: number | null): Promise<boolean> {
    if ((this.state?.version ?? null) !== expectedVersion) return false;
    if (state.throttledAt !== (this.state?.throttledAt ?? 0)) this.episodes += 1;
    this.state = { ...state };
    this.writes += 1;
    return true;
  }
}

export interface SimulationOptions {
  requests: number;
  limitRps: number;
  burst?: number;
  latencyMs: { min: number; max: number };
  /** Senders (Lambda invocations), each taking `batch` requests at a time. */
  senders: number;
  /**
   * Limiter instances (Lambda containers) the senders are spread over, round robin, sharing one
   * state; default 1 (one process, as `gift-batch run`).
   */
  instances?: number;
  batch: number;
  settings?: Partial<RateLimitSettings>;
  /** A maintenance window: every request in it is answered 503 with Retry-After to its end. */
  maintenance?: { startMs: number; durationMs: number };
  /** The first this many requests are answered 429 (Retry-After 1 s) whatever the rate: a storm. */
  storm?: number;
  seed?: number;
}

export interface SimulationReport {
  durationMs: number;
  accepted: number;
  throttled: number;
  unavailable: number;
  sent: number;
  early: number;
  utilisation: number;
  limiterWrites: number;
  finalRate: number;
  /** The limit the fleet measured (averaged over its throttle episodes); null: none measured. */
  measuredLimit: number | null;
  episodes: number;
}

export async function simulateFleet(options: SimulationOptions): Promise<SimulationReport> {
  const time = new VirtualTime();
  const clock = { now: () => time.now };
  const store = new InMemoryLimiterStore();
  const limiters = Array.from(
    { length: options.instances ?? 1 },
    () =>
      new FleetRateLimiter({ store, clock, sleep: time.sleep, settings: options.settings ?? {} }),
  );
  let seed = options.seed ?? 42;
  const random = () => {
    seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
    return seed / 2 ** 31;
  };

  const burst = options.burst ?? Math.ceil(options.limitRps);
  let tokens = burst;
  let refilledAt = 0;
  let retryNotBefore = 0;
  const counts = { accepted: 0, throttled: 0, unavailable: 0, sent: 0, early: 0 };
  let firstAt = Number.POSITIVE_INFINITY;
  let lastAt = 0;

  /** The server: decides at arrival, answers after its latency; a Retry-After counts once sent. */
  const serve = async (
    at: number,
  ): Promise<{ status: 200 | 429 | 503; retryAfterMs: number | null }> => {
    counts.sent += 1;
    firstAt = Math.min(firstAt, at);
    lastAt = Math.max(lastAt, at);
    if (at < retryNotBefore) counts.early += 1;
    tokens = Math.min(burst, tokens + ((at - refilledAt) / 1000) * options.limitRps);
    refilledAt = at;
    const latency =
      options.latencyMs.min + random() * (options.latencyMs.max - options.latencyMs.min);
    const window = options.maintenance;
    let answer: { status: 200 | 429 | 503; retryAfterMs: number | null; notBefore?: number };
    if (counts.sent <= (options.storm ?? 0)) {
      answer = { status: 429, retryAfterMs: 1_000, notBefore: at + 1_000 };
    } else if (window && at >= window.startMs && at < window.startMs + window.durationMs) {
      const seconds = Math.ceil((window.startMs + window.durationMs - at) / 1000);
      answer = { status: 503, retryAfterMs: seconds * 1000, notBefore: at + seconds * 1000 };
    } else if (tokens >= 1) {
      tokens -= 1;
      answer = { status: 200, retryAfterMs: null };
    } else {
      const seconds = Math.max(1, Math.ceil((1 - tokens) / options.limitRps));
      answer = { status: 429, retryAfterMs: seconds * 1000, notBefore: at + seconds * 1000 };
    }
    await time.sleep(latency);
    if (answer.notBefore !== undefined) retryNotBefore = Math.max(retryNotBefore, answer.notBefore);
    return answer;
  };

  let left = options.requests;
  const sender = async (limiter: FleetRateLimiter): Promise<void> => {
    while (left > 0) {
      const take = Math.min(options.batch, left);
      left -= take;
      const permits = new Permits(limiter, clock, take);
      let owed = take;
      await Promise.all(
        Array.from({ length: take }, async () => {
          for (;;) {
            const permit = await permits.acquire();
            if (permit.kind === 'wait') {
              await time.sleep(permit.untilMs - time.now);
              continue;
            }
            const answer = await serve(permit.at);
            if (answer.status === 200) {
              counts.accepted += 1;
              await limiter.answered(permit.at, 'accepted');
              owed -= 1;
              return;
            }
            await limiter.answered(
              permit.at,
              answer.status === 429 ? 'throttled' : 'unavailable',
              answer.retryAfterMs,
            );
            if (answer.status === 429) counts.throttled += 1;
            else counts.unavailable += 1;
          }
        }),
      );
      void owed;
    }
  };

  await time.run(
    Promise.all(
      Array.from({ length: options.senders }, (_, index) =>
        sender(limiters[index % limiters.length] as FleetRateLimiter),
      ),
    ),
  );
  const maintenance = options.maintenance?.durationMs ?? 0;
  const durationMs = lastAt - firstAt;
  return {
    durationMs,
    ...counts,
    utilisation: counts.accepted / ((options.limitRps * (durationMs - maintenance)) / 1000),
    limiterWrites: store.writes,
    finalRate: store.state?.rate ?? 0,
    measuredLimit: store.state?.measuredLimit ?? null,
    episodes: store.episodes,
  };
}
