import { describe, expect, it } from 'vitest';
import type { BatchDetail, BatchStatus } from '../../../lambdas/core/status-service.ts';
import { renderDetail, renderList } from '../../../local/cli/commands/status.ts';

const NOW = Date.parse('2026-11-22T10:10:00.000Z');

const status = (overrides: Partial<BatchStatus> = {}): BatchStatus => ({
  batchId: 'staff-december-gifts-0123456789abcdef',
  source: 's3://uploads/uploads/staff.csv',
  startedAt: '2026-11-22T10:00:00.000Z',
  phase: 'sending',
  counts: {
    rows: 120000,
    valid: 119000,
    invalid: 1000,
    created: 50000,
    rejected: 10,
    unknown: 2,
    settled: 49000,
  },
  decided: 50012,
  progressPercent: 42,
  waitingForUrl: 1000,
  rateRowsPerMinute: 5001.2,
  etaAt: '2026-11-22T10:23:48.000Z',
  paused: { until: '2026-11-22T10:10:30.000Z', reason: '429 from &Open, Retry-After 30 s' },
  stopped: null,
  fileError: null,
  completedAt: null,
  resultsKey: null,
  approval: null,
  ...overrides,
});

describe('renderList', () => {
  it('aligns big figures within 100 columns and gives a long batch id in full below', () => {
    // Prepare / Act
    const text = renderList({ generatedAt: '', batches: [status()] }, NOW);

    // Assess
    const lines = text.trimEnd().split('\n');
    for (const line of lines) expect(line.length).toBeLessThanOrEqual(100);
    expect(lines[1]).toMatch(/^staff-december-gifts-01… 2026-11-22 10:00 120000 {3}50000/);
    expect(lines.slice(2)).toEqual([
      '  staff-december-gifts-0123456789abcdef · sending · paused 30s: 429 from &Open, Retry-After 30 s ·',
      '  ETA 10:23:48 UTC (in 13m48s) · 1000 waiting for URLs · from s3://uploads/uploads/staff.csv',
    ]);
  });

  it('says why a batch stopped', () => {
    // Prepare / Act
    const text = renderList(
      {
        generatedAt: '',
        batches: [
          status({ batchId: 'b', paused: null, etaAt: null, stopped: { reason: 'HTTP 401' } }),
        ],
      },
      NOW,
    );

    // Assess
    expect(text).toContain('  STOPPED: HTTP 401 · 1000 waiting for URLs');
  });

  it('shows a held batch waiting with the command that approves it, and an approved one', () => {
    // Prepare
    const held = status({
      batchId: 'held',
      phase: 'awaiting-approval',
      etaAt: null,
      paused: null,
      approval: {
        state: 'awaiting',
        reason: '1500 rows, over the approval limit of 1000',
        preflightFindings: [],
        preflightFindingsTotal: 0,
        approveCommand: 'gift-batch approve held',
      },
    });
    const approved = status({
      batchId: 'ok',
      phase: 'approved',
      etaAt: null,
      paused: null,
      approval: {
        ...(held.approval as NonNullable<BatchStatus['approval']>),
        state: 'approved',
        approveCommand: null,
      },
    });

    // Act
    const text = renderList({ generatedAt: '', batches: [held, approved] }, NOW);

    // Assess
    expect(text).toContain(
      '  awaiting approval: 1500 rows, over the approval limit of 1000 · no ETA: waits for approval ·\n  1000 waiting for URLs · from s3://uploads/uploads/staff.csv\n  approve: gift-batch approve held\n',
    );
    expect(text).toContain('  approved, sending starts shortly · 1000 waiting for URLs');
    expect(text).not.toContain('ETA 10:');
  });

  it('points to run when the ledger has no batch', () => {
    // Prepare / Act / Assess
    expect(renderList({ generatedAt: '', batches: [] }, NOW)).toContain('gift-batch run FILE');
  });
});

describe('renderDetail', () => {
  it('shows errors with examples and caps the row lists, pointing to --json', () => {
    // Prepare
    const detail: BatchDetail = {
      ...status({ batchId: 'b' }),
      errorsByCode: [
        {
          type: 'validation_error',
          code: 'invalid_email',
          rows: 4,
          examples: [{ row: 1, externalId: 'E1', param: 'email', message: 'is not an email' }],
        },
      ],
      unknownRows: Array.from({ length: 3 }, (_, i) => ({
        row: i + 1,
        externalId: `E${i}`,
        state: 'unknown',
        reason: 'HTTP 502',
        requestId: `req_${i}`,
      })),
      waitingRows: [],
    };

    // Act
    const text = renderDetail(detail, NOW, 2);

    // Assess
    expect(text).toContain(
      '  validation_error/invalid_email: 4 rows\n    row 1  E1  email: is not an email',
    );
    expect(text).toContain(
      '  row 2  E1  HTTP 502  Request-Id req_1\n  … and 1 more (--json lists them all)',
    );
    expect(text).toContain('  paused      paused 30s: 429 from &Open');
    for (const line of text.split('\n')) expect(line.length).toBeLessThanOrEqual(100);
  });

  it('shows a held batch waiting: why, what the preflight found, the command, no ETA', () => {
    // Prepare
    const detail: BatchDetail = {
      ...status({
        batchId: 'b',
        phase: 'awaiting-approval',
        etaAt: null,
        paused: null,
        approval: {
          state: 'awaiting',
          reason: '1500 rows, over the approval limit of 1000',
          preflightFindings: ['campaign c (Old) is archived: 2 rows (rows 1-2) would be rejected'],
          preflightFindingsTotal: 3,
          approveCommand: 'gift-batch approve b --stack GiftBatch',
        },
      }),
      errorsByCode: [],
      unknownRows: [],
      waitingRows: [],
    };

    // Act
    const text = renderDetail(detail, NOW, 20);

    // Assess
    expect(text).toContain(
      '  state       awaiting approval: 1500 rows, over the approval limit of 1000',
    );
    expect(text).toContain('no ETA: waits for approval');
    expect(text).not.toContain('ETA 10:');
    expect(text).toContain('  approve     gift-batch approve b --stack GiftBatch');
    expect(text).toContain(
      'preflight: 3 problems found before sending\n  campaign c (Old) is archived: 2 rows (rows 1-2) would be rejected\n  … and 2 more',
    );
  });
});
