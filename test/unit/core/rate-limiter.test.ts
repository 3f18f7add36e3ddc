import { describe, expect, it } from 'vitest';
import {
  DEFAULT_RATE_LIMIT_SETTINGS,
  FleetRateLimiter,
  Permits,
  type RateLimitSettings,
  sentAt,
} from '../../../lambdas/core/rate-limiter.ts';
import type { LimiterState } from '../../../lambdas/ports/rate-limit.ts';
import { dynamoDbItemBytes } from '../../support/dynamodb-item-size.ts';
import { InMemoryLimiterStore, simulateFleet, VirtualTime } from '../../support/simulated-fleet.ts';

const FLEET = { latencyMs: { min: 150, max: 250 }, senders: 5, batch: 10 } as const;

/** A limiter on virtual time with a store of its own: how most of these tests begin. */
function limiterOnVirtualTime(settings: Partial<RateLimitSettings> = {}) {
  const time = new VirtualTime();
  const clock = { now: () => time.now };
  const store = new InMemoryLimiterStore();
  const limiter = new FleetRateLimiter({ store, clock, sleep: time.sleep, settings });
  return { time, clock, store, limiter };
}

/** The shared state of a fleet that measured 100 requests/s at a throttle whose pause ended at 0. */
function measuredAt100(overrides: Partial<LimiterState> = {}): LimiterState {
  return {
    version: 1,
    nextSlotAt: 0,
    pausedUntil: 0,
    throttledUntil: 0,
    pauseReason: null,
    rate: 100,
    phase: 'steady',
    throttledAt: -1_500,
    pauseBeganAt: -1_300,
    rateAtThrottle: 130,
    estimated: true,
    measuredLimit: 100,
    windowStartedAt: 0,
    reservedInWindow: 0,
    sendRate: 0,
    ...overrides,
  };
}

/**
 * The fleet takes every slot it reserves until `untilMs`; `onReserved` runs after each block.
 * Returns the slots' instants.
 */
async function useEverySlot(
  time: VirtualTime,
  limiter: FleetRateLimiter,
  untilMs: number,
  onReserved: () => void = () => undefined,
): Promise<number[]> {
  const taken: number[] = [];
  await time.run(
    (async () => {
      while (time.now < untilMs) {
        const slots = await limiter.reserve(1_000);
        taken.push(...slots);
        onReserved();
        await time.sleep((slots.at(-1) ?? time.now) - time.now + 1);
      }
    })(),
  );
  return taken;
}

/** How many of the instants fall between two others (end exclusive). */
function countBetween(instants: readonly number[], from: number, to: number): number {
  return instants.filter((at) => at >= from && at < to).length;
}

/**
 * A fleet sending bunches of four requests in the same millisecond every 30 ms (133/s) for a
 * second into a token bucket of 80 requests/s holding 10, answered after 150–250 ms (in another
 * order than they left); once it hears a refusal nothing more leaves. Plays the answers to the
 * limiter as they arrive, and says when the pause they began ends.
 */
async function refusedByABucketOf80(time: VirtualTime, limiter: FleetRateLimiter) {
  const limit = 80;
  let tokens = 10;
  let refilledAt = 0;
  const sent: { sentAt: number; refused: boolean; answerAt: number }[] = [];
  for (let at = 0; at < 1_000; at += 30) {
    for (let bunch = 0; bunch < 4; bunch += 1) {
      tokens = Math.min(10, tokens + ((at - refilledAt) / 1000) * limit);
      refilledAt = at;
      const refused = tokens < 1;
      if (!refused) tokens -= 1;
      sent.push({ sentAt: at, refused, answerAt: at + 150 + ((sent.length * 37) % 100) });
    }
  }
  const firstRefusalHeard = Math.min(...sent.filter((r) => r.refused).map((r) => r.answerAt));
  const answers = sent
    .filter((request) => request.sentAt < firstRefusalHeard)
    .sort((a, b) => a.answerAt - b.answerAt);
  for (const answer of answers) {
    await time.run(time.sleep(answer.answerAt - time.now));
    await limiter.answered(
      answer.sentAt,
      answer.refused ? 'throttled' : 'accepted',
      answer.refused ? 1_000 : null,
    );
  }
  return { limit, pausedUntil: limiter.pausedUntil };
}

describe('FleetRateLimiter, in virtual time', () => {
  it('never lets the fleet exceed a configured ceiling, so a tenant who knows its limit sees no 429', async () => {
    // Act
    const report = await simulateFleet({
      ...FLEET,
      requests: 1_000,
      limitRps: 50,
      settings: { ceilingRps: 50 },
    });

    // Assess
    expect(report.throttled).toBe(0);
    expect(report.accepted).toBe(1_000);
    expect(report.durationMs).toBeGreaterThanOrEqual(((1_000 - 50) / 50) * 1000);
  });

  it('learns a limit nobody told it: most of it used, few 429s, nothing sent during a Retry-After', async () => {
    // Act
    const report = await simulateFleet({ ...FLEET, requests: 6_000, limitRps: 100, seed: 7 });

    // Assess
    expect(report.early).toBe(0);
    expect(report.throttled / report.sent).toBeLessThan(0.01);
    expect(report.utilisation).toBeGreaterThan(0.95);
    expect(report.finalRate).toBeGreaterThan(90);
  });

  it('measures the limit at its first throttle from the real rate of the whole fleet, within a few percent', async () => {
    // Act: two limits, the fleet told neither; a short send, so most of it is the first episode.
    const reports = await Promise.all([
      simulateFleet({ ...FLEET, requests: 1_500, limitRps: 100, seed: 7 }),
      simulateFleet({ ...FLEET, requests: 800, limitRps: 50, seed: 3 }),
    ]);

    // Assess
    const [at100, at50] = reports.map((report) => report.measuredLimit ?? 0);
    expect(at100).toBeGreaterThan(90);
    expect(at100).toBeLessThan(108);
    expect(at50).toBeGreaterThan(45);
    expect(at50).toBeLessThan(54);
  });

  it('learns the limit as well with five Lambda containers, each hearing a fifth of the answers', async () => {
    // Act: five limiter instances (containers) share one state, a sender each.
    const report = await simulateFleet({
      ...FLEET,
      instances: 5,
      requests: 6_000,
      limitRps: 100,
      seed: 7,
    });

    // Assess: the refusals they pool time the limit (alone, each measured 73–124 from its share).
    expect(report.measuredLimit).toBeGreaterThan(90);
    expect(report.measuredLimit).toBeLessThan(110);
    expect(report.utilisation).toBeGreaterThan(0.94);
    expect(report.throttled / report.sent).toBeLessThan(0.01);
    // A container learns of a pause another heard at its next read of the shared state (reads
    // are shared for 10 ms): the only window in which one can send early.
    expect(report.early).toBeLessThanOrEqual(3);
  });

  it('goes through few throttle episodes, each of which pauses the fleet for a Retry-After', async () => {
    // Act: two minutes at R = 100.
    const report = await simulateFleet({ ...FLEET, requests: 12_000, limitRps: 100, seed: 7 });

    // Assess: the first, then about one every 10 s while it probes for a higher limit, each with
    // a few refusals. (Before the fleet spent the refill after a pause, its probe had to empty a
    // full bucket first: one episode every 20 s, and as many refusals in all, 37 against 28.)
    expect(report.episodes).toBeGreaterThanOrEqual(1);
    expect(report.episodes).toBeLessThanOrEqual(12);
    expect(report.throttled / report.sent).toBeLessThan(0.006);
    expect(report.early).toBe(0);
  });

  it('holds at the limit it measured, then probes above it, faster the longer calls succeed', async () => {
    // Prepare: a fleet that measured 100 requests/s at a throttle whose pause ended at 0.
    const { time, store, limiter } = limiterOnVirtualTime();
    const { holdShare, holdMs } = limiter.settings;
    store.state = measuredAt100({ rate: holdShare * 100 });

    // Act: the fleet uses every slot for 9 s past the hold (no throttle: &Open's limit rose).
    const rateAt: Record<number, number> = {};
    await useEverySlot(time, limiter, holdMs + 9_000, () => {
      rateAt[Math.floor(time.now / 1000)] ??= store.state?.rate ?? 0;
    });

    // Assess: flat through the hold, then growing, each second by more than the one before.
    const held = Math.floor(holdMs / 1000);
    const rate = (secondsAfterHold: number) => rateAt[held + secondsAfterHold] ?? Number.NaN;
    expect(rate(-1)).toBeCloseTo(holdShare * 100, 5);
    expect(rate(3)).toBeGreaterThan(rate(1));
    expect(rate(8) - rate(6)).toBeGreaterThan(rate(3) - rate(1));
    expect(rate(8)).toBeGreaterThan(103);
  });

  it('comes back from a maintenance window at the rate it had, and goes on probing where it was', async () => {
    // Prepare: two twin fleets that measured 100 requests/s at a throttle whose pause ended at 0,
    // and have used every slot since: 5 s past their hold both are probing above that limit.
    const fleet = () => {
      const { time, store, limiter } = limiterOnVirtualTime();
      store.state = measuredAt100({ rate: limiter.settings.holdShare * 100 });
      // The rate, and since when it holds: growth windows close when a block is reserved, at
      // instants that differ between the twins, so growth is compared per second between them.
      const rateAfterSendingUntil = async (end: number) => {
        await useEverySlot(time, limiter, end);
        return { rate: store.state?.rate ?? 0, since: store.state?.windowStartedAt ?? 0 };
      };
      return { time, limiter, rateAfterSendingUntil };
    };
    const maintained = fleet();
    const twin = fleet();
    const { holdMs, holdShare } = maintained.limiter.settings;
    const probing = holdMs + 5_000;
    const before = await maintained.rateAfterSendingUntil(probing);
    await twin.rateAfterSendingUntil(probing);

    // Act: one meets a 503 with Retry-After 5 s, then sends two more seconds; the twin just sends.
    await maintained.limiter.answered(maintained.time.now - 200, 'unavailable', 5_000);
    const back = await maintained.rateAfterSendingUntil(probing + 5_200);
    const afterWindow = await maintained.rateAfterSendingUntil(probing + 7_200);
    const twinFrom = await twin.rateAfterSendingUntil(probing + 200);
    const twinTo = await twin.rateAfterSendingUntil(probing + 2_200);

    // Assess: not lowered, not held for `holdMs` as after a throttle, and probing as fast as the
    // twin that met no window (the window's five seconds did not count as probing time).
    expect(before.rate).toBeGreaterThan(holdShare * 100);
    expect(back.rate).toBeGreaterThanOrEqual(before.rate);
    const growthPerSecond = (from: typeof back, to: typeof back) =>
      Math.log(to.rate / from.rate) / ((to.since - from.since) / 1000);
    const growth = growthPerSecond(back, afterWindow);
    const twinGrowth = growthPerSecond(twinFrom, twinTo);
    expect(growth).toBeGreaterThan(0.9 * twinGrowth);
    expect(growth).toBeLessThan(1.1 * twinGrowth);
  });

  it('takes one stray 429 read late on a busy machine as a small step down, not as a measurement', async () => {
    // Prepare: a fleet sending 100 requests/s that has reserved no slots lately (its requests
    // leave late and bunched), and reads a 429 two seconds after the request went out.
    const { time, store, limiter } = limiterOnVirtualTime();
    store.state = {
      version: 1,
      nextSlotAt: 0,
      pausedUntil: 0,
      pauseReason: null,
      rate: 100,
      phase: 'steady',
      throttledAt: 0,
      rateAtThrottle: 0,
      estimated: true,
      windowStartedAt: 0,
      reservedInWindow: 0,
      sendRate: 100,
      smoothedRate: 100,
    };
    await time.run(time.sleep(10_000));
    for (let request = 0; request < 9; request += 1) {
      await limiter.answered(8_000 + request * 10, 'accepted');
    }

    // Act: the refusal, then the first reservation after its pause.
    await limiter.answered(8_000, 'throttled', 1_000);
    await time.run(time.sleep(1_500));
    await limiter.reserve(1);

    // Assess
    expect(store.state?.rate).toBeCloseTo(100 * limiter.settings.decrease, 5);
  });

  it('lowers the limit it measured when a lone 429 comes while it holds there, not while it probes above it', async () => {
    // Prepare: two fleets that measured 100 requests/s; one holds there, one probes at 104.
    const refusedAt = async (rate: number) => {
      const { time, store, limiter } = limiterOnVirtualTime();
      store.state = measuredAt100({ rate, smoothedRate: rate });
      await time.run(time.sleep(5_000));

      // Act: one refusal, too lonely to time; the pause passes and the fleet books its next slot.
      await limiter.answered(4_800, 'throttled', 1_000);
      await time.run(time.sleep(1_100));
      await limiter.reserve(1);
      return store.state?.measuredLimit;
    };

    // Assess: holding, the measurement was high and steps down as the rate does; probing, the
    // probe found the limit above the measurement, which stands.
    expect(await refusedAt(100)).toBeCloseTo(100 * DEFAULT_RATE_LIMIT_SETTINGS.decrease, 5);
    expect(await refusedAt(104)).toBe(100);
  });

  it('waits out a maintenance window without sending into it, and does not lower the rate for it', async () => {
    // Act
    const report = await simulateFleet({
      ...FLEET,
      requests: 3_000,
      limitRps: 100,
      settings: { ceilingRps: 80 },
      maintenance: { startMs: 10_000, durationMs: 8_000 },
    });

    // Assess
    expect(report.early).toBe(0);
    expect(report.accepted).toBe(3_000);
    // Only requests already in flight when the window opened meet it.
    expect(report.unavailable).toBeLessThan(30);
    expect(report.finalRate).toBe(80);
  });

  it('pauses every instance of the fleet on a 429 seen by one', async () => {
    // Prepare: two containers sharing one state.
    const time = new VirtualTime();
    const clock = { now: () => time.now };
    const store = new InMemoryLimiterStore();
    const a = new FleetRateLimiter({
      store,
      clock,
      sleep: time.sleep,
      settings: { ceilingRps: 10 },
    });
    const b = new FleetRateLimiter({
      store,
      clock,
      sleep: time.sleep,
      settings: { ceilingRps: 10 },
    });
    const [slotA] = await a.reserve(1);
    const [slotB] = await b.reserve(1);

    // Act
    const checks: (string | undefined)[] = [];
    await time.run(
      (async () => {
        checks.push(await a.waitFor(slotA ?? 0));
        await a.answered(time.now, 'throttled', 3_000);
        checks.push(await b.waitFor(slotB ?? 0));
      })(),
    );

    // Assess
    expect(checks).toEqual(['go', 'paused']);
    expect(b.pausedUntil).toBe(3_000);
    let next: number | undefined;
    await time.run(
      (async () => {
        [next] = await b.reserve(1);
      })(),
    );
    expect(next).toBeGreaterThanOrEqual(3_000);
  });

  it('voids the slots reserved before a pause, even those after its end, here and in other containers', async () => {
    // Prepare: two containers; the fleet has reserved two seconds of slots at 10 requests/s.
    const time = new VirtualTime();
    const clock = { now: () => time.now };
    const store = new InMemoryLimiterStore();
    const settings = { ceilingRps: 10 };
    const here = new FleetRateLimiter({ store, clock, sleep: time.sleep, settings });
    const elsewhere = new FleetRateLimiter({ store, clock, sleep: time.sleep, settings });
    const reserved: number[] = [];
    for (let block = 0; block < 20; block += 1) reserved.push(...(await here.reserve(1)));
    await time.run(time.sleep(5));

    // Act: a 429 pauses the fleet until 1,005 ms; then each asks about a slot after that.
    await here.answered(0, 'throttled', 1_000);
    const verdicts = () =>
      Promise.all([
        here.waitFor(1_500, 0),
        elsewhere.waitFor(1_500, 0),
        here.waitFor(1_600, 1_200),
        elsewhere.waitFor(1_600, 1_200),
      ]);
    let answers: string[] = [];
    await time.run(
      (async () => {
        answers = await verdicts();
      })(),
    );

    // Assess: reserved before the pause (at the rate &Open refused): void; after: good. The
    // schedule starts again at the pause's end, not after the void slots.
    expect(reserved.at(-1)).toBeGreaterThan(1_500);
    expect(answers).toEqual(['paused', 'paused', 'go', 'go']);
    expect(store.state?.nextSlotAt).toBe(1_005);
  });

  it('reads the answers that have already arrived before its last look at the pause', async () => {
    // Prepare: a 429 that has arrived but not yet been read when a request is about to leave.
    const clock = { now: () => 5_000 };
    let unread: (() => Promise<void>) | null = null;
    const limiter = new FleetRateLimiter({
      store: new InMemoryLimiterStore(),
      clock,
      yieldToAnswers: async () => {
        const read = unread;
        unread = null;
        await read?.();
      },
      settings: { ceilingRps: 10 },
    });
    unread = () => limiter.answered(4_800, 'throttled', 1_000);

    // Act
    const clear = await limiter.clearToSend();

    // Assess
    expect(clear).toBe(false);
    expect(limiter.pausedUntil).toBe(6_000);
  });

  it('after a busy turn of the event loop, reads what arrived during it before its last look', async () => {
    // Prepare: the first turn takes 15 ms (other answers being read); a 429 arrives during it
    // and is only read on the next turn.
    let now = 5_000;
    const turns: (() => Promise<void>)[] = [];
    const limiter = new FleetRateLimiter({
      store: new InMemoryLimiterStore(),
      clock: { now: () => now },
      yieldToAnswers: async () => {
        await turns.shift()?.();
      },
      settings: { ceilingRps: 10 },
    });
    turns.push(
      async () => {
        now += 15;
      },
      () => limiter.answered(4_900, 'throttled', 1_000),
    );

    // Act
    const clear = await limiter.clearToSend();

    // Assess
    expect(clear).toBe(false);
    expect(limiter.pausedUntil).toBe(6_015);
  });

  it('after a quick turn, looks at the pause without waiting for another', async () => {
    // Prepare: a turn that takes no time; anything read later would come after the request left.
    let turnsTaken = 0;
    const limiter = new FleetRateLimiter({
      store: new InMemoryLimiterStore(),
      clock: { now: () => 5_000 },
      yieldToAnswers: async () => {
        turnsTaken += 1;
      },
      settings: { ceilingRps: 10 },
    });

    // Act
    const clear = await limiter.clearToSend();

    // Assess
    expect(clear).toBe(true);
    expect(turnsTaken).toBe(1);
  });

  it('gives a row back instead of sleeping past what an invocation should wait', async () => {
    // Prepare
    const time = new VirtualTime();
    const clock = { now: () => time.now };
    const limiter = new FleetRateLimiter({
      store: new InMemoryLimiterStore(),
      clock,
      sleep: time.sleep,
      settings: { ceilingRps: 10, maxWaitMs: 5_000 },
    });
    await limiter.answered(0, 'unavailable', 120_000);

    // Act
    const permit = await new Permits(limiter, clock, 1).acquire();

    // Assess
    expect(permit).toEqual({ kind: 'wait', untilMs: 120_000 });
  });

  it('does not raise the rate while the fleet is not using it', async () => {
    // Prepare
    const { time, store, limiter } = limiterOnVirtualTime();

    // Act: one request a second for a minute, far below any rate.
    await time.run(
      (async () => {
        for (let second = 0; second < 60; second += 1) {
          await limiter.reserve(1);
          await time.sleep(1_000);
        }
      })(),
    );

    // Assess
    expect(store.state?.rate).toBe(limiter.settings.initialRps);
  });
  it('counts a window as used when every slot in it was taken, even if booked in the window before', async () => {
    // Prepare: a fleet in slow start whose senders booked slots 300 ms ahead in the last window:
    // the window now closing saw few bookings, yet none of its slots went unused.
    const { time, store, limiter } = limiterOnVirtualTime();
    const { initialRps, slowStartGrowth, growthIntervalMs } = limiter.settings;
    await time.run(time.sleep(growthIntervalMs + 10));
    store.state = {
      version: 1,
      nextSlotAt: growthIntervalMs + 300,
      pausedUntil: 0,
      pauseReason: null,
      rate: initialRps,
      phase: 'slow-start',
      throttledAt: 0,
      rateAtThrottle: 0,
      estimated: true,
      windowStartedAt: 0,
      reservedInWindow: 2,
      sendRate: initialRps,
    };

    // Act
    await limiter.reserve(1);

    // Assess
    expect(store.state?.rate).toBeCloseTo(initialRps * slowStartGrowth, 5);
  });

  it('measures the limit from what &Open accepted between refusals, however unevenly the fleet sent', async () => {
    // Act: a bucket of 80/s refuses a fleet sending unevenly at 133/s; after the pause the fleet
    // books its next slot.
    const { time, store, limiter } = limiterOnVirtualTime();
    const { limit, pausedUntil } = await refusedByABucketOf80(time, limiter);
    await time.run(time.sleep(pausedUntil - time.now));
    await limiter.reserve(1);

    // Assess: within one request's worth over the window.
    expect(store.state?.measuredLimit).toBeGreaterThan(limit * 0.95);
    expect(store.state?.measuredLimit).toBeLessThan(limit * 1.05);
    expect(store.state?.rate).toBeLessThanOrEqual(limit * 1.05);
  });

  it('books no slot at the rate &Open refused while the pause before its measurement runs', async () => {
    // Prepare: a fleet searching at 300 requests/s, refused by a bucket of 80/s.
    const { time, store, limiter } = limiterOnVirtualTime({ initialRps: 300 });
    const { limit, pausedUntil } = await refusedByABucketOf80(time, limiter);

    // Act: a sender books its next slots half a second before the pause ends.
    await time.run(time.sleep(pausedUntil - 500 - time.now));
    let slots: number[] = [];
    await time.run(
      (async () => {
        slots = await limiter.reserve(10);
      })(),
    );

    // Assess: after the pause, spaced at the limit measured then, not at 300/s (a burst into the
    // bucket that refilled meanwhile).
    expect(slots[0]).toBeGreaterThanOrEqual(pausedUntil);
    const spacing = ((slots.at(-1) ?? 0) - (slots[0] ?? 0)) / (slots.length - 1);
    expect(store.state?.measuredLimit).toBeDefined();
    expect(spacing).toBeGreaterThan(1000 / (limit * 1.05 + limit * 0.5 + 1));
    expect(spacing).toBeGreaterThan(1000 / 300 + 1);
  });

  it('spends what &Open refilled during a throttle pause on top of the limit, then holds at it', async () => {
    // Prepare: a fleet that measured 100 requests/s, paused by a 429 from 0 until 1 s.
    const { time, store, limiter } = limiterOnVirtualTime();
    store.state = measuredAt100({ pausedSince: 0, pausedUntil: 1_000, throttledUntil: 1_000 });

    // Act: it uses every slot for three seconds after the pause.
    const slots = await useEverySlot(time, limiter, 4_000);

    // Assess: the second's refill (less three tenths of margin), at half the limit more, then the limit.
    // (Within a block: the first, booked during the pause, and the gaps between blocks miss some.)
    expect(countBetween(slots, 0, 1_000)).toBe(0);
    expect(countBetween(slots, 1_000, 3_000)).toBeGreaterThanOrEqual(200 + 70 - 10);
    expect(countBetween(slots, 1_000, 3_000)).toBeLessThanOrEqual(200 + 70 + 2);
    expect(countBetween(slots, 3_000, 4_000)).toBeLessThanOrEqual(101);
  });

  it('spends at most a second of the limit after a long maintenance window', async () => {
    // Prepare: a fleet holding at the 100 requests/s it measured meets a 503 with Retry-After 10 s.
    const { time, limiter, store } = limiterOnVirtualTime();
    store.state = measuredAt100();
    await time.run(time.sleep(500));
    await limiter.answered(400, 'unavailable', 10_000);

    // Act
    const slots = await useEverySlot(time, limiter, 13_500);

    // Assess: not ten seconds' refill, which &Open's bucket need not hold.
    expect(countBetween(slots, 10_500, 12_500)).toBeLessThanOrEqual(200 + 70 + 2);
    expect(countBetween(slots, 10_500, 12_500)).toBeGreaterThanOrEqual(200 + 70 - 10);
  });

  it('learns from a credit &Open refused how much its bucket holds, and spends less after the next pause', async () => {
    // Prepare: a fleet spending a credit of 70 at 50 requests/s more from 1 s on.
    const { time, store, limiter } = limiterOnVirtualTime();
    store.state = measuredAt100({ pausedSince: 0, pausedUntil: 1_000, throttledUntil: 1_000 });
    await useEverySlot(time, limiter, 1_600);

    // Act: &Open refuses a request sent 0.6 s into the credit (30 spent); the pause ends.
    await limiter.answered(1_600, 'throttled', 1_000);
    const pausedUntil = limiter.pausedUntil;
    const slots = await useEverySlot(time, limiter, pausedUntil + 2_000);

    // Assess: the bucket holds no more than 30 above the limit; the next credit is 21 (to within
    // a block: one that begins in the credit is booked at its pace).
    expect(store.state?.burstAtMost).toBe(30);
    const rate = store.state?.rate ?? 0;
    const after = countBetween(slots, pausedUntil, pausedUntil + 2_000);
    expect(after).toBeGreaterThanOrEqual(Math.floor(2 * rate) + 21 - 5);
    expect(after).toBeLessThanOrEqual(Math.ceil(2 * rate) + 21 + 5);
  });

  it('spends no credit above a ceiling the tenant set', async () => {
    // Prepare: a tenant's ceiling of 100 requests/s, a 429 pause from 0 until 1 s.
    const { time, store, limiter } = limiterOnVirtualTime({ ceilingRps: 100 });
    store.state = measuredAt100({ pausedSince: 0, pausedUntil: 1_000, throttledUntil: 1_000 });

    // Act
    const slots = await useEverySlot(time, limiter, 3_000);

    // Assess
    expect(countBetween(slots, 1_000, 3_000)).toBeLessThanOrEqual(200);
  });

  it('measures nothing from refusals too close together, and goes on searching for the limit, for a while no faster than where &Open refused', async () => {
    // Prepare: a fleet in slow start, sending 200/s, two refusals 20 ms apart among ten answers.
    const { time, store, limiter } = limiterOnVirtualTime();
    await time.run(time.sleep(1_000));
    for (let request = 0; request < 10; request += 1) {
      await time.run(time.sleep(5));
      const refused = request === 2 || request === 6;
      if (refused) await limiter.answered(time.now - 200, 'throttled', 1_000);
      else await limiter.answered(time.now - 200, 'accepted');
    }

    // Act
    await time.run(time.sleep((store.state?.pausedUntil ?? 0) - time.now));
    await limiter.reserve(1);

    // Assess
    expect(store.state?.measuredLimit).toBeUndefined();
    expect(store.state?.phase).toBe('slow-start');

    // Act: the fleet uses every slot; nothing refuses it.
    const { decrease } = limiter.settings;
    const refusedAt = (store.state?.rate ?? 0) / decrease;
    const rates: number[] = [];
    const pauseEnd = time.now;
    await useEverySlot(time, limiter, pauseEnd + 4_500, () => rates.push(store.state?.rate ?? 0));
    const capped = Math.max(...rates);
    await useEverySlot(time, limiter, pauseEnd + 7_000);

    // Assess: up to the rate &Open refused, not past it, for five seconds; then searching again.
    expect(capped).toBeCloseTo(refusedAt, 2);
    expect(store.state?.rate).toBeGreaterThan(1.5 * refusedAt);
  });

  it('measures the limit from the refusals every container heard, pooled in the shared state', async () => {
    // Prepare: four containers sharing one state book the fleet's slots in turn, blocks of five at
    // 100/s, against a token bucket of 60/s that holds 5: each container hears only its own
    // answers, a quarter of each episode and too few refusals to time on its own.
    const time = new VirtualTime();
    const clock = { now: () => time.now };
    const store = new InMemoryLimiterStore();
    const settings = { initialRps: 100, growthIntervalMs: 60_000 };
    const containers = Array.from(
      { length: 4 },
      () => new FleetRateLimiter({ store, clock, sleep: time.sleep, settings }),
    );
    const limit = 60;
    const requests: { sentAt: number; container: FleetRateLimiter; refused: boolean }[] = [];
    await time.run(
      (async () => {
        while (time.now < 600) {
          for (const container of containers) {
            for (const sentAt of await container.reserve(5))
              requests.push({ sentAt, container, refused: false });
          }
          await time.sleep((requests.at(-1)?.sentAt ?? time.now) - time.now + 1);
        }
      })(),
    );
    let tokens = 5;
    let refilledAt = 0;
    for (const request of requests) {
      tokens = Math.min(5, tokens + ((request.sentAt - refilledAt) / 1000) * limit);
      refilledAt = request.sentAt;
      request.refused = tokens < 1;
      if (!request.refused) tokens -= 1;
    }
    const firstRefused = requests.find((request) => request.refused)?.sentAt ?? 0;

    // Act: every answer comes back 200 ms after its request, to the container that sent it, until
    // the first refusal is heard (the fleet sends nothing after it); then the pause passes.
    for (const request of requests.filter((r) => r.sentAt <= firstRefused + 200)) {
      await time.run(time.sleep(Math.max(0, request.sentAt + 200 - time.now)));
      await request.container.answered(
        request.sentAt,
        request.refused ? 'throttled' : 'accepted',
        request.refused ? 1_000 : null,
      );
    }
    await time.run(time.sleep((store.state?.pausedUntil ?? 0) - time.now));
    await containers[0]?.reserve(1);

    // Assess: the fleet's limit, which no container could have measured from its own answers.
    expect(store.state?.refusals?.count).toBeGreaterThanOrEqual(6);
    expect(store.state?.measuredLimit).toBeGreaterThan(limit * 0.9);
    expect(store.state?.measuredLimit).toBeLessThan(limit * 1.1);
  });

  it('climbs back to the limit it measured within a second after stepping down, and holds there', async () => {
    // Prepare: a fleet that measured 100 requests/s, then stepped down to 60 after a refusal it
    // could not measure, whose pause ended at 0.
    const { time, store, limiter } = limiterOnVirtualTime();
    const { holdShare, holdMs } = limiter.settings;
    store.state = measuredAt100({ rate: 60, rateAtThrottle: 110 });

    // Act: the fleet uses every slot through the hold.
    const rateAt: Record<number, number> = {};
    await useEverySlot(time, limiter, holdMs - 250, () => {
      rateAt[Math.floor(time.now / 500) * 500] ??= store.state?.rate ?? 0;
    });

    // Assess
    expect(rateAt[1_500]).toBeCloseTo(holdShare * 100, 5);
    expect(Math.max(...Object.values(rateAt))).toBeCloseTo(holdShare * 100, 5);
  });
});

describe('sentAt', () => {
  it('takes the instant the client wrote the request over the one its slot was cleared at', () => {
    // Prepare
    const answer = {
      kind: 'response' as const,
      status: 201,
      requestId: null,
      body: null,
      errors: [],
      retryAfterMs: null,
    };

    // Act + Assess: the sender's claim of its row lies between the two.
    expect(sentAt({ ...answer, writtenAt: 1_040 }, 1_000)).toBe(1_040);
    expect(sentAt(answer, 1_000)).toBe(1_000);
    expect(
      sentAt(
        { kind: 'transport-failure', requestSent: false, reason: 'other', message: '' },
        1_000,
      ),
    ).toBe(1_000);
  });
});

describe("the fleet's limiter state in the ledger table", () => {
  it('stays within one DynamoDB write unit (1 KB) while a busy fleet reserves its blocks', async () => {
    // Prepare: eight invocations drawing ten slots at a time near 100 requests/s, on a wall clock.
    const time = new VirtualTime();
    const clock = { now: () => Date.parse('2026-06-01T10:00:00.000Z') + time.now };
    const store = new InMemoryLimiterStore();
    const limiter = new FleetRateLimiter({
      store,
      clock,
      sleep: time.sleep,
      settings: { ceilingRps: 97.3 },
    });
    // Every field a throttle and its credit leave behind, as long as wall-clock instants make them.
    const at = clock.now();
    store.state = measuredAt100({
      nextSlotAt: at,
      pausedUntil: at,
      pausedSince: at - 1_234.567,
      pauseReason: '&Open rate limit (429): waiting for Retry-After',
      throttledUntil: at,
      throttledAt: at - 1_456.789,
      pauseBeganAt: at - 1_234.567,
      rateAtThrottle: 123.456789,
      slotsBeforePause: 123,
      refusals: { first: at - 1_457, last: at - 1_300, count: 12, slots: 34 },
      measuredLimit: 98.7654321,
      credit: { from: at, until: at + 1_800, rps: 49.383 },
      creditFor: at,
      burstAtMost: 45,
      searchCap: { rps: 123.457, until: at + 5_000 },
      windowStartedAt: at,
      smoothedRate: 97.654321,
      idleInWindowMs: 12.345678,
    });
    let largest = 0;

    // Act
    await time.run(
      Promise.all(
        Array.from({ length: 8 }, async () => {
          while (time.now < 10_000) {
            const permits = new Permits(limiter, clock, 10);
            for (let request = 0; request < 10; request += 1) await permits.acquire();
            const item = { pk: 'LIMITER#andopen', sk: 'STATE', ...store.state };
            largest = Math.max(largest, dynamoDbItemBytes(item));
          }
        }),
      ),
    );

    // Assess
    expect(store.state?.blocks?.length).toBeGreaterThan(0);
    expect(largest).toBeLessThanOrEqual(1_024);
  });

  it('still knows how fast the fleet sent over the last half second at 1,000 requests/s in small blocks', async () => {
    // Prepare: twenty invocations drawing ten slots at a time, at a ceiling of 1,000 requests/s.
    const { time, clock, store, limiter } = limiterOnVirtualTime({ ceilingRps: 1_000 });

    // Act
    await time.run(
      Promise.all(
        Array.from({ length: 20 }, async () => {
          while (time.now < 3_000) {
            const permits = new Permits(limiter, clock, 10);
            for (let request = 0; request < 10; request += 1) await permits.acquire();
          }
        }),
      ),
    );

    // Assess: the slots kept cover the last half second, about 1,000 of them per second.
    const blocks = store.state?.blocks ?? [];
    const now = time.now;
    const from = now - 500;
    let slots = 0;
    for (const block of blocks) {
      for (let index = 0; index < block.count; index += 1) {
        const at = block.at + index * block.interval;
        if (at >= from && at < now) slots += 1;
      }
    }
    expect(Math.min(...blocks.map((block) => block.at))).toBeLessThanOrEqual(from);
    expect(slots).toBeGreaterThan(450);
    expect(slots).toBeLessThanOrEqual(501);
  });
});
