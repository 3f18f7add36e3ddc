import { describe, expect, it } from 'vitest';
import type { BatchRecord } from '../../../lambdas/ports/ledger.ts';
import type { LimiterState } from '../../../lambdas/ports/rate-limit.ts';
import { ProgressReporter } from '../../../local/cli/progress.ts';

const batch = (overrides: Partial<BatchRecord> = {}): BatchRecord => ({
  batchId: 'b',
  source: { description: 's3://u/k', bucket: 'u', key: 'k', versionOrEtag: 'e' },
  phase: 'sending',
  stopReason: null,
  counts: { rows: 12, valid: 9, invalid: 3, created: 4, rejected: 1, unknown: 0, settled: 2 },
  createdAt: '2026-11-22T10:00:00.000Z',
  updatedAt: '2026-11-22T10:00:00.000Z',
  splitCompletedAt: '2026-11-22T10:00:00.000Z',
  fileError: null,
  completedAt: null,
  resultsKey: null,
  lastReconciledAt: null,
  ...overrides,
});

const limiter = (overrides: Partial<LimiterState>): LimiterState => ({
  version: 1,
  nextSlotAt: 0,
  pausedUntil: 0,
  pauseReason: null,
  rate: 50,
  phase: 'steady',
  throttledAt: 0,
  rateAtThrottle: 0,
  estimated: true,
  windowStartedAt: 0,
  reservedInWindow: 0,
  sendRate: 0,
  ...overrides,
});

describe('ProgressReporter', () => {
  it('shows where the batch stands and the rows still waiting for their URL', () => {
    // Prepare
    const reporter = new ProgressReporter({ out: { write: () => undefined }, now: () => 5_000 });

    // Act
    const line = reporter.describe(batch());

    // Assess
    expect(line).toContain('sent 5/9');
    expect(line).toContain('created 4');
    expect(line).toContain('invalid 3');
    expect(line).toContain('waiting for URLs 2');
  });

  it('says when the fleet is paused by &Open, for how long and why', () => {
    // Prepare
    const reporter = new ProgressReporter({ out: { write: () => undefined }, now: () => 10_000 });

    // Act
    const paused = reporter.describe(
      batch(),
      limiter({
        pausedUntil: 13_000,
        pauseReason: '&Open rate limit (429): waiting for Retry-After',
      }),
    );
    const over = reporter.describe(batch(), limiter({ pausedUntil: 9_000, pauseReason: 'old' }));

    // Assess
    expect(paused).toContain('paused 3s: &Open rate limit (429)');
    expect(over).not.toContain('paused');
  });

  it('writes plain lines no more often than asked when not on a terminal', () => {
    // Prepare
    const written: string[] = [];
    let now = 0;
    const reporter = new ProgressReporter({
      out: { write: (text) => written.push(text), isTTY: false },
      plainEveryMs: 5_000,
      now: () => now,
    });

    // Act
    for (let created = 0; created < 10; created += 1) {
      reporter.update(batch({ counts: { ...batch().counts, created } }));
      now += 1_000;
    }

    // Assess
    expect(written).toHaveLength(2);
    expect(written.every((line) => line.endsWith('\n') && !line.includes('\r'))).toBe(true);
  });
});
