import { describe, expect, it } from 'vitest';
import { CompletionService } from '../../../lambdas/core/completion-service.ts';
import { PollService } from '../../../lambdas/core/poll-service.ts';
import { FleetRateLimiter } from '../../../lambdas/core/rate-limiter.ts';
import { RESULTS_COLUMNS, resultsCsv } from '../../../lambdas/core/results.ts';
import type { ApiCall, GiftRequest } from '../../../lambdas/ports/gifting-api.ts';
import type { RowRecord } from '../../../lambdas/ports/ledger.ts';
import { GetOnlyApi } from '../../support/get-only-api.ts';
import { InMemoryLedger } from '../../support/in-memory-ledger.ts';
import { InMemoryObjectStore } from '../../support/in-memory-ports.ts';
import {
  createdAnswer,
  createFileBatch,
  newRow,
  recordOf,
  recordSent,
} from '../../support/ledger-rows.ts';
import { InMemoryLimiterStore, VirtualTime } from '../../support/simulated-fleet.ts';

const T0 = Date.parse('2026-11-22T10:00:00.000Z');
const ISO0 = new Date(T0).toISOString();
const POLL = { minIntervalMs: 1_000, maxIntervalMs: 60_000, rowsPerRun: 100, concurrency: 2 };

const found = (id: string, url: string | null): ApiCall<GiftRequest> => ({
  kind: 'response',
  status: 200,
  requestId: `req_get_${id}`,
  errors: [],
  retryAfterMs: null,
  body: {
    id,
    status: 'submitted',
    campaign_id: 'c',
    redemption_url: url,
    recipient: {},
    shipping_address: null,
    line_items: null,
    created_at: ISO0,
    updated_at: ISO0,
  },
});

/** A batch of two created rows waiting for URLs and one invalid row, split and sent. */
async function sentBatch(ledger: InMemoryLedger) {
  await createFileBatch(ledger, 'b1', ISO0);
  await ledger.putRows([
    newRow(1),
    newRow(2),
    newRow(3, {
      state: 'invalid',
      body: null,
      errors: [
        {
          type: 'local_validation_error',
          code: 'required',
          param: 'recipient.last_name',
          message: 'x',
        },
      ],
    }),
  ]);
  await ledger.completeSplit('b1', { rows: 3, valid: 2, invalid: 1 }, null);
  for (const row of [1, 2]) {
    const answer = createdAnswer({
      requestId: `req_post_${row}`,
      giftRequestId: `g${row}`,
      at: ISO0,
      pollDueAt: T0 + 1_000,
      pollDeadlineAt: T0 + 30_000,
    });
    await recordSent(ledger, 'b1', row, answer, ISO0);
  }
  await ledger.addToCounts('b1', { created: 2 }, ISO0);
}

describe('PollService', () => {
  it('records the URL when it appears and stops following the row', async () => {
    // Prepare
    const ledger = new InMemoryLedger();
    await sentBatch(ledger);
    const api = new GetOnlyApi((id) => found(id, id === 'g1' ? 'https://gift/r/1' : null));
    const now = T0 + 1_000;
    const service = new PollService({ ledger, api, clock: { now: () => now }, settings: POLL });

    // Act
    const report = await service.pollDue();

    // Assess
    expect(report).toMatchObject({ polled: 2, settled: 1, gaveUp: 0 });
    const row1 = await ledger.getRow('b1', 1);
    expect(row1).toMatchObject({ redemptionUrl: 'https://gift/r/1', pollDueAt: null });
    expect(row1?.requestId).toBe('req_post_1');
    const row2 = await ledger.getRow('b1', 2);
    expect(row2?.pollDueAt).toBeGreaterThan(now);
    expect((await ledger.getBatch('b1'))?.counts.settled).toBe(1);
  });

  it('gives up on a URL at the deadline, and counts the row settled without one', async () => {
    // Prepare
    const ledger = new InMemoryLedger();
    await sentBatch(ledger);
    const api = new GetOnlyApi((id) => found(id, null));
    const service = new PollService({
      ledger,
      api,
      clock: { now: () => T0 + 30_000 },
      settings: POLL,
    });

    // Act
    const report = await service.pollDue();

    // Assess
    expect(report).toMatchObject({ polled: 2, settled: 2, gaveUp: 2 });
    expect(await ledger.rowsDueForPolling(Number.MAX_SAFE_INTEGER, 10)).toEqual([]);
  });

  it('waits at least the Retry-After of a 429 before looking again', async () => {
    // Prepare
    const ledger = new InMemoryLedger();
    await sentBatch(ledger);
    const api = new GetOnlyApi(() => ({
      kind: 'response',
      status: 429,
      requestId: 'req_429',
      body: null,
      errors: [],
      retryAfterMs: 20_000,
    }));
    const service = new PollService({
      ledger,
      api,
      clock: { now: () => T0 + 1_000 },
      settings: POLL,
    });

    // Act
    await service.pollDue();

    // Assess
    expect((await ledger.getRow('b1', 1))?.pollDueAt).toBeGreaterThanOrEqual(T0 + 21_000);
  });

  it('looks at the shared pause right before each GET: a 429 answered meanwhile holds it back', async () => {
    // Prepare: a fleet limiter that hears a 429 (to another request) just after clearing a slot,
    // the instant before the GET would leave.
    const time = new VirtualTime();
    const clock = { now: () => T0 + 1_000 + time.now };
    class ThrottledAfterClearance extends FleetRateLimiter {
      #armed = true;
      override async waitFor(slotAt: number): Promise<'go' | 'paused'> {
        const verdict = await super.waitFor(slotAt);
        if (verdict === 'go' && this.#armed) {
          this.#armed = false;
          await this.answered(clock.now(), 'throttled', 3_000);
        }
        return verdict;
      }
    }
    const limiter = new ThrottledAfterClearance({
      store: new InMemoryLimiterStore(),
      clock,
      sleep: time.sleep,
      settings: { ceilingRps: 10 },
    });
    const ledger = new InMemoryLedger();
    await sentBatch(ledger);
    const getsAt: number[] = [];
    const api = new GetOnlyApi((id) => {
      getsAt.push(clock.now());
      return found(id, `https://redeem.example/${id}`);
    });
    const service = new PollService({ ledger, api, clock, settings: POLL, limiter });

    // Act
    let report: Awaited<ReturnType<PollService['pollDue']>> | undefined;
    await time.run(
      service.pollDue().then((done) => {
        report = done;
      }),
    );

    // Assess: both rows polled, none before the Retry-After had passed.
    expect(report).toMatchObject({ polled: 2, settled: 2 });
    expect(getsAt).toHaveLength(2);
    for (const at of getsAt) expect(at).toBeGreaterThanOrEqual(T0 + 1_000 + 3_000);
  });

  it('raises an alarm for a created gift that &Open says does not exist', async () => {
    // Prepare
    const ledger = new InMemoryLedger();
    await sentBatch(ledger);
    const api = new GetOnlyApi(() => ({
      kind: 'response',
      status: 404,
      requestId: 'req_404',
      body: null,
      errors: [],
      retryAfterMs: null,
    }));
    const service = new PollService({
      ledger,
      api,
      clock: { now: () => T0 + 1_000 },
      settings: POLL,
    });

    // Act
    const report = await service.pollDue();

    // Assess
    expect(report.alarms).toHaveLength(2);
    expect(report.alarms[0]).toContain('does not exist');
    expect(report.notFound).toBe(2);
    expect(report.settled).toBe(0); // still followed until the deadline
  });
});

describe('CompletionService', () => {
  it('waits while URLs are outstanding, then writes the results once every row is final', async () => {
    // Prepare
    const ledger = new InMemoryLedger();
    await sentBatch(ledger);
    const objects = new InMemoryObjectStore();
    const now = T0 + 2_000;
    const completion = new CompletionService({
      ledger,
      objects,
      clock: { now: () => now },
      settings: { resultsBucket: 'results', recheckQuietBatchAfterMs: 600_000 },
    });
    const polling = new PollService({
      ledger,
      api: new GetOnlyApi((id) => found(id, `https://gift/r/${id}`)),
      clock: { now: () => now },
      settings: POLL,
    });

    // Act
    const early = await completion.completeFinishedBatches();
    await polling.pollDue();
    const done = await completion.completeFinishedBatches();

    // Assess
    expect(early).toEqual([]);
    expect(done.map((batch) => batch.batchId)).toEqual(['b1']);
    const csv = objects.text('results', 'results/b1.csv') ?? '';
    const lines = csv.split('\r\n');
    expect(lines[0]).toBe(`\uFEFF${RESULTS_COLUMNS.join(',')}`);
    expect(lines.slice(1, 4).map((line) => line.split(',').slice(0, 7).join(','))).toEqual([
      '1,E1,c,A,B,,created',
      '2,E2,c,A,B,,created',
      '3,E3,c,A,B,,invalid',
    ]);
    expect(lines[1]).toContain('https://gift/r/g1');
    expect(lines[1]).toContain('req_post_1');
    const summary = JSON.parse(objects.text('results', 'results/b1.json') ?? '{}');
    expect(summary.byOutcome).toEqual({ created: 2, rejected: 0, invalid: 1, unknown: 0 });
    expect(summary.byErrorCode).toEqual({ required: 1 });
    const batch = await ledger.getBatch('b1');
    expect(batch).toMatchObject({ phase: 'complete', resultsKey: 'results/b1.csv' });
  });

  it('checks a quiet batch row by row even when its counters lag', async () => {
    // Prepare: the rows are final, but the counter write for them was lost.
    const ledger = new InMemoryLedger();
    await sentBatch(ledger);
    for (const row of [1, 2]) {
      await ledger.updateGift(
        'b1',
        row,
        {
          giftStatus: 'submitted',
          redemptionUrl: 'u',
          giftUpdatedAt: ISO0,
          requestId: null,
          pollDueAt: null,
        },
        ISO0,
      );
    }
    const completion = new CompletionService({
      ledger,
      objects: new InMemoryObjectStore(),
      clock: { now: () => T0 + 600_000 },
      settings: { resultsBucket: 'results', recheckQuietBatchAfterMs: 300_000 },
    });

    // Act
    const done = await completion.completeFinishedBatches();

    // Assess: complete, with the counters the rows say (status and exports read them).
    expect(done.map((batch) => batch.batchId)).toEqual(['b1']);
    expect((await ledger.getBatch('b1'))?.counts).toMatchObject({ created: 2, settled: 2 });
  });

  it('holds a batch back while its counters disagree with rows that moved too recently', async () => {
    // Prepare: every row final, the last one settled a moment ago by a poller whose count has not
    // landed yet (or never will: its invocation timed out).
    const ledger = new InMemoryLedger();
    await sentBatch(ledger);
    const settledAt = T0 + 10_000;
    for (const row of [1, 2]) {
      await ledger.updateGift(
        'b1',
        row,
        {
          giftStatus: 'submitted',
          redemptionUrl: 'u',
          giftUpdatedAt: ISO0,
          requestId: null,
          pollDueAt: null,
        },
        new Date(settledAt).toISOString(),
      );
    }
    const clock = { nowMs: settledAt + 30_000, now: () => clock.nowMs };
    const completion = new CompletionService({
      ledger,
      objects: new InMemoryObjectStore(),
      clock,
      settings: {
        resultsBucket: 'results',
        recheckQuietBatchAfterMs: 0,
        countsSettleAfterMs: 120_000,
      },
    });

    // Act
    const tooSoon = await completion.completeFinishedBatches();
    clock.nowMs = settledAt + 121_000;
    const settled = await completion.completeFinishedBatches();

    // Assess
    expect(tooSoon).toEqual([]);
    expect(settled.map((batch) => batch.batchId)).toEqual(['b1']);
    expect((await ledger.getBatch('b1'))?.counts).toMatchObject({ created: 2, settled: 2 });
  });
});

describe('resultsCsv', () => {
  async function render(rows: RowRecord[]): Promise<string> {
    let text = '';
    for await (const chunk of resultsCsv(
      (async function* () {
        yield* rows;
      })(),
    ))
      text += chunk;
    return text;
  }

  function record(overrides: Partial<RowRecord>): RowRecord {
    return { ...recordOf(newRow(1), ISO0), ...overrides };
  }

  it('neutralises every cell a spreadsheet would run as a formula', async () => {
    // Prepare
    const row = record({
      state: 'rejected',
      echo: {
        externalId: '=HYPERLINK("http://evil")',
        campaignId: 'c',
        firstName: '+1',
        lastName: '-2',
        email: '@x',
      },
      errors: [{ type: 'validation_error', code: 'invalid', param: null, message: '\tTAB' }],
    });

    // Act
    const csv = await render([row]);

    // Assess
    const line = csv.split('\r\n')[1] ?? '';
    expect(line).toContain(`"'=HYPERLINK(""http://evil"")"`);
    expect(line).toContain(",'+1,'-2,'@x,rejected,");
    expect(line).toContain(",'\tTAB,");
  });

  it('joins several errors with "; " in the same order in every error column', async () => {
    // Prepare
    const row = record({
      state: 'rejected',
      errors: [
        { type: 'validation_error', code: 'required', param: 'recipient.last_name', message: 'm1' },
        { type: 'validation_error', code: 'invalid_format', param: null, message: 'm2' },
      ],
    });

    // Act
    const line = (await render([row])).split('\r\n')[1] ?? '';

    // Assess
    expect(line).toContain(
      'validation_error; validation_error,required; invalid_format,recipient.last_name; ,m1; m2',
    );
  });

  it('tells a person what an unknown row means and how to check it', async () => {
    // Act
    const line =
      (
        await render([
          record({
            state: 'unknown',
            unknownReason: 'timed out after the request was sent',
            requestId: 'req_9',
          }),
        ])
      ).split('\r\n')[1] ?? '';

    // Assess
    expect(line).toContain(',unknown,');
    expect(line).toContain('timed out after the request was sent (Request-Id req_9)');
    expect(line).toContain('retry-unknown');
  });
});
