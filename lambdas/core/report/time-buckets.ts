/**
 * Counts events per time bucket when the span is not known in advance (rows stream past in input
 * order, not in time order): buckets start narrow and widen, merging, whenever the span needs more
 * than `maxBuckets` of them. Memory is bounded by `maxBuckets`, whatever the number of events.
 *
 * Each width is a whole multiple of the one before, so merging is exact, and buckets are aligned
 * on the epoch (UTC), so their edges fall on round clock times.
 */
const SECOND = 1_000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/**
 * From one second up: narrower buckets turn single sends into spikes (one row in 100 ms reads as
 * 10 per second), which says more about timing noise than about the rate.
 */
export const BUCKET_WIDTHS_MS: readonly number[] = [
  SECOND,
  2 * SECOND,
  10 * SECOND,
  30 * SECOND,
  MINUTE,
  2 * MINUTE,
  10 * MINUTE,
  30 * MINUTE,
  HOUR,
  2 * HOUR,
  6 * HOUR,
  12 * HOUR,
  DAY,
  7 * DAY,
  28 * DAY,
];

/** Enough bars to see a shape, few enough that each is still wide on a printed page. */
export const DEFAULT_MAX_BUCKETS = 90;

export class TimeBuckets<Key extends string> {
  readonly #keys: readonly Key[];
  readonly #maxBuckets: number;
  #widthIndex = 0;
  /** Bucket index (instant / width) → counts by key. */
  #counts = new Map<number, Record<Key, number>>();
  #first = Number.POSITIVE_INFINITY;
  #last = Number.NEGATIVE_INFINITY;

  constructor(keys: readonly Key[], maxBuckets = DEFAULT_MAX_BUCKETS) {
    this.#keys = keys;
    this.#maxBuckets = maxBuckets;
  }

  get widthMs(): number {
    return BUCKET_WIDTHS_MS[this.#widthIndex] as number;
  }

  add(instantMs: number, key: Key): void {
    this.#first = Math.min(this.#first, instantMs);
    this.#last = Math.max(this.#last, instantMs);
    while (this.#span() > this.#maxBuckets && this.#widthIndex < BUCKET_WIDTHS_MS.length - 1) {
      this.#widen();
    }
    const index = Math.floor(instantMs / this.widthMs);
    const counts = this.#counts.get(index) ?? this.#zero();
    counts[key] += 1;
    this.#counts.set(index, counts);
  }

  /** Every bucket from the first event's to the last's, empty ones included, in time order. */
  buckets(): { startMs: number; counts: Record<Key, number> }[] {
    if (this.#counts.size === 0) return [];
    const width = this.widthMs;
    const from = Math.floor(this.#first / width);
    const to = Math.floor(this.#last / width);
    const buckets = [];
    for (let index = from; index <= to; index += 1) {
      buckets.push({ startMs: index * width, counts: this.#counts.get(index) ?? this.#zero() });
    }
    return buckets;
  }

  #span(): number {
    return Math.floor(this.#last / this.widthMs) - Math.floor(this.#first / this.widthMs) + 1;
  }

  #widen(): void {
    const factor = (BUCKET_WIDTHS_MS[this.#widthIndex + 1] as number) / this.widthMs;
    this.#widthIndex += 1;
    const merged = new Map<number, Record<Key, number>>();
    for (const [index, counts] of this.#counts) {
      const wider = Math.floor(index / factor);
      const into = merged.get(wider) ?? this.#zero();
      for (const key of this.#keys) into[key] += counts[key];
      merged.set(wider, into);
    }
    this.#counts = merged;
  }

  #zero(): Record<Key, number> {
    return Object.fromEntries(this.#keys.map((key) => [key, 0])) as Record<Key, number>;
  }
}
