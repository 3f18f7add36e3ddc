import type { Clock } from '../ports/clock.ts';
import type { GiftingApi } from '../ports/gifting-api.ts';
import type { Ledger, RowRecord } from '../ports/ledger.ts';
import { mapWithConcurrency } from './concurrency.ts';
import { classifyGet, describeConfigurationStop, retryAfterOf } from './outcome.ts';
import { feedbackOf } from './poll-service.ts';
import { type FleetRateLimiter, Permits } from './rate-limiter.ts';

/** Statuses a gift does not leave (get-gift-request: delivered, or cancelled). */
export const FINAL_GIFT_STATUSES: ReadonlySet<string> = new Set(['delivered', 'cancelled']);

export interface RefreshSettings {
  /** GETs in flight at once. */
  concurrency: number;
  /** Asks per gift when &Open says "later" (429, 503, no answer). */
  attempts: number;
  /** Rows taken together (one reservation of the shared budget). */
  pageSize: number;
}

const DEFAULT_SETTINGS: RefreshSettings = { concurrency: 8, attempts: 3, pageSize: 100 };

export interface RefreshReport {
  /** Created gifts in the interval whose status could still change. */
  candidates: number;
  /** Of those, read from &Open. */
  refreshed: number;
  /** Of those, whose status or redemption link changed. */
  changed: number;
  /** Requests made (GETs, retries included): what the refresh cost of the rate budget. */
  requests: number;
  /** Gifts that could not be read, one line each (capped), and why a refresh stopped early. */
  problems: string[];
  /** &Open refused the key or the URL: nothing more was asked. */
  stopped: boolean;
}

const PROBLEMS_KEPT = 20;

/**
 * Brings a campaign's gift statuses up to date from &Open before an export, so finance reads what
 * &Open says now, not what the poller last saw (it stops following a gift once its link arrives).
 *
 * Primary course:
 * 1. Walk the campaign's rows in the interval (the export's own index read), a page at a time.
 * 2. For each created gift whose status can still change, GET it, a bounded number at a time, each
 *    GET taking its slot of the fleet's shared rate (a running batch and this refresh share it).
 * 3. Record status and link on the row, never dropping a link it had; whether the poller follows
 *    the row is left as it was.
 */
export class RefreshService {
  readonly #ledger: Ledger;
  readonly #api: GiftingApi;
  readonly #clock: Clock;
  readonly #limiter: FleetRateLimiter | null;
  readonly #sleep: (ms: number) => Promise<void>;
  readonly #settings: RefreshSettings;

  constructor(deps: {
    ledger: Ledger;
    api: GiftingApi;
    clock: Clock;
    limiter?: FleetRateLimiter | null;
    sleep?: (ms: number) => Promise<void>;
    settings?: Partial<RefreshSettings>;
  }) {
    this.#ledger = deps.ledger;
    this.#api = deps.api;
    this.#clock = deps.clock;
    this.#limiter = deps.limiter ?? null;
    this.#sleep = deps.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
    this.#settings = { ...DEFAULT_SETTINGS, ...deps.settings };
  }

  async refresh(range: {
    campaignId: string;
    from: string | null;
    to: string | null;
  }): Promise<RefreshReport> {
    const report: RefreshReport = {
      candidates: 0,
      refreshed: 0,
      changed: 0,
      requests: 0,
      problems: [],
      stopped: false,
    };
    const bounds = {
      ...(range.from ? { from: range.from } : {}),
      ...(range.to ? { to: range.to } : {}),
    };
    let page: RowRecord[] = [];
    for await (const row of this.#ledger.listCampaignRows(range.campaignId, bounds)) {
      if (!canStillChange(row)) continue;
      report.candidates += 1;
      page.push(row);
      if (page.length >= this.#settings.pageSize) {
        await this.#refreshPage(page, report);
        page = [];
      }
    }
    await this.#refreshPage(page, report);
    return report;
  }

  async #refreshPage(rows: RowRecord[], report: RefreshReport): Promise<void> {
    if (rows.length === 0 || report.stopped) return;
    const permits = this.#limiter ? new Permits(this.#limiter, this.#clock, rows.length) : null;
    await mapWithConcurrency(rows, this.#settings.concurrency, (row) =>
      this.#refreshOne(row, report, permits),
    );
  }

  async #refreshOne(row: RowRecord, report: RefreshReport, permits: Permits | null): Promise<void> {
    const giftId = row.giftRequestId as string;
    for (let attempt = 1; attempt <= this.#settings.attempts; attempt += 1) {
      if (report.stopped) return;
      const permit = permits ? await permits.acquire() : { kind: 'go' as const, at: 0 };
      if (permit.kind === 'wait') {
        // The fleet is paused longer than a request should wait: wait it out, then ask.
        await this.#sleep(Math.max(0, permit.untilMs - this.#clock.now()));
        attempt -= 1;
        continue;
      }
      const sentAt = this.#clock.now();
      report.requests += 1;
      const outcome = classifyGet(await this.#api.getGiftRequest(giftId));
      await this.#limiter?.answered(sentAt, feedbackOf(outcome), retryAfterOf(outcome));
      if (outcome.kind === 'found') {
        const redemptionUrl = outcome.gift.redemption_url ?? row.redemptionUrl;
        await this.#ledger.updateGift(
          row.batchId,
          row.row,
          {
            giftStatus: outcome.gift.status,
            redemptionUrl,
            giftUpdatedAt: outcome.gift.updated_at,
            requestId: outcome.requestId,
            pollDueAt: row.pollDueAt,
          },
          new Date(this.#clock.now()).toISOString(),
        );
        report.refreshed += 1;
        if (outcome.gift.status !== row.giftStatus || redemptionUrl !== row.redemptionUrl) {
          report.changed += 1;
        }
        return;
      }
      if (outcome.kind === 'configuration-stop') {
        report.stopped = true;
        keep(
          report,
          `${describeConfigurationStop(outcome)}: the refresh stopped; the export shows the statuses the ledger had`,
        );
        return;
      }
      if (outcome.kind === 'not-found') {
        keep(
          report,
          `gift ${giftId} (batch ${row.batchId}, row ${row.row}): &Open says it does not exist (Request-Id ${outcome.requestId ?? 'none'})`,
        );
        return;
      }
      // Throttled, unavailable or no answer: without the shared limiter nobody else honours the
      // Retry-After, so this caller does; with it, the next permit waits for the pause.
      if (!this.#limiter && attempt < this.#settings.attempts) {
        const retryAfterMs = 'retryAfterMs' in outcome ? (outcome.retryAfterMs ?? 0) : 0;
        await this.#sleep(Math.max(retryAfterMs, 250 * attempt));
      }
    }
    keep(
      report,
      `gift ${giftId} (batch ${row.batchId}, row ${row.row}): &Open did not answer in time; its status is the ledger's`,
    );
  }
}

function canStillChange(row: RowRecord): boolean {
  return (
    row.state === 'created' &&
    row.giftRequestId !== null &&
    !FINAL_GIFT_STATUSES.has(row.giftStatus ?? '')
  );
}

function keep(report: RefreshReport, problem: string): void {
  if (report.problems.length < PROBLEMS_KEPT) report.problems.push(problem);
}
