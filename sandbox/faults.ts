/**
 * The sandbox's misbehaviour, all of it under the test's control: a token-bucket rate limit per
 * tenant, maintenance windows, injected one-shot faults, faults rolled at random, and latency.
 */
import type { Random } from './random.ts';
import {
  type FaultOptions,
  type FaultTarget,
  INJECTED_FAULTS,
  type InjectedFault,
  type MaintenanceWindow,
  type RateLimitOptions,
  type RetryAfterFormat,
} from './types.ts';

export const DEFAULT_FAULT_OPTIONS: FaultOptions = {
  rateLimit: null,
  maintenance: [],
  latencyMs: { min: 0, max: 0 },
  faultRates: {},
  retryAfterFormat: 'seconds',
  injectedRetryAfterS: 1,
  redemptionUrlDelayMs: 1500,
};

export class SandboxConfigError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'SandboxConfigError';
  }
}

/** Which kind of API request is being answered, for matching injected faults to it. */
export type RequestKind = 'post' | 'get' | 'other';

interface QueuedFault {
  fault: InjectedFault;
  target: FaultTarget;
  remaining: number;
}

interface Bucket {
  tokens: number;
  refilledAt: number;
}

export type TokenOutcome = { ok: true } | { ok: false; waitMs: number };

export class Faults {
  private current: FaultOptions;
  private readonly queue: QueuedFault[] = [];
  private buckets = new Map<string, Bucket>();

  /**
   * `random` draws latencies; `rolls` draws the faults rolled from `faultRates`, one roll per POST,
   * from a stream nothing else draws from: with a seed, the n-th POST's fault depends on the seed
   * alone, whatever ids and latencies other requests drew in between.
   */
  constructor(
    initial: Partial<FaultOptions>,
    private readonly startedAt: number,
    private readonly random: Random,
    private readonly rolls: Random = random,
  ) {
    this.current = { ...DEFAULT_FAULT_OPTIONS, ...checkFaultPatch(initial) };
  }

  /** A copy, safe to hand out. */
  get options(): FaultOptions {
    return structuredClone(this.current);
  }

  /** The live settings, for reading on every request without copying. */
  get settings(): Readonly<FaultOptions> {
    return this.current;
  }

  configure(patch: Partial<FaultOptions>): void {
    const checked = checkFaultPatch(patch);
    // A new limit starts from full buckets; tokens counted under the old one mean nothing.
    if (Object.hasOwn(checked, 'rateLimit')) this.buckets = new Map();
    this.current = { ...this.current, ...checked };
  }

  inject(fault: InjectedFault, count = 1, target: FaultTarget = 'post'): void {
    if (!INJECTED_FAULTS.includes(fault)) throw new SandboxConfigError(`unknown fault ${fault}`);
    if (!Number.isInteger(count) || count < 1) {
      throw new SandboxConfigError(`count must be a positive integer, got ${count}`);
    }
    if (!['post', 'get', 'any'].includes(target)) {
      throw new SandboxConfigError(`target must be post, get or any, got ${target}`);
    }
    this.queue.push({ fault, target, remaining: count });
  }

  /** The end of the maintenance window `at` falls in, or undefined outside every window. */
  maintenanceEnd(at: number): number | undefined {
    for (const window of this.current.maintenance) {
      const start = window.absolute === true ? window.startMs : this.startedAt + window.startMs;
      const end = start + window.durationMs;
      if (at >= start && at < end) return end;
    }
    return undefined;
  }

  /** Takes one token from the tenant's bucket, or says how long until one is available. */
  takeToken(tenant: string, at: number): TokenOutcome {
    const limit = this.current.rateLimit;
    if (limit === null) return { ok: true };
    const capacity = burstOf(limit);
    const bucket = this.buckets.get(tenant) ?? { tokens: capacity, refilledAt: at };
    const elapsedS = Math.max(0, at - bucket.refilledAt) / 1000;
    bucket.tokens = Math.min(capacity, bucket.tokens + elapsedS * limit.rps);
    bucket.refilledAt = Math.max(at, bucket.refilledAt);
    this.buckets.set(tenant, bucket);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return { ok: true };
    }
    return { ok: false, waitMs: ((1 - bucket.tokens) / limit.rps) * 1000 };
  }

  rateLimitFormat(): RetryAfterFormat {
    return this.current.rateLimit?.retryAfterFormat ?? this.current.retryAfterFormat;
  }

  /**
   * The fault to apply to this request: the first queued one that targets it (FIFO), else, for
   * `POST /gift_requests` only, one rolled from `faultRates`.
   */
  nextFault(kind: RequestKind): InjectedFault | undefined {
    const index = this.queue.findIndex(
      (queued) => queued.target === 'any' || queued.target === kind,
    );
    const queued = this.queue[index];
    if (queued !== undefined) {
      queued.remaining -= 1;
      if (queued.remaining === 0) this.queue.splice(index, 1);
      return queued.fault;
    }
    if (kind !== 'post') return undefined;
    const roll = this.rolls.next();
    let cumulative = 0;
    for (const fault of INJECTED_FAULTS) {
      cumulative += this.current.faultRates[fault] ?? 0;
      if (roll < cumulative) return fault;
    }
    return undefined;
  }

  pendingInjections(): { fault: InjectedFault; target: FaultTarget; remaining: number }[] {
    return this.queue.map((queued) => ({ ...queued }));
  }

  latencyMs(): number {
    const { min, max } = this.current.latencyMs;
    return max <= 0 ? 0 : this.random.int(min, max);
  }
}

function burstOf(limit: RateLimitOptions): number {
  return limit.burst ?? Math.max(1, Math.ceil(limit.rps));
}

/**
 * A Retry-After value and the instant it means. Seconds are whole and at least 1; an HTTP-date
 * (RFC 9110 IMF-fixdate) has whole-second resolution, so its instant is rounded up to the second it
 * names: a client that waits exactly as told is never counted early.
 */
export function retryAfter(
  at: number,
  waitMs: number,
  format: RetryAfterFormat,
): { header: string; notBefore: number } {
  if (format === 'seconds') {
    const seconds = Math.max(1, Math.ceil(waitMs / 1000));
    return { header: String(seconds), notBefore: at + seconds * 1000 };
  }
  const notBefore = Math.ceil((at + Math.max(1000, waitMs)) / 1000) * 1000;
  return { header: new Date(notBefore).toUTCString(), notBefore };
}

/** Validates a fault patch (from code or from `POST /_sandbox/faults`); throws SandboxConfigError. */
export function checkFaultPatch(patch: unknown): Partial<FaultOptions> {
  if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) {
    throw new SandboxConfigError('fault options must be an object');
  }
  const checked: Partial<FaultOptions> = {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === undefined) continue;
    switch (key) {
      case 'rateLimit':
        checked.rateLimit = value === null ? null : checkRateLimit(value);
        break;
      case 'maintenance':
        if (!Array.isArray(value)) throw new SandboxConfigError('maintenance must be an array');
        checked.maintenance = value.map(checkWindow);
        break;
      case 'latencyMs': {
        const { min, max } = object(value, 'latencyMs');
        if (!isNumber(min) || !isNumber(max) || min < 0 || max < min) {
          throw new SandboxConfigError('latencyMs must be { min, max } with 0 <= min <= max');
        }
        checked.latencyMs = { min, max };
        break;
      }
      case 'faultRates':
        checked.faultRates = checkRates(value);
        break;
      case 'retryAfterFormat':
        checked.retryAfterFormat = checkFormat(value);
        break;
      case 'injectedRetryAfterS':
        if (!Number.isInteger(value) || (value as number) < 1) {
          throw new SandboxConfigError('injectedRetryAfterS must be a whole number >= 1');
        }
        checked.injectedRetryAfterS = value as number;
        break;
      case 'redemptionUrlDelayMs':
        if (!isNumber(value) || value < 0) {
          throw new SandboxConfigError('redemptionUrlDelayMs must be a number >= 0');
        }
        checked.redemptionUrlDelayMs = value;
        break;
      default:
        throw new SandboxConfigError(`unknown fault option ${key}`);
    }
  }
  return checked;
}

function checkRateLimit(value: unknown): RateLimitOptions {
  const { rps, burst, retryAfterFormat } = object(value, 'rateLimit');
  if (!isNumber(rps) || rps <= 0) throw new SandboxConfigError('rateLimit.rps must be > 0');
  const limit: RateLimitOptions = { rps };
  if (burst !== undefined) {
    if (!Number.isInteger(burst) || (burst as number) < 1) {
      throw new SandboxConfigError('rateLimit.burst must be a whole number >= 1');
    }
    limit.burst = burst as number;
  }
  if (retryAfterFormat !== undefined) limit.retryAfterFormat = checkFormat(retryAfterFormat);
  return limit;
}

function checkWindow(value: unknown): MaintenanceWindow {
  const { startMs, durationMs, absolute } = object(value, 'a maintenance window');
  if (!isNumber(startMs) || !isNumber(durationMs) || durationMs < 0) {
    throw new SandboxConfigError('a maintenance window is { startMs, durationMs >= 0 }');
  }
  if (absolute !== undefined && typeof absolute !== 'boolean') {
    throw new SandboxConfigError('maintenance absolute must be a boolean');
  }
  return absolute === true ? { startMs, durationMs, absolute } : { startMs, durationMs };
}

function checkRates(value: unknown): Partial<Record<InjectedFault, number>> {
  const rates: Partial<Record<InjectedFault, number>> = {};
  let total = 0;
  for (const [fault, rate] of Object.entries(object(value, 'faultRates'))) {
    if (!INJECTED_FAULTS.includes(fault as InjectedFault)) {
      throw new SandboxConfigError(`unknown fault ${fault}`);
    }
    if (!isNumber(rate) || rate < 0 || rate > 1) {
      throw new SandboxConfigError(`the rate of ${fault} must be between 0 and 1`);
    }
    rates[fault as InjectedFault] = rate;
    total += rate;
  }
  if (total > 1) throw new SandboxConfigError('fault rates add up to more than 1');
  return rates;
}

function checkFormat(value: unknown): RetryAfterFormat {
  if (value !== 'seconds' && value !== 'http-date') {
    throw new SandboxConfigError('retryAfterFormat must be seconds or http-date');
  }
  return value;
}

function object(value: unknown, what: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new SandboxConfigError(`${what} must be an object`);
  }
  return value as Record<string, unknown>;
}

function isNumber(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}
