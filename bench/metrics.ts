/**
 * The send benchmark's figures, computed from the sandbox's request journal alone: what &Open would
 * have seen, not what the pipeline believes it did. Pure functions, so they are tested on hand-made
 * journals.
 *
 * Definitions (issue 4, point 4):
 * - send phase: from the first `POST /gift_requests` to arrive to the last one (any answer);
 * - accepted: answered, and not 429 or 503 (the requests the limit let through: only those take a
 *   token from the sandbox's bucket, POSTs and GETs alike);
 * - utilisation of R: accepted requests in the send phase / (R × the send phase without the paused
 *   time, i.e. the maintenance windows, during which nothing can be accepted);
 * - g: accepted `GET /gift_requests/{id}` per gift created. Accepted, not all: a GET answered 429
 *   took no capacity, and counting it would inflate the lower bound of a client that hammers;
 * - lower bound of the end-to-end time: N·(1+g)/R, plus the paused time (nobody sends through a
 *   maintenance window).
 */

/** What the figures need of one journaled request (the sandbox's `JournalRequest` fits). */
export interface JournaledRequest {
  /** Arrival, by the sandbox's clock (ms). */
  at: number;
  method: string;
  path: string;
  /** Null when no answer was written. */
  status: number | null;
}

/** What the figures need of the sandbox's `Journal`. */
export interface JournalLike {
  requests: readonly JournaledRequest[];
  gifts: readonly unknown[];
  earlyRequests: readonly unknown[];
}

/** Two instants on the journal's clock, end exclusive. */
export interface Interval {
  start: number;
  end: number;
}

export interface Measurement {
  journal: JournalLike;
  /** Rows in the file this journal is of (a sample, for the naive loop). */
  rows: number;
  /** The sandbox's limit, requests per second. */
  rps: number;
  /** From the upload (or the start of the loop) until the results were written. */
  endToEndMs: number;
  /** Maintenance windows during which the sandbox answered everything 503. */
  paused?: readonly Interval[];
}

export interface SendFigures {
  rows: number;
  rps: number;
  requests: number;
  posts: number;
  gets: number;
  acceptedGets: number;
  giftsCreated: number;
  answered429: number;
  answered503: number;
  sendPhaseMs: number | null;
  /** The part of the send phase inside maintenance windows. */
  pausedMs: number;
  acceptedInSendPhase: number;
  /** Null when the send phase has no duration to divide by (fewer than two POSTs). */
  utilisation: number | null;
  share429: number;
  earlyRequests: number;
  g: number;
  endToEndMs: number;
  lowerBoundMs: number;
  /** Set when the figures were scaled from a sample of rows. */
  extrapolatedFrom?: { rows: number; endToEndMs: number; sendPhaseMs: number | null };
}

export const TARGETS = {
  minUtilisation: 0.95,
  max429Share: 0.01,
  maxEarlyRequests: 0,
  endToEndFactor: 1.1,
  endToEndSlackMs: 30_000,
  minSpeedUp: 10,
} as const;

export interface Verdicts {
  utilisation: boolean | null;
  share429: boolean;
  earlyRequests: boolean;
  endToEnd: boolean;
  speedUp: boolean | null;
}

const GIFT_REQUESTS = '/gift_requests';

export function isGiftPost(request: JournaledRequest): boolean {
  return request.method === 'POST' && request.path === GIFT_REQUESTS;
}

export function isGiftGet(request: JournaledRequest): boolean {
  return request.method === 'GET' && request.path.startsWith(`${GIFT_REQUESTS}/`);
}

export function isAccepted(request: JournaledRequest): boolean {
  return request.status !== null && request.status !== 429 && request.status !== 503;
}

/** From the first POST's arrival to the last POST's arrival; null without any POST. */
export function sendPhase(requests: readonly JournaledRequest[]): Interval | null {
  let start = Number.POSITIVE_INFINITY;
  let end = Number.NEGATIVE_INFINITY;
  for (const request of requests) {
    if (!isGiftPost(request)) continue;
    start = Math.min(start, request.at);
    end = Math.max(end, request.at);
  }
  return start === Number.POSITIVE_INFINITY ? null : { start, end };
}

/** How long two intervals share. */
export function overlapMs(a: Interval, b: Interval): number {
  return Math.max(0, Math.min(a.end, b.end) - Math.max(a.start, b.start));
}

export function computeFigures(measurement: Measurement): SendFigures {
  const { journal, rows, rps, endToEndMs } = measurement;
  const requests = journal.requests;
  const phase = sendPhase(requests);
  const paused = measurement.paused ?? [];
  const pausedMs =
    phase === null ? 0 : paused.reduce((sum, window) => sum + overlapMs(phase, window), 0);

  let posts = 0;
  let gets = 0;
  let acceptedGets = 0;
  let answered429 = 0;
  let answered503 = 0;
  let acceptedInSendPhase = 0;
  for (const request of requests) {
    if (isGiftPost(request)) posts += 1;
    if (isGiftGet(request)) {
      gets += 1;
      if (isAccepted(request)) acceptedGets += 1;
    }
    if (request.status === 429) answered429 += 1;
    if (request.status === 503) answered503 += 1;
    // Both ends inclusive: the first and the last POST belong to the phase they delimit.
    if (phase !== null && request.at >= phase.start && request.at <= phase.end) {
      if (isAccepted(request)) acceptedInSendPhase += 1;
    }
  }

  const sendPhaseMs = phase === null ? null : phase.end - phase.start;
  const activeMs = sendPhaseMs === null ? 0 : sendPhaseMs - pausedMs;
  const giftsCreated = journal.gifts.length;
  const g = giftsCreated === 0 ? 0 : acceptedGets / giftsCreated;
  return {
    rows,
    rps,
    requests: requests.length,
    posts,
    gets,
    acceptedGets,
    giftsCreated,
    answered429,
    answered503,
    sendPhaseMs,
    pausedMs,
    acceptedInSendPhase,
    utilisation: activeMs > 0 ? acceptedInSendPhase / ((rps * activeMs) / 1000) : null,
    share429: requests.length === 0 ? 0 : answered429 / requests.length,
    earlyRequests: journal.earlyRequests.length,
    g,
    endToEndMs,
    lowerBoundMs: lowerBoundMs(rows, g, rps, pausedMs),
  };
}

/** N·(1+g)/R, in ms, plus the time nothing could be sent at all. */
export function lowerBoundMs(rows: number, g: number, rps: number, pausedMs = 0): number {
  return (rows * (1 + g) * 1000) / rps + pausedMs;
}

/**
 * Scales the figures of a sample linearly to `rows`: the naive loop is sequential, so each row
 * costs it about the same time whatever the file's size. Ratios (utilisation, shares, g) stay.
 */
export function extrapolate(figures: SendFigures, rows: number): SendFigures {
  if (figures.rows === 0) throw new RangeError('cannot extrapolate from a sample of 0 rows');
  const factor = rows / figures.rows;
  return {
    ...figures,
    rows,
    sendPhaseMs: figures.sendPhaseMs === null ? null : figures.sendPhaseMs * factor,
    endToEndMs: figures.endToEndMs * factor,
    lowerBoundMs: lowerBoundMs(rows, figures.g, figures.rps, figures.pausedMs),
    extrapolatedFrom: {
      rows: figures.rows,
      endToEndMs: figures.endToEndMs,
      sendPhaseMs: figures.sendPhaseMs,
    },
  };
}

/** How many times faster than the naive loop (both end-to-end, for the same number of rows). */
export function speedUp(naiveEndToEndMs: number, endToEndMs: number): number {
  return endToEndMs > 0 ? naiveEndToEndMs / endToEndMs : Number.POSITIVE_INFINITY;
}

/** The end-to-end time the target allows: 1.1 × the lower bound + 30 s. */
export function endToEndAllowanceMs(figures: SendFigures): number {
  return TARGETS.endToEndFactor * figures.lowerBoundMs + TARGETS.endToEndSlackMs;
}

/**
 * The figures against the targets. Early requests: "sent before a Retry-After had passed" counts from
 * when the answer was received (RFC 9110), so what is judged is `clientEarlyRequests`, what the
 * pipeline's client wrote after the fleet had heard one; the sandbox's count (`figures`) also holds
 * requests already on their way when the answer left it, and stands in only when the client's count
 * is unknown (null).
 */
export function judge(
  figures: SendFigures,
  speedUpOverNaive: number | null,
  clientEarlyRequests: number | null = null,
): Verdicts {
  return {
    utilisation:
      figures.utilisation === null ? null : figures.utilisation >= TARGETS.minUtilisation,
    share429: figures.share429 <= TARGETS.max429Share,
    earlyRequests: (clientEarlyRequests ?? figures.earlyRequests) <= TARGETS.maxEarlyRequests,
    endToEnd: figures.endToEndMs <= endToEndAllowanceMs(figures),
    speedUp: speedUpOverNaive === null ? null : speedUpOverNaive >= TARGETS.minSpeedUp,
  };
}
