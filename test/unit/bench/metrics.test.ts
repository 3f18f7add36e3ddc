import { describe, expect, it } from 'vitest';
import {
  computeFigures,
  extrapolate,
  type JournaledRequest,
  type JournalLike,
  judge,
  lowerBoundMs,
  overlapMs,
  sendPhase,
  speedUp,
} from '../../../bench/metrics.ts';

const T0 = 1_700_000_000_000;

function post(atMs: number, status: number | null = 201): JournaledRequest {
  return { at: T0 + atMs, method: 'POST', path: '/gift_requests', status };
}

function get(atMs: number, status: number | null = 200): JournaledRequest {
  return { at: T0 + atMs, method: 'GET', path: '/gift_requests/gr_1', status };
}

function journal(requests: JournaledRequest[], gifts: number, early = 0): JournalLike {
  return {
    requests,
    gifts: Array.from({ length: gifts }, (_, i) => ({ id: `gr_${i}` })),
    earlyRequests: Array.from({ length: early }, () => ({})),
  };
}

describe('sendPhase', () => {
  it('runs from the first POST to arrive to the last, whatever their answers', () => {
    // Prepare
    const requests = [get(0), post(100, 429), post(500), get(900), post(2_100, 503), get(3_000)];

    // Act
    const phase = sendPhase(requests);

    // Assess
    expect(phase).toEqual({ start: T0 + 100, end: T0 + 2_100 });
  });

  it('is null when no POST arrived', () => {
    // Prepare
    const requests = [get(0), get(10)];

    // Act
    const phase = sendPhase(requests);

    // Assess
    expect(phase).toBeNull();
  });

  it('ignores POSTs to other paths', () => {
    // Prepare
    const requests = [
      { at: T0, method: 'POST', path: '/campaigns', status: 404 },
      post(200),
      post(400),
    ];

    // Act
    const phase = sendPhase(requests);

    // Assess
    expect(phase).toEqual({ start: T0 + 200, end: T0 + 400 });
  });
});

describe('overlapMs', () => {
  it('is the shared part of two intervals, and 0 when they do not meet', () => {
    // Prepare
    const phase = { start: 1_000, end: 5_000 };

    // Act
    const inside = overlapMs(phase, { start: 2_000, end: 3_000 });
    const straddling = overlapMs(phase, { start: 4_000, end: 9_000 });
    const after = overlapMs(phase, { start: 6_000, end: 7_000 });

    // Assess
    expect([inside, straddling, after]).toEqual([1_000, 1_000, 0]);
  });
});

describe('computeFigures', () => {
  it('divides the requests accepted in the send phase, GETs included, by R × its duration', () => {
    // Prepare: a 2 s send phase at R = 5; 8 accepted requests inside it, 2 throttled, 1 outside.
    const requests = [
      post(0),
      get(200),
      post(400),
      post(600, 429),
      get(800),
      post(1_000),
      get(1_200, 429),
      post(1_400),
      post(1_800),
      post(2_000),
      get(2_500),
    ];

    // Act
    const figures = computeFigures({
      journal: journal(requests, 6),
      rows: 6,
      rps: 5,
      endToEndMs: 4_000,
    });

    // Assess
    expect(figures.sendPhaseMs).toBe(2_000);
    expect(figures.acceptedInSendPhase).toBe(8);
    expect(figures.utilisation).toBeCloseTo(8 / 10);
  });

  it('excludes the maintenance window from the send phase it overlaps', () => {
    // Prepare: a 10 s send phase with 4 s of it in maintenance; 12 accepted requests at R = 2.
    const accepted = Array.from({ length: 12 }, (_, i) => post(i * 500 + (i >= 6 ? 4_000 : 0)));
    const refused = [post(3_500, 503), post(6_000, 503)];
    const requests = [...accepted, ...refused].sort((a, b) => a.at - b.at);

    // Act
    const figures = computeFigures({
      journal: journal(requests, 12),
      rows: 12,
      rps: 2,
      endToEndMs: 20_000,
      paused: [{ start: T0 + 3_000, end: T0 + 7_000 }],
    });

    // Assess
    expect(figures.sendPhaseMs).toBe(9_500);
    expect(figures.pausedMs).toBe(4_000);
    expect(figures.answered503).toBe(2);
    expect(figures.utilisation).toBeCloseTo(12 / (2 * 5.5));
  });

  it('does not count a request left without an answer as accepted', () => {
    // Prepare
    const requests = [post(0), post(500, null), post(1_000)];

    // Act
    const figures = computeFigures({
      journal: journal(requests, 2),
      rows: 3,
      rps: 2,
      endToEndMs: 2_000,
    });

    // Assess
    expect(figures.acceptedInSendPhase).toBe(2);
  });

  it('counts 429s over every API request, and early requests from the journal', () => {
    // Prepare: 2 of 8 requests answered 429, 3 requests came before a Retry-After had passed.
    const requests = [
      post(0),
      post(10, 429),
      post(20, 429),
      post(1_000),
      get(1_500),
      get(1_600),
      post(2_000),
      { at: T0 + 2_100, method: 'GET', path: '/campaigns/c1', status: 200 },
    ];

    // Act
    const figures = computeFigures({
      journal: journal(requests, 3, 3),
      rows: 3,
      rps: 10,
      endToEndMs: 3_000,
    });

    // Assess
    expect(figures.requests).toBe(8);
    expect(figures.answered429).toBe(2);
    expect(figures.share429).toBe(0.25);
    expect(figures.earlyRequests).toBe(3);
  });

  it('takes g from the accepted GETs per gift created, and the lower bound from N, g and R', () => {
    // Prepare: 4 gifts, 6 GETs of which 1 throttled: g = 5/4.
    const requests = [
      post(0),
      post(100),
      post(200),
      post(300),
      get(2_000),
      get(2_100),
      get(2_200, 429),
      get(2_300),
      get(3_300),
      get(3_400),
    ];

    // Act
    const figures = computeFigures({
      journal: journal(requests, 4),
      rows: 4,
      rps: 2,
      endToEndMs: 5_000,
    });

    // Assess
    expect(figures.gets).toBe(6);
    expect(figures.acceptedGets).toBe(5);
    expect(figures.g).toBe(1.25);
    expect(figures.lowerBoundMs).toBe((4 * 2.25 * 1000) / 2);
  });

  it('adds the paused time to the lower bound', () => {
    // Prepare
    const requests = [post(0), post(10_000)];

    // Act
    const figures = computeFigures({
      journal: journal(requests, 2),
      rows: 2,
      rps: 1,
      endToEndMs: 12_000,
      paused: [{ start: T0 + 2_000, end: T0 + 5_000 }],
    });

    // Assess
    expect(figures.lowerBoundMs).toBe(2_000 + 3_000);
  });

  it('has no utilisation to show for a send phase without duration, and no g without gifts', () => {
    // Prepare
    const requests = [post(0, 503)];

    // Act
    const figures = computeFigures({
      journal: journal(requests, 0),
      rows: 1,
      rps: 10,
      endToEndMs: 1_000,
    });

    // Assess
    expect(figures.utilisation).toBeNull();
    expect(figures.g).toBe(0);
  });
});

describe('extrapolate', () => {
  it('scales the times of a sample to N rows and keeps its ratios', () => {
    // Prepare: 2 rows in 3 s, g = 1.
    const sample = computeFigures({
      journal: journal([post(0), post(400), get(2_000), get(2_500)], 2),
      rows: 2,
      rps: 10,
      endToEndMs: 3_000,
    });

    // Act
    const scaled = extrapolate(sample, 200);

    // Assess
    expect(scaled.rows).toBe(200);
    expect(scaled.endToEndMs).toBe(300_000);
    expect(scaled.sendPhaseMs).toBe(40_000);
    expect(scaled.lowerBoundMs).toBe(lowerBoundMs(200, 1, 10));
    expect(scaled.g).toBe(sample.g);
    expect(scaled.share429).toBe(sample.share429);
    expect(scaled.extrapolatedFrom).toEqual({ rows: 2, endToEndMs: 3_000, sendPhaseMs: 400 });
  });
});

describe('judge', () => {
  const base = computeFigures({
    journal: journal([post(0), post(1_000)], 2),
    rows: 2,
    rps: 2,
    endToEndMs: 1_000,
  });

  it('meets every target at the limits: 95 % of R, 1 % of 429s, 0 early, 1.1 × bound + 30 s, 10×', () => {
    // Prepare
    const figures = {
      ...base,
      utilisation: 0.95,
      share429: 0.01,
      earlyRequests: 0,
      lowerBoundMs: 100_000,
      endToEndMs: 140_000,
    };

    // Act
    const verdicts = judge(figures, 10);

    // Assess
    expect(verdicts).toEqual({
      utilisation: true,
      share429: true,
      earlyRequests: true,
      endToEnd: true,
      speedUp: true,
    });
  });

  it('misses each target just past it', () => {
    // Prepare
    const figures = {
      ...base,
      utilisation: 0.949,
      share429: 0.0101,
      earlyRequests: 1,
      lowerBoundMs: 100_000,
      endToEndMs: 140_001,
    };

    // Act
    const verdicts = judge(figures, 9.9);

    // Assess
    expect(verdicts).toEqual({
      utilisation: false,
      share429: false,
      earlyRequests: false,
      endToEnd: false,
      speedUp: false,
    });
  });

  it("judges early requests by the client's count when it has one, the sandbox's otherwise", () => {
    // Prepare: the sandbox saw two arrive after a Retry-After had left it; the client wrote none
    // after the fleet had heard one (they were on their way).
    const figures = { ...base, earlyRequests: 2 };

    // Act
    const withClientCount = judge(figures, 10, 0);
    const withoutClientCount = judge(figures, 10, null);

    // Assess
    expect(withClientCount.earlyRequests).toBe(true);
    expect(withoutClientCount.earlyRequests).toBe(false);
    expect(judge({ ...base, earlyRequests: 0 }, 10, 1).earlyRequests).toBe(false);
  });

  it('leaves utilisation and speed-up undecided when there is nothing to judge them by', () => {
    // Prepare
    const figures = { ...base, utilisation: null };

    // Act
    const verdicts = judge(figures, null);

    // Assess
    expect(verdicts.utilisation).toBeNull();
    expect(verdicts.speedUp).toBeNull();
  });
});

describe('speedUp', () => {
  it('is the naive end-to-end time over the pipeline’s', () => {
    // Act
    const gain = speedUp(1_200_000, 60_000);

    // Assess
    expect(gain).toBe(20);
  });
});
