import { describe, expect, it } from 'vitest';
import { FleetRateLimiter } from '../../../lambdas/core/rate-limiter.ts';
import { CountsByBatch } from '../../../lambdas/core/send-counts.ts';
import { SendService } from '../../../lambdas/core/send-service.ts';
import type {
  ApiCall,
  Campaign,
  GiftingApi,
  GiftRequest,
  GiftRequestBody,
  Page,
} from '../../../lambdas/ports/gifting-api.ts';
import type { NewRow } from '../../../lambdas/ports/ledger.ts';
import { InMemoryLedger } from '../../support/in-memory-ledger.ts';
import { InMemoryLimiterStore } from '../../support/simulated-fleet.ts';

const T0 = Date.parse('2026-11-22T10:00:00.000Z');
const SETTINGS = { firstPollAfterMs: 2_000, pollDeadlineMs: 600_000 };

/** A gifting API that answers POSTs from a script and records every body it was sent. */
class ScriptedApi implements GiftingApi {
  readonly posted: GiftRequestBody[] = [];
  /** Runs while the request is on its way (what the rest of the fleet hears meanwhile). */
  beforeAnswer: () => Promise<void> = async () => {};
  constructor(private readonly answers: ApiCall<GiftRequest>[]) {}
  async createGiftRequest(body: GiftRequestBody): Promise<ApiCall<GiftRequest>> {
    this.posted.push(body);
    await this.beforeAnswer();
    const answer = this.answers.shift();
    if (!answer) throw new Error('no scripted answer left');
    return answer;
  }
  async getGiftRequest(): Promise<ApiCall<GiftRequest>> {
    throw new Error('not used');
  }
  async getCampaign(): Promise<ApiCall<Campaign>> {
    throw new Error('not used');
  }
  async listCampaigns(): Promise<ApiCall<Page<Campaign>>> {
    throw new Error('not used');
  }
}

function gift(overrides: Partial<GiftRequest> = {}): GiftRequest {
  return {
    id: 'gift-1',
    status: 'submitted',
    campaign_id: 'cmp-1',
    redemption_url: null,
    recipient: { id: 'r-1', first_name: 'Alice', last_name: 'Smith' },
    shipping_address: null,
    line_items: null,
    created_at: '2026-11-22T10:00:00.100Z',
    updated_at: '2026-11-22T10:00:00.100Z',
    ...overrides,
  };
}

const answer = (
  status: number,
  extra: Partial<Extract<ApiCall<GiftRequest>, { kind: 'response' }>> = {},
): ApiCall<GiftRequest> => ({
  kind: 'response',
  status,
  requestId: `req_${status}`,
  body: null,
  errors: [],
  retryAfterMs: null,
  ...extra,
});

const BODY: GiftRequestBody = {
  campaign_id: 'cmp-1',
  recipient: { first_name: 'Alice', last_name: 'Smith' },
};

function pendingRow(): NewRow {
  return {
    batchId: 'b1',
    row: 1,
    line: 2,
    state: 'pending',
    echo: {
      externalId: null,
      campaignId: 'cmp-1',
      firstName: 'Alice',
      lastName: 'Smith',
      email: null,
    },
    body: BODY,
    errors: [],
  };
}

async function setUp(answers: ApiCall<GiftRequest>[]) {
  const ledger = new InMemoryLedger();
  await ledger.createBatch({
    batchId: 'b1',
    source: { description: 'test', bucket: null, key: null, versionOrEtag: null },
    createdAt: new Date(T0).toISOString(),
  });
  await ledger.putRows([pendingRow()]);
  const api = new ScriptedApi(answers);
  const service = new SendService({ ledger, api, clock: { now: () => T0 }, settings: SETTINGS });
  return { ledger, api, service };
}

describe('SendService', () => {
  it('posts the recorded body and records a created gift with its Request-Id and a first poll', async () => {
    // Prepare
    const { ledger, api, service } = await setUp([answer(201, { body: gift() })]);

    // Act
    const result = await service.send({ batchId: 'b1', row: 1 });

    // Assess
    expect(result).toEqual({
      kind: 'done',
      state: 'created',
      detail: 'gift-1',
      settled: false,
      requestId: 'req_201',
      movedFrom: 'sending',
    });
    expect(api.posted).toEqual([BODY]);
    const row = await ledger.getRow('b1', 1);
    expect(row).toMatchObject({
      state: 'created',
      giftRequestId: 'gift-1',
      giftStatus: 'submitted',
      requestId: 'req_201',
      pollDueAt: T0 + SETTINGS.firstPollAfterMs,
      pollDeadlineAt: T0 + SETTINGS.pollDeadlineMs,
    });
  });

  it('with webhooks on, applies the link a webhook brought before the answer was recorded', async () => {
    // Prepare: the webhook with the link overtook the create answer, so its news was kept.
    const { ledger, api } = await setUp([answer(201, { body: gift() })]);
    await ledger.keepUnmatchedNews({
      giftRequestId: 'gift-1',
      giftStatus: 'submitted',
      redemptionUrl: 'https://gift/r/1',
      giftUpdatedAt: '2026-11-22T10:00:00.400Z',
      expiresAt: T0 / 1000 + 86_400,
    });
    const service = new SendService({
      ledger,
      api,
      clock: { now: () => T0 },
      settings: { ...SETTINGS, useWebhookNews: true },
    });

    // Act
    const result = await service.send({ batchId: 'b1', row: 1 });

    // Assess
    expect(result).toMatchObject({ kind: 'done', state: 'created', settled: true });
    expect(await ledger.getRow('b1', 1)).toMatchObject({
      state: 'created',
      redemptionUrl: 'https://gift/r/1',
      pollDueAt: null,
    });
  });

  it('does not poll a gift whose URL came with the answer', async () => {
    // Prepare
    const { ledger, service } = await setUp([
      answer(201, { body: gift({ redemption_url: 'https://gift/r/1' }) }),
    ]);

    // Act
    await service.send({ batchId: 'b1', row: 1 });

    // Assess
    expect((await ledger.getRow('b1', 1))?.pollDueAt).toBeNull();
  });

  it('never posts twice for a duplicate delivery', async () => {
    // Prepare
    const { api, service } = await setUp([answer(201, { body: gift() })]);

    // Act
    await service.send({ batchId: 'b1', row: 1 });
    const second = await service.send({ batchId: 'b1', row: 1 });

    // Assess
    expect(api.posted).toHaveLength(1);
    expect(second).toEqual({ kind: 'done', state: 'skipped', detail: 'row already created' });
  });

  it('turns a row left in sending by a dead sender into unknown, without posting', async () => {
    // Prepare
    const { ledger, api, service } = await setUp([]);
    await ledger.claimRow('b1', 1, new Date(T0).toISOString());

    // Act
    const result = await service.send({ batchId: 'b1', row: 1 });

    // Assess
    expect(api.posted).toHaveLength(0);
    expect(result).toMatchObject({ kind: 'done', state: 'unknown' });
    expect((await ledger.getRow('b1', 1))?.state).toBe('unknown');
  });

  it('records every error of a 422 as rejected', async () => {
    // Prepare
    const errors = [
      {
        type: 'validation_error',
        code: 'invalid_reference',
        param: 'line_items[0].sku',
        message: 'x',
      },
      { type: 'validation_error', code: 'required', param: 'recipient.last_name', message: 'y' },
    ];
    const { ledger, service } = await setUp([answer(422, { errors })]);

    // Act
    const result = await service.send({ batchId: 'b1', row: 1 });

    // Assess
    expect(result).toMatchObject({ kind: 'done', state: 'rejected' });
    const row = await ledger.getRow('b1', 1);
    expect(row?.state).toBe('rejected');
    expect(row?.errors).toEqual(errors);
    expect(row?.requestId).toBe('req_422');
  });

  it.each([
    ['a 500', answer(500)],
    ['a 504', answer(504)],
    [
      'a timeout after the request was written',
      {
        kind: 'transport-failure',
        requestSent: true,
        reason: 'timeout',
        message: 'timed out',
      } as const,
    ],
  ])('marks the row unknown on %s, never to be re-sent automatically', async (_name, call) => {
    // Prepare
    const { ledger, api, service } = await setUp([call]);

    // Act
    const first = await service.send({ batchId: 'b1', row: 1 });
    const redelivered = await service.send({ batchId: 'b1', row: 1 });

    // Assess
    expect(first).toMatchObject({ kind: 'done', state: 'unknown' });
    expect(redelivered).toMatchObject({ kind: 'done', state: 'skipped' });
    expect(api.posted).toHaveLength(1);
    const row = await ledger.getRow('b1', 1);
    expect(row?.state).toBe('unknown');
    expect(row?.unknownReason).toBeTruthy();
  });

  it.each([
    ['429', answer(429, { retryAfterMs: 3_000 }), 'throttled', 3_000],
    ['503', answer(503, { retryAfterMs: 60_000 }), 'unavailable', 60_000],
    [
      'connection refused',
      { kind: 'transport-failure', requestSent: false, reason: 'connection-refused', message: 'x' },
      'not-sent',
      null,
    ],
  ] as const)(
    'puts the row back to pending on %s, to be sent again',
    async (_name, call, reason, retryAfterMs) => {
      // Prepare
      const { ledger, api, service } = await setUp([call, answer(201, { body: gift() })]);

      // Act
      const first = await service.send({ batchId: 'b1', row: 1 });
      const pendingAfterFirst = (await ledger.getRow('b1', 1))?.state;
      const second = await service.send({ batchId: 'b1', row: 1 });

      // Assess
      expect(first).toMatchObject({ kind: 'retry', reason, retryAfterMs });
      expect(pendingAfterFirst).toBe('pending');
      expect(second).toMatchObject({ kind: 'done', state: 'created' });
      expect(api.posted).toHaveLength(2);
    },
  );

  it('brings back a request the client held inside a pause when the pause ends, not 5 s later', async () => {
    // Prepare: the fleet hears a 429 (Retry-After 1.5 s) while this POST waits for a socket, and
    // the client holds it back: nothing was written.
    const clock = { now: () => T0 };
    const limiter = new FleetRateLimiter({ store: new InMemoryLimiterStore(), clock });
    const ledger = new InMemoryLedger();
    await ledger.putRows([pendingRow()]);
    const held: ApiCall<GiftRequest> = {
      kind: 'transport-failure',
      requestSent: false,
      reason: 'other',
      message: "not written: &Open's Retry-After runs until later",
    };
    const api = new ScriptedApi([held]);
    api.beforeAnswer = () => limiter.answered(T0, 'throttled', 1_500);
    const service = new SendService({ ledger, api, clock, settings: SETTINGS, limiter });

    // Act
    const result = await service.send({ batchId: 'b1', row: 1 });

    // Assess
    expect(result).toMatchObject({ kind: 'retry', reason: 'paused', retryAfterMs: 1_500 });
    expect((await ledger.getRow('b1', 1))?.state).toBe('pending');
  });

  it('stops the batch on a bad key and burns no row: later rows are not even claimed', async () => {
    // Prepare
    const { ledger, api, service } = await setUp([
      answer(401, {
        errors: [
          { type: 'authentication_error', code: 'invalid_token', message: 'bad', param: null },
        ],
      }),
    ]);
    await ledger.putRows([{ ...pendingRow(), row: 2 }]);

    // Act
    const first = await service.send({ batchId: 'b1', row: 1 });
    const second = await service.send({ batchId: 'b1', row: 2 });

    // Assess
    expect(first).toMatchObject({ kind: 'retry', reason: 'configuration-stop' });
    expect(second).toMatchObject({ kind: 'retry', reason: 'batch-stopped' });
    expect(api.posted).toHaveLength(1);
    expect((await ledger.getRow('b1', 1))?.state).toBe('pending');
    expect((await ledger.getRow('b1', 2))?.state).toBe('pending');
    const batch = await ledger.getBatch('b1');
    expect(batch?.phase).toBe('stopped');
    expect(batch?.stopReason).toContain('invalid_token');
  });

  it('stops the batch, spending no row, when the API key cannot be read; a resume carries on', async () => {
    // Prepare: the key's secret is empty, then a person puts the key in and resumes the batch.
    const { ledger } = await setUp([]);
    await ledger.putRows([{ ...pendingRow(), row: 2 }]);
    const api = new ScriptedApi([
      {
        kind: 'no-credentials',
        message: 'secret prod/andopen is empty: put the &Open API key in it',
      },
      answer(201, { body: gift() }),
    ]);
    let now = T0;
    const service = new SendService({ ledger, api, clock: { now: () => now }, settings: SETTINGS });

    // Act
    const first = await service.send({ batchId: 'b1', row: 1 });
    const second = await service.send({ batchId: 'b1', row: 2 });
    const stopped = await ledger.getBatch('b1');
    await ledger.setPhase('b1', 'sending', { stopReason: null }, new Date(now).toISOString());
    now += 60_000;
    const afterResume = await service.send({ batchId: 'b1', row: 1 });

    // Assess
    expect(first).toMatchObject({ kind: 'retry', reason: 'configuration-stop' });
    expect(second).toMatchObject({ kind: 'retry', reason: 'batch-stopped' });
    expect(stopped?.phase).toBe('stopped');
    expect(stopped?.stopReason).toBe(
      'no usable &Open API key (secret prod/andopen is empty: put the &Open API key in it): ' +
        'put the key in its secret, then resume',
    );
    expect((await ledger.getRow('b1', 2))?.state).toBe('pending');
    expect(afterResume).toMatchObject({ kind: 'done', state: 'created' });
    expect(api.posted).toHaveLength(2);
  });

  it('lets a late definitive answer replace an unknown guessed by a redelivery', async () => {
    // Prepare: the API answers only after a redelivery has judged this sender dead.
    const ledger = new InMemoryLedger();
    await ledger.createBatch({
      batchId: 'b1',
      source: { description: 't', bucket: null, key: null, versionOrEtag: null },
      createdAt: new Date(T0).toISOString(),
    });
    await ledger.putRows([pendingRow()]);
    const slowApi = new ScriptedApi([]);
    slowApi.createGiftRequest = async (body) => {
      slowApi.posted.push(body);
      await redelivered.send({ batchId: 'b1', row: 1 });
      return answer(201, { body: gift() });
    };
    const clock = { now: () => T0 };
    const redelivered = new SendService({ ledger, api: slowApi, clock, settings: SETTINGS });
    const original = new SendService({ ledger, api: slowApi, clock, settings: SETTINGS });

    // Act
    const result = await original.send({ batchId: 'b1', row: 1 });

    // Assess
    expect(result).toMatchObject({ kind: 'done', state: 'created', movedFrom: 'unknown' });
    expect(slowApi.posted).toHaveLength(1);
    expect((await ledger.getRow('b1', 1))?.state).toBe('created');
  });

  it('counts a row once when a redelivery guessed unknown and the late answer replaced it', async () => {
    // Prepare: the same message delivered twice at once; each delivery counts as its own
    // invocation does, and both flush their counters.
    const ledger = new InMemoryLedger();
    await ledger.createBatch({
      batchId: 'b1',
      source: { description: 't', bucket: null, key: null, versionOrEtag: null },
      createdAt: new Date(T0).toISOString(),
    });
    await ledger.putRows([pendingRow()]);
    const clock = { now: () => T0 };
    const api = new ScriptedApi([]);
    const redelivered = new SendService({ ledger, api, clock, settings: SETTINGS });
    const redeliveryCounts = new CountsByBatch();
    api.createGiftRequest = async (body) => {
      api.posted.push(body);
      redeliveryCounts.add('b1', await redelivered.send({ batchId: 'b1', row: 1 }));
      return answer(201, { body: gift({ redemption_url: 'https://gift.example/r/1' }) });
    };
    const original = new SendService({ ledger, api, clock, settings: SETTINGS });
    const originalCounts = new CountsByBatch();

    // Act
    originalCounts.add('b1', await original.send({ batchId: 'b1', row: 1 }));
    await redeliveryCounts.flush(ledger, 'now');
    await originalCounts.flush(ledger, 'now');

    // Assess
    expect((await ledger.getRow('b1', 1))?.state).toBe('created');
    expect((await ledger.getBatch('b1'))?.counts).toMatchObject({
      created: 1,
      unknown: 0,
      settled: 1,
    });
  });

  it('puts a row back to pending when a redelivery guessed unknown but the answer was a 429', async () => {
    // Prepare: the API answers 429 only after a redelivery has judged this sender dead.
    const ledger = new InMemoryLedger();
    await ledger.createBatch({
      batchId: 'b1',
      source: { description: 't', bucket: null, key: null, versionOrEtag: null },
      createdAt: new Date(T0).toISOString(),
    });
    await ledger.putRows([pendingRow()]);
    const clock = { now: () => T0 };
    const api = new ScriptedApi([]);
    const redelivered = new SendService({ ledger, api, clock, settings: SETTINGS });
    api.createGiftRequest = async (body) => {
      api.posted.push(body);
      await redelivered.send({ batchId: 'b1', row: 1 });
      return answer(429, { retryAfterMs: 1_000 });
    };
    const original = new SendService({ ledger, api, clock, settings: SETTINGS });

    // Act
    const result = await original.send({ batchId: 'b1', row: 1 });

    // Assess
    expect(result).toMatchObject({ kind: 'retry', reason: 'throttled', movedFrom: 'unknown' });
    expect((await ledger.getRow('b1', 1))?.state).toBe('pending');
  });
});
