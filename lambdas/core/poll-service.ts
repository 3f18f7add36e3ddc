import type { Clock } from '../ports/clock.ts';
import type { GiftingApi } from '../ports/gifting-api.ts';
import type { BatchCounts, Ledger, RowRecord } from '../ports/ledger.ts';
import { mapWithConcurrency } from './concurrency.ts';
import {
  classifyGet,
  describeConfigurationStop,
  type GetOutcome,
  retryAfterOf,
} from './outcome.ts';
import { type FleetRateLimiter, type LimiterFeedback, Permits, sentAt } from './rate-limiter.ts';
import { settleFromKeptNews } from './webhooks/kept-news.ts';

export interface PollSettings {
  /** The first gap between polls of one row; it doubles up to `maxIntervalMs`. */
  minIntervalMs: number;
  maxIntervalMs: number;
  /** Rows looked at per run. */
  rowsPerRun: number;
  /** GETs in flight at once. */
  concurrency: number;
  /**
   * Webhooks are on: before calling &Open about a row, look for news a webhook brought before the
   * row knew its gift request id (the poller is then a safety net, not the way URLs arrive).
   */
  useWebhookNews?: boolean;
}

export interface PollReport {
  polled: number;
  /** Rows that stopped being followed: URL arrived, or the wait ended without one. */
  settled: number;
  /** Rows whose URL had not arrived by their deadline. */
  gaveUp: number;
  /** Rows settled from news a webhook left before the row knew its gift (no GET). */
  fromWebhookNews: number;
  /** Answers that need a person (a created gift &Open says does not exist, a refused key). */
  alarms: string[];
  /** GETs of gifts we created that &Open answered 404: the key's tenant does not hold them. */
  notFound: number;
  /** The rows that stopped being followed in this run (their outcome is now complete). */
  settledRows: { batchId: string; row: number }[];
}

/**
 * Follows created gifts until their redemption URL appears.
 *
 * Primary course:
 * 1. Take the created rows whose next poll is due (the ledger's poll index).
 * 2. GET each one, a bounded number at a time.
 * 3. Record status and URL; stop following a row once it has its URL or its deadline has passed,
 *    otherwise look again later, backing off (and never sooner than a Retry-After).
 * 4. Count the settled rows on their batches, one write per batch.
 */
export class PollService {
  readonly #ledger: Ledger;
  readonly #api: GiftingApi;
  readonly #clock: Clock;
  readonly #settings: PollSettings;
  readonly #limiter: FleetRateLimiter | null;

  constructor(deps: {
    ledger: Ledger;
    api: GiftingApi;
    clock: Clock;
    settings: PollSettings;
    /** GETs draw from the same fleet-wide budget as the POSTs. */
    limiter?: FleetRateLimiter;
  }) {
    this.#ledger = deps.ledger;
    this.#api = deps.api;
    this.#clock = deps.clock;
    this.#settings = deps.settings;
    this.#limiter = deps.limiter ?? null;
  }

  async pollDue(): Promise<PollReport> {
    const due = await this.#ledger.rowsDueForPolling(this.#clock.now(), this.#settings.rowsPerRun);
    const report: PollReport = {
      polled: 0,
      settled: 0,
      gaveUp: 0,
      fromWebhookNews: 0,
      alarms: [],
      notFound: 0,
      settledRows: [],
    };
    const settledByBatch = new Map<string, number>();
    const permits = this.#limiter ? new Permits(this.#limiter, this.#clock, due.length) : null;

    await mapWithConcurrency(due, this.#settings.concurrency, async (row) => {
      const settled = await this.#pollOne(row, report, permits);
      if (settled) {
        report.settled += 1;
        report.settledRows.push({ batchId: row.batchId, row: row.row });
        settledByBatch.set(row.batchId, (settledByBatch.get(row.batchId) ?? 0) + 1);
      }
    });

    const now = this.#isoNow();
    for (const [batchId, settled] of settledByBatch) {
      const delta: Partial<BatchCounts> = { settled };
      await this.#ledger.addToCounts(batchId, delta, now);
    }
    return report;
  }

  /** Returns true when the row stops being followed. */
  async #pollOne(row: RowRecord, report: PollReport, permits: Permits | null): Promise<boolean> {
    if (!row.giftRequestId) return false;
    if (this.#settings.useWebhookNews && (await this.#settleFromWebhookNews(row))) {
      report.fromWebhookNews += 1;
      return true;
    }
    const permit = await this.#clearedToGet(permits);
    if (permit.kind === 'wait') return false; // still due: the next run takes it
    report.polled += 1;
    const call = await this.#api.getGiftRequest(row.giftRequestId);
    const outcome = classifyGet(call);
    await this.#limiter?.answered(
      sentAt(call, permit.at),
      feedbackOf(outcome),
      retryAfterOf(outcome),
    );
    const nowMs = this.#clock.now();
    const now = this.#isoNow();
    const pastDeadline = row.pollDeadlineAt !== null && nowMs >= row.pollDeadlineAt;

    if (outcome.kind === 'found') {
      const hasUrl = outcome.gift.redemption_url !== null;
      const stop = hasUrl || pastDeadline;
      if (!hasUrl && pastDeadline) report.gaveUp += 1;
      await this.#ledger.updateGift(
        row.batchId,
        row.row,
        {
          giftStatus: outcome.gift.status,
          redemptionUrl: outcome.gift.redemption_url,
          giftUpdatedAt: outcome.gift.updated_at,
          requestId: outcome.requestId,
          pollDueAt: stop ? null : nowMs + this.#nextGap(row, nowMs),
        },
        now,
      );
      return stop;
    }

    if (outcome.kind === 'not-found') {
      // Not a wrong region (that answers 401 invalid_token): the key's tenant does not hold a gift
      // this deployment created. The row is still followed until its deadline, and sends go on.
      report.notFound += 1;
      report.alarms.push(
        `gift ${row.giftRequestId} (batch ${row.batchId}, row ${row.row}) was created but &Open says it does not exist (Request-Id ${outcome.requestId ?? 'none'}): is the API key still the one of the tenant that created it?`,
      );
    } else if (outcome.kind === 'configuration-stop') {
      report.alarms.push(`while polling: ${describeConfigurationStop(outcome)}`);
    }
    const retryAfterMs =
      outcome.kind === 'throttled' || outcome.kind === 'retry-later'
        ? (outcome.retryAfterMs ?? 0)
        : 0;
    if (pastDeadline) report.gaveUp += 1;
    await this.#ledger.updateGift(
      row.batchId,
      row.row,
      {
        giftStatus: row.giftStatus ?? 'submitted',
        redemptionUrl: row.redemptionUrl,
        giftUpdatedAt: row.giftUpdatedAt,
        requestId: 'requestId' in outcome ? outcome.requestId : null,
        pollDueAt: pastDeadline ? null : nowMs + Math.max(retryAfterMs, this.#nextGap(row, nowMs)),
      },
      now,
    );
    return pastDeadline;
  }

  /**
   * A slot of the fleet's budget, then the last look at the shared pause right before the GET, as
   * the sender does before a POST: a throttle answered to another request between the slot's
   * clearance and this GET must stop it. The caller sends with no `await` in between.
   */
  async #clearedToGet(
    permits: Permits | null,
  ): Promise<{ kind: 'go'; at: number } | { kind: 'wait'; untilMs: number }> {
    if (!permits || !this.#limiter) return { kind: 'go', at: this.#clock.now() };
    for (;;) {
      const permit = await permits.acquire();
      if (permit.kind === 'wait') return permit;
      // Paused meanwhile: the next slot comes after the pause (or says to wait for it).
      if (await this.#limiter.clearToSend()) return permit;
    }
  }

  /** Applies kept webhook news that brings the row its URL; true when it did (no GET needed). */
  #settleFromWebhookNews(row: RowRecord): Promise<boolean> {
    return settleFromKeptNews(
      this.#ledger,
      {
        batchId: row.batchId,
        row: row.row,
        giftRequestId: row.giftRequestId ?? '',
        giftStatus: row.giftStatus,
        redemptionUrl: row.redemptionUrl,
        giftUpdatedAt: row.giftUpdatedAt,
      },
      this.#isoNow(),
    );
  }

  /** Doubling gaps: about as many polls per row as it takes for the URL to appear, logarithmically. */
  #nextGap(row: RowRecord, nowMs: number): number {
    const { minIntervalMs, maxIntervalMs } = this.#settings;
    const createdMs = row.giftCreatedAt ? Date.parse(row.giftCreatedAt) : Number.NaN;
    const waited = Number.isFinite(createdMs) ? Math.max(0, nowMs - createdMs) : minIntervalMs;
    return Math.min(maxIntervalMs, Math.max(minIntervalMs, waited));
  }

  #isoNow(): string {
    return new Date(this.#clock.now()).toISOString();
  }
}

/** What an answer to a GET tells the fleet's rate limiter. */
export function feedbackOf(outcome: GetOutcome): LimiterFeedback {
  if (outcome.kind === 'throttled') return 'throttled';
  if (outcome.kind !== 'retry-later') return 'accepted';
  if (outcome.reason === 'unavailable') return 'unavailable';
  return outcome.httpStatus === null ? 'no-answer' : 'accepted';
}
