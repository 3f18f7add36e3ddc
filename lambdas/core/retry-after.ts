/**
 * `Retry-After` (RFC 9110 §10.2.3) as a number of milliseconds to wait.
 *
 * &Open sends it with 429 and 503 and may use either form: delta-seconds (`120`) or an HTTP-date
 * (`Wed, 21 Oct 2026 07:28:00 GMT`). A server, proxy or clock can say something silly, and a pause
 * decided from it stops the whole fleet, so the value is clamped: never negative (a date in the past
 * means "now"), never more than `capMs` (an hour by default, so `year 9999` cannot park the fleet).
 */

export const DEFAULT_RETRY_AFTER_CAP_MS = 3_600_000;

// Delta-seconds is `1*DIGIT`; a sign or a fraction is tolerated (negatives clamp, fractions round up).
const DELTA_SECONDS = /^-?(?:\d+(?:\.\d*)?|\.\d+)$/;

const DAY = '(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)';
const LONG_DAY = '(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)';
const MONTH = '(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)';
const TIME = '\\d{2}:\\d{2}:\\d{2}';

/** The preferred form, `Sun, 06 Nov 1994 08:49:37 GMT`. */
const IMF_FIXDATE = new RegExp(`^${DAY}, \\d{2} ${MONTH} \\d{4} ${TIME} GMT$`, 'i');
/** Obsolete, `Sunday, 06-Nov-94 08:49:37 GMT`. */
const RFC_850 = new RegExp(`^${LONG_DAY}, \\d{2}-${MONTH}-\\d{2} ${TIME} GMT$`, 'i');
/** Obsolete, `Sun Nov  6 08:49:37 1994` (no zone written, but always UTC). */
const ASCTIME = new RegExp(`^${DAY} ${MONTH} [ \\d]\\d ${TIME} \\d{4}$`, 'i');

/**
 * @returns milliseconds to wait (0 … capMs), or null when the value is absent or not a valid
 * `Retry-After` (the caller then applies its own backoff).
 */
export function parseRetryAfter(
  value: string | null | undefined,
  nowMs: number,
  capMs: number = DEFAULT_RETRY_AFTER_CAP_MS,
): number | null {
  if (value === null || value === undefined) return null;
  const text = value.trim();
  if (text === '') return null;

  if (DELTA_SECONDS.test(text)) {
    // Digits beyond double range become Infinity, which the clamp turns into capMs.
    return clamp(Math.ceil(Number(text)) * 1000, capMs);
  }

  const dateMs = parseHttpDate(text);
  if (dateMs === null) return null;
  // A date carries whole seconds; round the wait up so we never come back a fraction too early.
  return clamp(Math.ceil((dateMs - nowMs) / 1000) * 1000, capMs);
}

/**
 * Only the three RFC 9110 forms are accepted: `Date.parse` alone would happily read `"1"` or
 * `"soon 2"` as dates and turn garbage into a pause.
 */
function parseHttpDate(text: string): number | null {
  let candidate: string;
  if (IMF_FIXDATE.test(text) || RFC_850.test(text)) {
    candidate = text;
  } else if (ASCTIME.test(text)) {
    // asctime has no zone; Date.parse would read it as local time.
    candidate = `${text} GMT`;
  } else {
    return null;
  }
  const ms = Date.parse(candidate);
  return Number.isFinite(ms) ? ms : null;
}

function clamp(ms: number, capMs: number): number {
  if (Number.isNaN(ms) || ms <= 0) return 0;
  return Math.min(ms, capMs);
}
