import type { Clock } from '../ports/clock.ts';
import type { ApiCall } from '../ports/gifting-api.ts';
import type { LimiterState, LimiterStore } from '../ports/rate-limit.ts';

export interface RateLimitSettings {
  /** A ceiling the tenant knows (`--max-rps`, ANDOPEN_MAX_RPS); null: learn the limit. */
  ceilingRps: number | null;
  /** Where an unknown limit's search starts. */
  initialRps: number;
  minRps: number;
  /** How often the rate may grow. */
  growthIntervalMs: number;
  /**
   * Before the first throttle, the rate grows by this factor each growth interval. Gently: &Open's
   * burst allowance hides its limit for a while, and the faster the rate grows meanwhile, the
   * further over the limit the first 429 finds the fleet (and the more requests it refuses).
   */
  slowStartGrowth: number;
  /** After a throttle, the share of the measured limit the fleet holds to. */
  holdShare: number;
  /** How long the fleet holds there before it probes above it (ms)… */
  holdMs: number;
  /**
   * …then the rate creeps up by a share per second that grows this much each second (convex, as
   * CUBIC's probing): slowly near the limit it measured, faster the longer calls still succeed, so
   * a limit that was measured low or has since risen is found within seconds, not minutes.
   */
  probeAcceleration: number;
  /** …and a later throttle steps it down by this factor (multiplicative decrease). */
  decrease: number;
  /** A caller that would wait longer than this for its slot gives the row back to the queue. */
  maxWaitMs: number;
  /** Without a usable Retry-After, a throttle pauses the fleet this long. */
  defaultPauseMs: number;
}

export const DEFAULT_RATE_LIMIT_SETTINGS: RateLimitSettings = {
  ceilingRps: null,
  initialRps: 50,
  minRps: 0.5,
  growthIntervalMs: 250,
  slowStartGrowth: 1.25,
  holdShare: 1,
  holdMs: 3_000,
  probeAcceleration: 0.0015,
  decrease: 0.95,
  maxWaitMs: 20_000,
  defaultPauseMs: 1_000,
};

/** A request's answer, as the limiter learns from it. */
export type LimiterFeedback = 'accepted' | 'throttled' | 'unavailable' | 'no-answer';

/** How many recent requests an instance remembers, to measure the limit when it is first hit. */
const RECENT_REQUESTS = 2_000;
/** The fewest requests of an episode that make a measurement of the limit worth trusting. */
const MIN_SAMPLES = 8;
/** If nobody could measure an episode this long after its pause, fall back to halving. */
const ESTIMATE_GRACE_MS = 2_000;
/** A reservation covers about this long at the current rate. */
const BLOCK_SECONDS = 0.1;
/**
 * An instance that sent this share of the fleet's requests before a pause sent for the whole fleet
 * (one machine): it heard every answer of the episode and measures from them alone.
 */
const ALONE_SHARE = 0.9;
/** Below this accepted share an episode was a clear overshoot, worth measuring the limit from… */
const MEASURABLE_SHARE = 0.85;
/** …given at least this many refusals (one stray 429 is no measurement). */
const MIN_REFUSED = 3;
/** A growth window whose schedule stood empty longer than this share of it was not used fully. */
const IDLE_SHARE = 0.2;
/** Weight of a growth window's send rate in the smoothed rate (8 windows of 250 ms ≈ 2 s). */
const SMOOTHING = 0.125;
/**
 * A probe this far above the measured limit without a throttle: the measurement was wrong or the
 * limit has risen; search again as at the start (slow start) rather than creep.
 */
const STALE_LIMIT_FACTOR = 1.5;
/**
 * The shared state remembers the fleet's reservations this long, to measure its real rate when a
 * throttle is heard: between the refused request's slot and its answer (a latency, well under a
 * second). Kept short, with rounded instants, so that the item written with every block stays
 * within one write unit (1 KB): it was ~3 KB with three seconds of blocks.
 */
const BLOCK_HISTORY_MS = 1_000;
const MAX_BLOCKS = 16;
/**
 * How much earlier than the first refusal heard another refused request of the same episode may have
 * been sent: answers take different times. (Looking further back is harmless while &Open's bucket
 * stayed under its capacity, as it does within a fraction of a second of a refusal.)
 */
const REFUSALS_HEARD_LATE_MS = 300;
/** The shortest time between two refusals of an episode that measures the pace &Open accepted at. */
const MIN_PACE_WINDOW_MS = 50;
/** This instance remembers its own blocks this long (it keeps them in memory, not in the item). */
const OWN_BLOCK_HISTORY_MS = 5_000;
/** The newest episode's measurement weighs this much against the average of the earlier ones. */
const NEW_MEASUREMENT_WEIGHT = 0.5;
/**
 * Until a credit was refused, &Open's bucket is taken to hold at least this long of its limit: what
 * it refills with during the shortest Retry-After (one second).
 */
const ASSUMED_BURST_S = 1;
/**
 * The share of the bucket's refill the fleet spends. The rest is a margin for a limit measured a
 * little high (the bench's measurements were off by up to 6 %): with a tenth left, the fleet held at
 * such a limit emptied the bucket within seconds of each credit and was refused again.
 */
const CREDIT_SHARE = 0.7;
/**
 * The credit is spent at this share of the limit on top of it: if the bucket held less than assumed,
 * the requests already on their way when the first refusal comes back are few.
 */
const CREDIT_RATE_SHARE = 0.5;
/** A rate this close above the one the fleet holds at is still holding, not probing. */
const HOLD_TOLERANCE = 0.001;
/** After an episode it could not measure, the search goes no faster than where &Open refused for this long. */
const SEARCH_CAP_MS = 5_000;
/** Concurrent callers of one instance share a read of the shared pause this fresh. */
const SHARED_READ_REUSE_MS = 10;
/**
 * A turn of the event loop that took this long was busy (answers were being read, or the machine
 * is loaded): more answers may have arrived meanwhile, so the last look waits for one more turn…
 */
const BUSY_TURN_MS = 2;
/** …at most this many more times (a loop that stays busy must not stop requests altogether). */
const MAX_EXTRA_TURNS = 3;

/**
 * One fleet-wide send rate for &Open, whose limit is not published.
 *
 * - Slots: every request takes a slot from a shared schedule (GCRA: `nextSlotAt` advances by 1/rate
 *   per request), reserved in blocks so the shared state takes one write per block, not per request.
 * - Pause: a 429 or 503 with Retry-After stops the whole fleet until it has passed. This instance
 *   knows it at once (it checks before every request, synchronously); other containers see it on
 *   their next check of the shared state, which every request makes right before it is sent.
 * - Learning: without a ceiling the rate grows while the fleet uses it fully (slow start: every
 *   growth window in which no slot of the schedule went unused). At every throttle the limit is
 *   measured: between two refused requests &Open's bucket was empty at both ends, so what it
 *   accepted in between, counted from when each request was written, is exactly its limit's worth,
 *   within a request. The measurements are averaged over the episodes; the fleet holds at the
 *   average for a few seconds, then probes above it, slowly at first and faster the longer calls
 *   succeed (as CUBIC does). Each episode costs a pause, but with a bucket that refills during it
 *   (the usual limiter) little capacity: sending a little above the limit until &Open refuses uses
 *   all of it, while holding under it wastes what it would have accepted.
 * - Credit: &Open's bucket refills through every pause (a Retry-After, a maintenance window). Right
 *   after it the fleet sends that refill on top of the limit, up to what the bucket holds (a second
 *   of the limit until a refused credit says less): left in the bucket, it would be lost with every
 *   moment the fleet sends under the limit, and with the end of the batch.
 */
export class FleetRateLimiter {
  readonly #store: LimiterStore;
  readonly #clock: Clock;
  readonly #sleep: (ms: number) => Promise<void>;
  readonly #yieldToAnswers: () => Promise<void>;
  readonly settings: RateLimitSettings;
  /** This instance's own knowledge of the pause: set synchronously when a throttle arrives. */
  #pausedUntil = 0;
  /** When the latest pause this instance knows of began: slots reserved before it are void. */
  #pausedSince = 0;
  #recent: { sentAt: number; feedback: LimiterFeedback }[] = [];
  #sharedRead: { at: number; state: Promise<LimiterState | null> } | null = null;
  /** The slots this instance reserved lately: against the fleet's, whether it sent for all of it. */
  #ownBlocks: NonNullable<LimiterState['blocks']> = [];

  constructor(deps: {
    store: LimiterStore;
    clock: Clock;
    sleep?: (ms: number) => Promise<void>;
    /**
     * Lets answers that have already arrived be read before the last check of the pause (in Node,
     * one turn of the event loop: `setImmediate`). On a busy machine timers and socket reads queue
     * up; without it, requests whose slots came due would leave before a 429 that had arrived
     * first was read. Default: none (virtual-time tests).
     */
    yieldToAnswers?: () => Promise<void>;
    settings?: Partial<RateLimitSettings>;
  }) {
    this.#store = deps.store;
    this.#clock = deps.clock;
    this.#sleep = deps.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
    this.#yieldToAnswers = deps.yieldToAnswers ?? (() => Promise.resolve());
    this.settings = { ...DEFAULT_RATE_LIMIT_SETTINGS, ...deps.settings };
  }

  /**
   * Reserves up to `wanted` consecutive slots of the fleet's schedule and returns their instants
   * (ms): about a tenth of a second's worth at the current rate, so that a block reserved while the
   * rate is low does not commit the fleet to that rate for long.
   */
  async reserve(wanted: number): Promise<number[]> {
    let waitedAt: number | null = null;
    for (;;) {
      const now = this.#clock.now();
      const read = await this.#store.read();
      const before = read ?? this.#initialState(now);
      // Slots reserved during a throttle's pause, before the limit is measured, would follow it at
      // the rate &Open refused (a burst straight into its refilled bucket): wait for the measurement.
      // Not for longer than a caller may wait: it gives its row back instead.
      // Again if the refusals still arriving lengthened the pause, as long as time moves on (a
      // sleep that does not would spin).
      const pauseLeftMs = before.pausedUntil - now;
      if (
        waitedAt !== now &&
        !before.estimated &&
        pauseLeftMs > 0 &&
        pauseLeftMs <= this.settings.maxWaitMs
      ) {
        waitedAt = now;
        await this.#sleep(pauseLeftMs);
        continue;
      }
      // Slots that passed before anyone came for them: the fleet had no request to send then.
      // Counted in the window they passed in, which the evolution below may close.
      const idleMs = Math.max(0, now - Math.max(before.nextSlotAt, before.pausedUntil));
      const state = this.#evolve(
        { ...before, idleInWindowMs: (before.idleInWindowMs ?? 0) + idleMs },
        now,
      );
      const start = Math.max(now, state.nextSlotAt, state.pausedUntil, this.#pausedUntil);
      const rate = state.rate + creditRps(state, start);
      const count = Math.max(1, Math.min(wanted, Math.floor(rate * BLOCK_SECONDS)));
      const interval = 1000 / rate;
      const slots = Array.from({ length: count }, (_, index) => start + index * interval);
      const next: LimiterState = {
        ...state,
        version: (read?.version ?? 0) + 1,
        nextSlotAt: start + count * interval,
        reservedInWindow: state.reservedInWindow + count,
        blocks: withBlock(recentBlocks(state, now), roundedBlock(start, count, interval)),
      };
      if (await this.#store.write(next, read?.version ?? null)) {
        this.#ownBlocks = withBlock(
          this.#ownBlocks.filter((block) => block.at >= now - OWN_BLOCK_HISTORY_MS),
          roundedBlock(start, count, interval),
        );
        return slots;
      }
    }
  }

  /**
   * Waits until `slotAt`, then checks that no pause began meanwhile, here or anywhere in the fleet.
   * `paused`: the slot is void, and the caller reserves again. It fell inside a pause, or it was
   * reserved (at `reservedAt`) before a pause began: then at the rate &Open refused, and even
   * after the pause it would go out on top of the schedule that follows it.
   */
  async waitFor(slotAt: number, reservedAt = Number.POSITIVE_INFINITY): Promise<'go' | 'paused'> {
    if (this.#pausedUntil > slotAt || this.#pausedSince > reservedAt) return 'paused';
    const wait = slotAt - this.#clock.now();
    if (wait > 0) await this.#sleep(wait);
    if (!(await this.clearToSend())) return 'paused';
    return this.#pausedSince > reservedAt ? 'paused' : 'go';
  }

  /**
   * The last check before a request leaves, after any other work since its slot was cleared: false
   * when a pause began meanwhile, here or elsewhere in the fleet. The caller must send with no
   * `await` between a true answer and the request, so that nothing can slip in between.
   */
  async clearToSend(): Promise<boolean> {
    if (this.#pausedUntil > this.#clock.now()) return false;
    const shared = await this.#freshSharedState();
    // A 429 that arrived meanwhile is read (and pauses this instance) before the answer below; after
    // a busy turn, one that arrived during it too.
    for (let turn = 0; turn <= MAX_EXTRA_TURNS; turn += 1) {
      const turnBegan = this.#clock.now();
      await this.#yieldToAnswers();
      if (this.#pausedUntil > this.#clock.now()) return false;
      if (this.#clock.now() - turnBegan < BUSY_TURN_MS) break;
    }
    const now = this.#clock.now();
    if (shared && shared.pausedUntil > now) {
      this.#pausedUntil = Math.max(this.#pausedUntil, shared.pausedUntil);
    }
    this.#pausedSince = Math.max(this.#pausedSince, shared?.pausedSince ?? 0);
    return this.#pausedUntil <= now;
  }

  /** The instant this instance knows the fleet is paused until (0: not paused). */
  get pausedUntil(): number {
    return this.#pausedUntil;
  }

  /**
   * Learns from the answer of a request sent at `sentAt`. A throttle or maintenance answer pauses
   * this instance before anything else can run, then the whole fleet through the shared state.
   */
  async answered(
    sentAt: number,
    feedback: LimiterFeedback,
    retryAfterMs: number | null = null,
  ): Promise<void> {
    this.#remember(sentAt, feedback);
    if (feedback !== 'throttled' && feedback !== 'unavailable') return;
    const now = this.#clock.now();
    const until = now + (retryAfterMs ?? this.settings.defaultPauseMs);
    if (this.#pausedUntil <= now) this.#pausedSince = now;
    this.#pausedUntil = Math.max(this.#pausedUntil, until);
    const reason =
      feedback === 'throttled'
        ? '&Open rate limit (429): waiting for Retry-After'
        : '&Open unavailable (503, maintenance): waiting for Retry-After';
    for (;;) {
      const read = await this.#store.read();
      const state = read ?? this.#initialState(now);
      const newEpisode = feedback === 'throttled' && sentAt >= state.pausedUntil;
      const creditRefused =
        newEpisode && state.credit !== undefined && creditRps(state, sentAt) > 0
          ? spentCredit(state.credit, sentAt)
          : null;
      // A refusal of the episode not yet measured, heard here or by another container: pooled.
      const ofThisEpisode =
        feedback === 'throttled' &&
        !newEpisode &&
        !state.estimated &&
        state.refusals !== undefined &&
        sentAt >= state.throttledAt - REFUSALS_HEARD_LATE_MS;
      const next: LimiterState = {
        ...state,
        version: (read?.version ?? 0) + 1,
        pausedUntil: Math.max(state.pausedUntil, until),
        pausedSince: state.pausedUntil > now ? (state.pausedSince ?? now) : now,
        pauseReason: reason,
        ...(creditRefused === null
          ? {}
          : {
              burstAtMost: Math.min(state.burstAtMost ?? Number.POSITIVE_INFINITY, creditRefused),
            }),
        ...probeClock(state, feedback, until, now),
        // A new pause voids every slot reserved before it (see `waitFor`): the schedule starts
        // again at its end. One that lengthens a pause keeps what was reserved during it.
        nextSlotAt: state.pausedUntil > now ? Math.max(state.nextSlotAt, until) : until,
        ...(newEpisode
          ? {
              throttledAt: sentAt,
              pauseBeganAt: now,
              // The largest of what the slots, the last windows and the smoothed rate say: on a
              // busy machine each can read low, and a low reading would cut the rate for nothing.
              rateAtThrottle: Math.max(
                fleetRate(state, sentAt, now) ?? 0,
                actualRate(state, now),
                state.smoothedRate ?? 0,
              ),
              estimated: false,
              // Kept now: the history of blocks moves on while the fleet waits out the pause.
              slotsBeforePause: slotsBetween(state.blocks ?? [], now - BLOCK_HISTORY_MS, now),
              refusals: { first: Math.round(sentAt), last: Math.round(sentAt), count: 1, slots: 0 },
            }
          : {}),
        ...(ofThisEpisode && state.refusals !== undefined
          ? { refusals: withRefusal(state.refusals, sentAt, state.blocks ?? []) }
          : {}),
      };
      if (await this.#store.write(next, read?.version ?? null)) return;
    }
  }

  /** The shared state as it stands (status, progress). */
  async state(): Promise<LimiterState | null> {
    return this.#store.read();
  }

  #initialState(now: number): LimiterState {
    const { ceilingRps, initialRps } = this.settings;
    return {
      version: 0,
      nextSlotAt: now,
      pausedUntil: 0,
      pauseReason: null,
      // A tenant who knows its limit starts there; otherwise the search starts low.
      rate: ceilingRps ?? initialRps,
      phase: ceilingRps === null ? 'slow-start' : 'steady',
      throttledAt: 0,
      rateAtThrottle: 0,
      estimated: true,
      windowStartedAt: now,
      reservedInWindow: 0,
      sendRate: 0,
    };
  }

  /** The rate's next value: measured after a throttle, grown while used fully, within bounds. */
  #evolve(state: LimiterState, now: number): LimiterState {
    let next = { ...state };
    if (!next.estimated && now >= next.pausedUntil) next = this.#afterThrottle(next, now);
    if (
      next.estimated &&
      next.pausedUntil > 0 &&
      now >= next.pausedUntil &&
      next.creditFor !== next.pausedUntil
    ) {
      next = this.#withCredit(next);
    }

    const elapsed = now - next.windowStartedAt;
    if (elapsed >= this.settings.growthIntervalMs) {
      // Grow only when the fleet used (nearly) all of the rate and was not paused meanwhile:
      // a quiet fleet learns nothing about the limit.
      const used = (next.idleInWindowMs ?? 0) <= IDLE_SHARE * elapsed;
      const unpaused = next.pausedUntil <= next.windowStartedAt;
      if (
        next.phase === 'steady' &&
        next.measuredLimit !== undefined &&
        next.rate > STALE_LIMIT_FACTOR * next.measuredLimit
      ) {
        const { measuredLimit: _stale, ...rest } = next;
        next = { ...rest, phase: 'slow-start' };
      }
      if (used && unpaused && next.estimated) next.rate = this.#grown(next, now, elapsed);
      next.sendRate = next.reservedInWindow / (elapsed / 1000);
      // Smoothed over about two seconds of sending; a paused window says nothing about the rate.
      if (unpaused) {
        next.smoothedRate =
          next.smoothedRate === undefined
            ? next.sendRate
            : SMOOTHING * next.sendRate + (1 - SMOOTHING) * next.smoothedRate;
      }
      next.windowStartedAt = now;
      next.reservedInWindow = 0;
      next.idleInWindowMs = 0;
    }
    const ceiling = this.settings.ceilingRps ?? Number.POSITIVE_INFINITY;
    next.rate = Math.max(this.settings.minRps, Math.min(ceiling, next.rate));
    return next;
  }

  /**
   * The rate after a throttle episode: the limit measured from the pace &Open accepted at between
   * refusals, averaged with the earlier episodes, and held at. Alone, an instance times the answers
   * it heard (see `#episodeAnswers`); one Lambda container among many counts the fleet's slots
   * between the refusals all of them pooled (see `fleetPace`), or, when those cannot be timed,
   * measures a clear overshoot by the share it saw accepted of the fleet's rate. An episode nobody
   * can measure steps the rate down by `decrease` (AIMD).
   */
  #afterThrottle(state: LimiterState, now: number): LimiterState {
    const { decrease, holdShare } = this.settings;
    const episode = this.#episodeAnswers(state);
    // The fleet's rate then: its slots, or, on a busy machine where requests leave late and
    // bunched after their slots, this instance's own sends (the whole fleet on one machine; in
    // AWS its share of it, below the slot count).
    const base = Math.max(state.rateAtThrottle, episode?.ownRate ?? 0);
    let rate: number | null = null;
    let phase: LimiterState['phase'] = 'steady';
    let measuredLimit = state.measuredLimit;
    let searchCap: LimiterState['searchCap'];
    const pauseBeganAt = state.pauseBeganAt ?? state.pausedUntil;
    // This instance's part of what the fleet sent in the episode: 1 alone on one machine, about
    // 1/N beside N-1 other Lambda containers.
    const alone = this.#ownShare(pauseBeganAt, state) >= ALONE_SHARE;
    // What &Open accepted between refusals is its limit's worth, however the fleet sent. Alone,
    // this instance heard every answer and counts the accepted ones by when each was written;
    // one of several containers counts the fleet's slots between the refusals they all pooled.
    const pace = alone ? (episode?.acceptedPace ?? null) : fleetPace(state.refusals);
    // Alone, an instance that could not time the refusals measures nothing rather than guess from
    // a share of a few requests (it read half the limit that way).
    const clearOvershoot =
      !alone &&
      episode !== null &&
      episode.acceptedShare < MEASURABLE_SHARE &&
      episode.refused >= MIN_REFUSED;
    if (pace !== null || clearOvershoot) {
      const measured =
        pace ??
        // A container that could not time the refusals: the share it saw accepted of the rate
        // the fleet sent at.
        Math.max(0.2, episode?.acceptedShare ?? 0) * base;
      // One request more or less in a fraction of a second weighs: average the episodes.
      measuredLimit =
        measuredLimit === undefined
          ? measured
          : NEW_MEASUREMENT_WEIGHT * measured + (1 - NEW_MEASUREMENT_WEIGHT) * measuredLimit;
      rate = holdShare * measuredLimit;
    } else if (episode !== null || state.phase === 'steady' || alone) {
      // Too few requests after the refusal to measure anything (a stray one, or a fleet that sent
      // little): step down a little from the rate held. A fleet that has measured nothing yet
      // keeps searching as fast as before, so that its next episode is measured; the rate it
      // stepped down from may have been held back by a fleet that could not send faster.
      rate = Math.min(state.rate, base) * decrease;
      // Refused at or under the limit it measured (holding there, not probing above it) and not
      // while spending a credit: the measurement was high, and the fleet would climb straight
      // back to it and be refused again every few seconds (a bench run measured 106 of 100 and
      // went through eight such episodes). The measurement steps down too.
      const holdAt = measuredLimit === undefined ? null : holdShare * measuredLimit;
      if (
        measuredLimit !== undefined &&
        holdAt !== null &&
        state.rate <= holdAt * (1 + HOLD_TOLERANCE) &&
        creditRps(state, state.throttledAt) === 0
      ) {
        measuredLimit *= decrease;
      }
      if (alone && measuredLimit === undefined && this.settings.ceilingRps === null) {
        phase = 'slow-start';
        // …but for a while no faster than where &Open refused: the fleet overshoots enough there
        // to time the refusals, while a search let run on after a pause, with a backlog of rows,
        // met the limit at twice it (42 refusals in one episode).
        searchCap = {
          rps: Math.round(base * 1000) / 1000,
          until: state.pausedUntil + SEARCH_CAP_MS,
        };
      }
    } else if (now >= state.pausedUntil + ESTIMATE_GRACE_MS) {
      // Nobody could measure the first episode (too few requests per instance): halve, and keep
      // searching as before, so that the next episode is measured.
      rate = base / 2;
      phase = 'slow-start';
    }
    if (rate === null) return state; // an instance that saw the episode will measure it
    return {
      ...state,
      // Never back where &Open refused: below it by at least `decrease`.
      rate: Math.min(rate, base * decrease),
      phase,
      estimated: true,
      windowStartedAt: now,
      reservedInWindow: 0,
      ...(measuredLimit === undefined ? {} : { measuredLimit }),
      ...(searchCap === undefined ? {} : { searchCap }),
    };
  }

  /**
   * The state with the credit of the pause that just ended: &Open's bucket refilled through it, at
   * the limit the fleet measured, up to what the bucket holds. Spent on top of the rate just after
   * the pause, it is capacity used; left, it would fill the bucket to the brim, where every moment
   * the fleet sends under the limit is capacity lost, and the batch may well end with a full bucket.
   * None with a ceiling (the tenant's bound is a bound) or before the limit is measured.
   */
  #withCredit(state: LimiterState): LimiterState {
    const granted = { ...state, creditFor: state.pausedUntil };
    const limit = state.measuredLimit;
    if (limit === undefined || this.settings.ceilingRps !== null) return granted;
    const pauseS = (state.pausedUntil - (state.pausedSince ?? state.pausedUntil)) / 1000;
    const bucket = Math.min(limit * ASSUMED_BURST_S, state.burstAtMost ?? Number.POSITIVE_INFINITY);
    const slots = CREDIT_SHARE * Math.min(limit * pauseS, bucket);
    const rps = CREDIT_RATE_SHARE * limit;
    if (slots < 1) return granted;
    return {
      ...granted,
      // Rounded, as the blocks are: fewer digits, fewer bytes in the item written with each block.
      credit: {
        from: Math.round(state.pausedUntil),
        until: Math.round(state.pausedUntil + (slots / rps) * 1000),
        rps: Math.round(rps * 1000) / 1000,
      },
    };
  }

  /**
   * The rate after a growth window the fleet used fully: searching (slow start), it grows fast;
   * below the limit it measured (stepped down after a refusal it could not measure), it climbs
   * back as fast (as CUBIC's concave part does), to just that; at or above it, it probes.
   */
  #grown(state: LimiterState, now: number, elapsedMs: number): number {
    const { slowStartGrowth, holdShare } = this.settings;
    if (state.phase === 'slow-start') {
      const cap = state.searchCap;
      const grown = state.rate * slowStartGrowth;
      return cap !== undefined && now < cap.until
        ? Math.max(state.rate, Math.min(grown, cap.rps))
        : grown;
    }
    const holdAt = state.measuredLimit === undefined ? null : holdShare * state.measuredLimit;
    if (holdAt !== null && state.rate < holdAt)
      return Math.min(holdAt, state.rate * slowStartGrowth);
    return state.rate * (1 + this.#probeShare(state, now, elapsedMs));
  }

  /**
   * The share the rate grows by in a growth window of `elapsedMs`, in the steady phase: nothing
   * while the fleet holds just under the limit it measured, then a probe that speeds up the longer
   * calls keep succeeding (rate per second grows by `probeAcceleration` each second). Counted from
   * the last throttle: a maintenance window (503) in between neither lowers the rate nor restarts
   * the hold, so the fleet comes back at the rate it had and goes on probing where it was.
   */
  #probeShare(state: LimiterState, now: number, elapsedMs: number): number {
    const { holdMs, probeAcceleration } = this.settings;
    const probingS = (now - (state.throttledUntil ?? state.pausedUntil) - holdMs) / 1000;
    if (probingS <= 0) return 0;
    return probeAcceleration * probingS * (elapsedMs / 1000);
  }

  /**
   * This instance's requests of the episode (sent after the first refused one, before the pause):
   * the share &Open accepted, how fast this instance sent them, and the pace &Open accepted them at;
   * null with too few to trust.
   *
   * The pace: between two refused requests &Open's bucket was empty at both ends, so what it accepted
   * in between is exactly what its limit let through in that time, give or take one request, however
   * fast or unevenly the fleet sent (a share of the requests sent would carry the noise of a few
   * dozen requests, and of the rate they were sent at). Counted from the requests' own sending
   * instants, not from their slots.
   */
  #episodeAnswers(state: LimiterState): {
    acceptedShare: number;
    refused: number;
    ownRate: number;
    /** Requests per second; null when the refusals cannot be timed. */
    acceptedPace: number | null;
  } | null {
    const pauseBeganAt = state.pauseBeganAt ?? state.pausedUntil;
    // Answers come back in another order than their requests left: the first refusal heard may
    // have been sent after others. The pace counts from the first refused of all.
    const answeredAround = this.#recent.filter(
      (request) =>
        request.sentAt >= state.throttledAt - REFUSALS_HEARD_LATE_MS &&
        request.sentAt < pauseBeganAt &&
        request.feedback !== 'no-answer' &&
        request.feedback !== 'unavailable',
    );
    const answered = answeredAround.filter((request) => request.sentAt >= state.throttledAt);
    if (answered.length < MIN_SAMPLES) return null;
    const accepted = answered.filter((request) => request.feedback === 'accepted').length;
    const refusedAt = answeredAround
      .filter((request) => request.feedback === 'throttled')
      .map((request) => request.sentAt);
    const seconds = (pauseBeganAt - state.throttledAt) / 1000;
    return {
      acceptedShare: accepted / answered.length,
      refused: answered.length - accepted,
      ownRate: seconds > 0 ? answered.length / seconds : 0,
      // Refusals too close together, or one alone: nothing to measure. (Counting on to the last
      // request sent instead erred low, by a quarter, when the fleet stalled after the refusal.)
      acceptedPace:
        refusedAt.length < 2
          ? null
          : acceptedPace(answeredAround, Math.min(...refusedAt), Math.max(...refusedAt)),
    };
  }

  /**
   * This instance's share of the slots the fleet reserved in the second before the pause: 1 on one
   * machine (one instance sends for the whole fleet), about 1/N with N Lambda containers sending
   * alike; 1 when the state does not say (written by an earlier version).
   */
  #ownShare(pauseBeganAt: number, state: LimiterState): number {
    const fleet = state.slotsBeforePause;
    if (fleet === undefined || fleet === 0) return 1;
    const own = slotsBetween(this.#ownBlocks, pauseBeganAt - BLOCK_HISTORY_MS, pauseBeganAt);
    return Math.min(1, own / fleet);
  }

  #remember(sentAt: number, feedback: LimiterFeedback): void {
    this.#recent.push({ sentAt, feedback });
    if (this.#recent.length > RECENT_REQUESTS)
      this.#recent = this.#recent.slice(-RECENT_REQUESTS / 2);
  }

  #freshSharedState(): Promise<LimiterState | null> {
    const now = this.#clock.now();
    if (!this.#sharedRead || now - this.#sharedRead.at > SHARED_READ_REUSE_MS) {
      this.#sharedRead = { at: now, state: this.#store.read() };
    }
    return this.#sharedRead.state;
  }
}

/**
 * One invocation's share of the fleet's slots: reserved in blocks as they are needed, and given back
 * to the schedule's order when a pause voids them.
 */
export class Permits {
  readonly #limiter: FleetRateLimiter;
  readonly #clock: Clock;
  #remaining: number;
  #slots: number[] = [];
  /** When the slots in hand were asked for: a pause that began after it voids them. */
  #reservedAt = 0;
  #queue: Promise<unknown> = Promise.resolve();

  /** `demand`: the most requests this invocation can make (its batch size). */
  constructor(limiter: FleetRateLimiter, clock: Clock, demand: number) {
    this.#limiter = limiter;
    this.#clock = clock;
    this.#remaining = demand;
  }

  /**
   * Resolves when the next request may be sent (`go`, with the instant it was cleared), or says how
   * long the caller would have to wait when that is longer than a Lambda should sleep (`wait`).
   */
  acquire(): Promise<{ kind: 'go'; at: number } | { kind: 'wait'; untilMs: number }> {
    // One caller at a time takes the earliest slot: slots go out in order.
    const turn = this.#queue.then(() => this.#take());
    this.#queue = turn.catch(() => undefined);
    return turn;
  }

  async #take(): Promise<{ kind: 'go'; at: number } | { kind: 'wait'; untilMs: number }> {
    for (;;) {
      if (this.#slots.length === 0) {
        const askedAt = this.#clock.now();
        this.#slots = await this.#limiter.reserve(Math.max(1, this.#remaining));
        this.#reservedAt = askedAt;
      }
      const slot = this.#slots[0] as number;
      if (slot - this.#clock.now() > this.#limiter.settings.maxWaitMs) {
        this.#slots = [];
        return { kind: 'wait', untilMs: slot };
      }
      const verdict = await this.#limiter.waitFor(slot, this.#reservedAt);
      if (verdict === 'paused') {
        this.#slots = []; // void: a pause moved the schedule on
        continue;
      }
      this.#slots.shift();
      this.#remaining = Math.max(0, this.#remaining - 1);
      return { kind: 'go', at: this.#clock.now() };
    }
  }
}

/** The extra rate a pause's credit adds at an instant (requests per second): 0 outside it. */
function creditRps(state: LimiterState, at: number): number {
  const credit = state.credit;
  return credit !== undefined && at >= credit.from && at < credit.until ? credit.rps : 0;
}

/**
 * How much of a credit the fleet had spent by an instant: when &Open refused a request then, its
 * bucket held no more than that above the limit (at most: the fleet may have sent less).
 */
function spentCredit(credit: NonNullable<LimiterState['credit']>, at: number): number {
  return Math.max(1, Math.floor((credit.rps * (at - credit.from)) / 1000));
}

/**
 * The pace &Open accepted requests at between two instants (the first a refusal), per second: null
 * when they are too close together for one request more or less not to matter.
 */
function acceptedPace(
  answered: readonly { sentAt: number; feedback: LimiterFeedback }[],
  from: number,
  to: number,
): number | null {
  if (to - from < MIN_PACE_WINDOW_MS) return null;
  const between = answered.filter(
    (request) => request.feedback === 'accepted' && request.sentAt > from && request.sentAt <= to,
  );
  return between.length / ((to - from) / 1000);
}

/**
 * The episode's refusals with one more: the window from the first to the last widened to take it, and
 * the fleet's slots in that window counted again (the blocks still cover it: a refusal is heard
 * within a latency of being sent, and the blocks go back a second).
 */
function withRefusal(
  refusals: NonNullable<LimiterState['refusals']>,
  sentAt: number,
  blocks: NonNullable<LimiterState['blocks']>,
): NonNullable<LimiterState['refusals']> {
  const first = Math.min(refusals.first, Math.round(sentAt));
  const last = Math.max(refusals.last, Math.round(sentAt));
  const widened = first !== refusals.first || last !== refusals.last;
  return {
    first,
    last,
    count: refusals.count + 1,
    slots: widened ? slotsBetween(blocks, first, last) : refusals.slots,
  };
}

/**
 * The pace &Open accepted requests at across the fleet, per second, from the refusals every container
 * pooled: null with one refusal, or two too close together for one request more or less not to
 * matter. Counted from slots, the instants the fleet reserved, not from when each request left:
 * both ends of the window move alike by the work between the two (a sender claims its row).
 */
function fleetPace(refusals: LimiterState['refusals']): number | null {
  if (refusals === undefined || refusals.count < 2) return null;
  if (refusals.last - refusals.first < MIN_PACE_WINDOW_MS) return null;
  const accepted = Math.max(0, refusals.slots - (refusals.count - 1));
  return accepted / ((refusals.last - refusals.first) / 1000);
}

/**
 * When a request reached &Open, as near as the caller can tell: when the client wrote it, else when
 * its slot was cleared. Between the two a sender claims its row (a DynamoDB write of a few to tens of
 * milliseconds, varying), which would blur the short window the limit is measured in.
 */
export function sentAt(call: ApiCall<unknown>, clearedAt: number): number {
  return call.kind === 'response' && call.writtenAt !== undefined ? call.writtenAt : clearedAt;
}

/**
 * Where the probe's clock stands after a pause. A throttle restarts it (hold, then probe from the
 * measured limit). Maintenance says nothing of the rate, so it neither restarts the clock nor lets
 * it run: the instant it counts from moves on by the pause it adds, and after the window the fleet
 * probes exactly as it did before it.
 */
function probeClock(
  state: LimiterState,
  feedback: 'throttled' | 'unavailable',
  until: number,
  now: number,
): Pick<LimiterState, 'throttledUntil'> {
  if (feedback === 'throttled')
    return { throttledUntil: Math.max(state.throttledUntil ?? 0, until) };
  if (state.throttledUntil === undefined) return {};
  const addedPauseMs = Math.max(0, until - Math.max(now, state.pausedUntil));
  return { throttledUntil: state.throttledUntil + addedPauseMs };
}

/**
 * A block as the shared state keeps it: to the millisecond and the microsecond (fewer digits, fewer
 * bytes; a measurement of the rate does not need more).
 */
function roundedBlock(
  at: number,
  count: number,
  interval: number,
): NonNullable<LimiterState['blocks']>[number] {
  return { at: Math.round(at), count, interval: Math.round(interval * 1000) / 1000 };
}

/**
 * The blocks with a new one at the end, merged into the last when it carries straight on from it at
 * the same spacing (the schedule's usual case while the fleet is busy): the history then holds a
 * few entries per second whatever the rate and however small each invocation's blocks.
 */
function withBlock(
  blocks: NonNullable<LimiterState['blocks']>,
  block: NonNullable<LimiterState['blocks']>[number],
): NonNullable<LimiterState['blocks']> {
  const last = blocks.at(-1);
  // Within a millisecond: the instants are kept rounded to it.
  if (
    last !== undefined &&
    last.interval === block.interval &&
    Math.abs(last.at + last.count * last.interval - block.at) <= 1
  ) {
    return [...blocks.slice(0, -1), { ...last, count: last.count + block.count }];
  }
  return [...blocks, block];
}

/** The fleet's reservations that may still matter to a measurement (the last second). */
function recentBlocks(state: LimiterState, now: number): NonNullable<LimiterState['blocks']> {
  return (state.blocks ?? [])
    .filter((block) => block.at + block.count * block.interval >= now - BLOCK_HISTORY_MS)
    .slice(-(MAX_BLOCKS - 1));
}

/**
 * How fast the whole fleet sent between two instants, requests per second, counted from the slots
 * it reserved for that time: null when the interval is too short to say.
 */
function fleetRate(state: LimiterState, from: number, to: number): number | null {
  if (to - from < 50 || !state.blocks?.length) return null;
  const slots = slotsBetween(state.blocks, from, to);
  return slots > 0 ? slots / ((to - from) / 1000) : null;
}

/** How many of the blocks' slots fall between two instants (end exclusive). */
function slotsBetween(
  blocks: NonNullable<LimiterState['blocks']>,
  from: number,
  to: number,
): number {
  let slots = 0;
  for (const block of blocks) {
    const first = Math.max(0, Math.ceil((from - block.at) / block.interval));
    const end = Math.min(block.count, Math.ceil((to - block.at) / block.interval));
    slots += Math.max(0, end - first);
  }
  return slots;
}

/**
 * What the fleet was really sending, requests per second: at most the rate, less when it had fewer
 * rows than slots or could not keep enough requests in flight.
 */
function actualRate(state: LimiterState, now: number): number {
  const elapsedS = (now - state.windowStartedAt) / 1000;
  const current = elapsedS >= 0.25 ? state.reservedInWindow / elapsedS : 0;
  const measured = Math.max(current, state.sendRate);
  return measured > 0 ? Math.min(state.rate, measured) : state.rate;
}
