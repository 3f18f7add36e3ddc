/**
 * The fleet's one shared view of &Open's rate limit, kept in the ledger table so every sender and the
 * poller, in every Lambda container (or local worker), draw from the same budget.
 */
export interface LimiterState {
  /** Optimistic concurrency: every write names the version it read. */
  version: number;
  /** GCRA: the instant (ms) from which the next request slot of the fleet is free. */
  nextSlotAt: number;
  /** No request before this instant (ms): the latest Retry-After &Open gave. */
  pausedUntil: number;
  /** Why the fleet is paused, for status and progress. */
  pauseReason: string | null;
  /** The fleet's send rate, requests per second, shared by POSTs and GETs. */
  rate: number;
  /** `slow-start`: no throttle seen yet, the rate doubles; `steady`: probing gently near the limit. */
  phase: 'slow-start' | 'steady';
  /** When the current throttle episode began (ms), 0 before any. */
  throttledAt: number;
  /** The fleet's send rate during that episode, from the slots it had reserved (see `blocks`). */
  rateAtThrottle: number;
  /**
   * When the fleet heard that episode's first refusal and paused (ms): requests sent between
   * `throttledAt` and this instant measure the limit. Absent in a state an earlier version wrote.
   */
  pauseBeganAt?: number;
  /**
   * How many slots the whole fleet reserved in the second before that episode's pause: each
   * instance compares its own to it, to know what part of the episode it saw. Absent before.
   */
  slotsBeforePause?: number;
  /**
   * That episode's refused requests as the whole fleet heard them: when the first and the last were
   * sent (ms), how many there were, and how many slots the fleet had reserved from the first to the
   * last (counted while its blocks still covered them). Every container adds the refusals it hears,
   * so the limit is measured from all of them however many containers sent: between two refusals
   * &Open accepted `slots - (count - 1)` requests, its limit's worth. Absent before.
   */
  refusals?: { first: number; last: number; count: number; slots: number };
  /**
   * The slots reserved in the last second, one entry per reserved block (first slot and spacing in
   * ms, rounded; count): how fast the whole fleet really sent, which no single instance sees.
   */
  blocks?: { at: number; count: number; interval: number }[];
  /**
   * When the latest throttle's (429) pause ends (ms): the probe above the measured limit counts from
   * it. A maintenance pause (503) moves it on by the time it adds, so the probe's clock stops through
   * a window instead of restarting. Absent before any throttle, and in a state an earlier version
   * wrote (`pausedUntil` stands in).
   */
  throttledUntil?: number;
  /**
   * When the current pause began (ms): &Open's bucket refills from then until it ends. Absent in a
   * state an earlier version wrote.
   */
  pausedSince?: number;
  /**
   * What &Open's bucket refilled with during the last pause, spent on top of the rate after it: `rps`
   * more from `from` until `until`. Absent before the first pause, and with a ceiling.
   */
  credit?: { from: number; until: number; rps: number };
  /** The pause (its `pausedUntil`) the credit was granted for: one credit per pause. */
  creditFor?: number;
  /**
   * The most requests &Open's bucket was found to hold: the excess it accepted in a credit before
   * it refused one. Absent while no credit was refused (a second of the limit is assumed).
   */
  burstAtMost?: number;
  /**
   * After a throttle episode nobody could measure, the search for the limit goes no faster than
   * the fleet was refused at (`rps`) until `until` (ms). Absent before.
   */
  searchCap?: { rps: number; until: number };
  /** The limit measured at the throttle episodes so far, averaged (requests/s); absent: none yet. */
  measuredLimit?: number;
  /** True once the rate was re-estimated for that episode. */
  estimated: boolean;
  /** The growth window: when it started (ms) and how many requests the fleet reserved in it. */
  windowStartedAt: number;
  reservedInWindow: number;
  /**
   * How long in that window the schedule stood empty (ms): slots that passed with no request to
   * take them. Absent in a state an earlier version wrote (taken as 0).
   */
  idleInWindowMs?: number;
  /** Requests per second the fleet actually reserved in the last closed window (≤ rate). */
  sendRate: number;
  /** The same, smoothed over the last seconds of sending (pauses left out); absent before. */
  smoothedRate?: number;
}

export interface LimiterStore {
  /** The current state (strongly consistent), or null before the first write. */
  read(): Promise<LimiterState | null>;
  /** Compare-and-set: writes only when the stored version is `expectedVersion` (null: none yet). */
  write(state: LimiterState, expectedVersion: number | null): Promise<boolean>;
}
