/**
 * &Open's webhooks, as the sandbox sends them (2026-05): for every change to a gift request (its
 * creation, its redemption link appearing, a status change) one event, delivered as the flat gift
 * request object, signed with HMAC-SHA256 over `{timestamp}.{raw body}`, retried on anything but a
 * 2xx with the same event id and a fresh timestamp. Faults make deliveries arrive twice, late, or
 * out of order, as a real network and a real sender's retries do.
 *
 * Written from the contract alone: the sandbox never imports the receiver it tests.
 */
import { createHmac, randomUUID } from 'node:crypto';
import { SandboxConfigError } from './faults.ts';
import type { JournalWebhookAttempt } from './journal.ts';
import type { Random } from './random.ts';

export interface WebhookOptions {
  /** Where every event is POSTed. */
  url: string;
  /** The signing secret, as &Open shows it when a webhook endpoint is registered. */
  secret: string;
  /** Attempts per delivery, the first included (default 6). */
  maxAttempts?: number;
  /** The wait before each retry, in ms; the last value repeats (default 250, 1000, 5000, 15000, 60000). */
  retryDelaysMs?: number[];
  /** An attempt with no answer after this long counts as failed (default 5000). */
  timeoutMs?: number;
  /** Probability (0–1) that an event is delivered twice, with the same event id. */
  duplicateRate?: number;
  /**
   * Probability (0–1) that an event is held back by `outOfOrderDelayMs` (default 3000), so that the
   * gift's next event overtakes it: a receiver then meets older news after newer.
   */
  outOfOrderRate?: number;
  outOfOrderDelayMs?: number;
  /** Added before the first attempt of every event (a busy sender). */
  delayMs?: { min: number; max: number };
}

export interface WebhookSummary {
  events: number;
  attempts: number;
  delivered: number;
  /** Events whose every attempt failed. */
  abandoned: number;
  byAnswer: Record<string, number>;
}

/** A gift request as a webhook carries it: the same object the API returns. */
export interface WebhookEvent {
  type: string;
  giftId: string;
  /** The body, serialised once: every attempt and duplicate sends these exact bytes. */
  body: string;
  status: string;
  withUrl: boolean;
}

const DEFAULT_RETRY_DELAYS_MS = [250, 1_000, 5_000, 15_000, 60_000];

export function checkWebhookOptions(options: unknown): WebhookOptions {
  if (typeof options !== 'object' || options === null) {
    throw new SandboxConfigError('webhooks must be an object with url and secret');
  }
  const o = options as Record<string, unknown>;
  if (typeof o.url !== 'string' || !/^https?:\/\//.test(o.url)) {
    throw new SandboxConfigError('webhooks.url must be an http(s) URL');
  }
  if (typeof o.secret !== 'string' || o.secret === '') {
    throw new SandboxConfigError('webhooks.secret must be a non-empty string');
  }
  for (const name of ['duplicateRate', 'outOfOrderRate'] as const) {
    const rate = o[name];
    if (rate !== undefined && !(typeof rate === 'number' && rate >= 0 && rate <= 1)) {
      throw new SandboxConfigError(`webhooks.${name} must be a number from 0 to 1`);
    }
  }
  for (const name of ['maxAttempts', 'timeoutMs', 'outOfOrderDelayMs'] as const) {
    const value = o[name];
    if (
      value !== undefined &&
      !(typeof value === 'number' && value >= (name === 'maxAttempts' ? 1 : 0))
    ) {
      throw new SandboxConfigError(`webhooks.${name} must be a positive number`);
    }
  }
  return o as unknown as WebhookOptions;
}

export class WebhookSender {
  private options: WebhookOptions | null = null;
  private events = 0;
  private delivered = 0;
  private abandoned = 0;
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly inFlight = new Set<Promise<void>>();
  private readonly stopping = new AbortController();
  /** Gifts whose last event is being held back (out-of-order fault). */
  private readonly heldBack = new Set<string>();

  constructor(
    private readonly random: Random,
    private readonly now: () => number,
    /** The journal's list: every attempt is recorded there. */
    private readonly attempts: JournalWebhookAttempt[],
  ) {}

  configure(options: WebhookOptions | null): void {
    this.options = options === null ? null : checkWebhookOptions(options);
  }

  /** The settings without the secret, for the admin endpoint. */
  get settings(): Omit<WebhookOptions, 'secret'> | null {
    if (this.options === null) return null;
    const { secret: _secret, ...shown } = this.options;
    return shown;
  }

  get enabled(): boolean {
    return this.options !== null;
  }

  /** Sends one event, now or `afterMs` from now (a link that appears later). */
  emit(event: () => WebhookEvent, afterMs = 0): void {
    if (this.options === null) return;
    if (afterMs > 0) {
      this.later(afterMs, () => this.emit(event));
      return;
    }
    const options = this.options;
    const snapshot = event();
    const eventId = randomUUID();
    this.events += 1;
    // An event held back is overtaken by the gift's next one, which is therefore never held back.
    const overtakes = this.heldBack.delete(snapshot.giftId);
    const holdBack =
      !overtakes && this.random.next() < (options.outOfOrderRate ?? 0)
        ? (options.outOfOrderDelayMs ?? 3_000)
        : 0;
    if (holdBack > 0) this.heldBack.add(snapshot.giftId);
    const jitter = options.delayMs
      ? options.delayMs.min + this.random.next() * (options.delayMs.max - options.delayMs.min)
      : 0;
    const copies = this.random.next() < (options.duplicateRate ?? 0) ? 2 : 1;
    for (let copy = 0; copy < copies; copy += 1) {
      const fault = copy > 0 ? 'duplicate' : holdBack > 0 ? 'out-of-order' : undefined;
      this.later(holdBack + jitter + copy * 50, () =>
        this.track(this.deliver(options, eventId, snapshot, fault, copy === 0)),
      );
    }
  }

  summary(): WebhookSummary {
    const byAnswer: Record<string, number> = {};
    for (const attempt of this.attempts) {
      const key = attempt.answer === null ? 'no-answer' : String(attempt.answer);
      byAnswer[key] = (byAnswer[key] ?? 0) + 1;
    }
    return {
      events: this.events,
      attempts: this.attempts.length,
      delivered: this.delivered,
      abandoned: this.abandoned,
      byAnswer,
    };
  }

  /** Resolves once nothing is scheduled or in flight (tests wait on it). */
  async idle(): Promise<void> {
    while (this.timers.size > 0 || this.inFlight.size > 0) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  stop(): void {
    this.stopping.abort();
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
  }

  private async deliver(
    options: WebhookOptions,
    eventId: string,
    event: WebhookEvent,
    fault: JournalWebhookAttempt['fault'],
    counts: boolean,
  ): Promise<void> {
    const maxAttempts = options.maxAttempts ?? 6;
    const delays = options.retryDelaysMs ?? DEFAULT_RETRY_DELAYS_MS;
    for (let attempt = 1; attempt <= maxAttempts; attempt += 1) {
      if (this.stopping.signal.aborted) return;
      const answer = await this.attempt(options, eventId, event, attempt, fault);
      if (answer !== null && answer >= 200 && answer < 300) {
        if (counts) this.delivered += 1;
        return;
      }
      if (attempt < maxAttempts) {
        const wait = delays[Math.min(attempt - 1, delays.length - 1)] ?? 1_000;
        await new Promise<void>((resolve) => this.later(wait, resolve));
      }
    }
    if (counts) this.abandoned += 1;
  }

  private async attempt(
    options: WebhookOptions,
    eventId: string,
    event: WebhookEvent,
    attempt: number,
    fault: JournalWebhookAttempt['fault'],
  ): Promise<number | null> {
    const at = this.now();
    // Fresh on every attempt, as &Open's is: a receiver rejects timestamps over 5 minutes old.
    const timestamp = String(Math.floor(at / 1000));
    const signature = createHmac('sha256', options.secret)
      .update(`${timestamp}.${event.body}`, 'utf8')
      .digest('hex');
    const entry: JournalWebhookAttempt = {
      at,
      eventId,
      eventType: event.type,
      giftId: event.giftId,
      status: event.status,
      withUrl: event.withUrl,
      attempt,
      answer: null,
      ...(fault ? { fault } : {}),
    };
    this.attempts.push(entry);
    try {
      const response = await fetch(options.url, {
        method: 'POST',
        headers: {
          'Content-Type': 'application/json',
          'AndOpen-Webhook-Signature': signature,
          'AndOpen-Webhook-Dispatch-Timestamp': timestamp,
          'AndOpen-Webhook-Event-Id': eventId,
          'AndOpen-Webhook-Event-Type': event.type,
          'AndOpen-Webhook-API-Version': '2026-05',
        },
        body: event.body,
        signal: AbortSignal.any([
          this.stopping.signal,
          AbortSignal.timeout(options.timeoutMs ?? 5_000),
        ]),
      });
      await response.arrayBuffer();
      entry.answer = response.status;
      return response.status;
    } catch (error) {
      entry.error = error instanceof Error ? error.name : 'error';
      return null;
    }
  }

  private later(ms: number, run: () => void): void {
    if (this.stopping.signal.aborted) return;
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      run();
    }, ms);
    this.timers.add(timer);
  }

  private track(delivery: Promise<void>): void {
    this.inFlight.add(delivery);
    void delivery.finally(() => this.inFlight.delete(delivery));
  }
}
