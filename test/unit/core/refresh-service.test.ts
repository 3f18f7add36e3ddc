import { describe, expect, it } from 'vitest';
import { RefreshService } from '../../../lambdas/core/refresh-service.ts';
import type { ApiCall, GiftRequest } from '../../../lambdas/ports/gifting-api.ts';
import type { NewRow } from '../../../lambdas/ports/ledger.ts';
import { GetOnlyApi } from '../../support/get-only-api.ts';
import { InMemoryLedger } from '../../support/in-memory-ledger.ts';
import { createdAnswer, createFileBatch, recordSent } from '../../support/ledger-rows.ts';

const T0 = Date.parse('2026-11-22T10:00:00.000Z');
const ISO0 = new Date(T0).toISOString();
const CAMPAIGN = 'camp';

const found = (id: string, status: string, url: string | null): ApiCall<GiftRequest> => ({
  kind: 'response',
  status: 200,
  requestId: `req_get_${id}`,
  errors: [],
  retryAfterMs: null,
  body: {
    id,
    status,
    campaign_id: CAMPAIGN,
    redemption_url: url,
    recipient: {},
    shipping_address: null,
    line_items: null,
    created_at: ISO0,
    updated_at: '2026-11-23T08:00:00.000Z',
  },
});

const refused = (status: number): ApiCall<GiftRequest> => ({
  kind: 'response',
  status,
  requestId: 'req_refused',
  errors: [{ type: 'authentication_error', code: 'expired_token', param: null, message: 'no' }],
  retryAfterMs: status === 429 ? 1_000 : null,
  body: null,
});

function newRow(row: number): NewRow {
  return {
    batchId: 'b1',
    row,
    line: row + 1,
    state: 'pending',
    echo: {
      externalId: `E${row}`,
      campaignId: CAMPAIGN,
      firstName: 'A',
      lastName: 'B',
      email: null,
    },
    body: { campaign_id: CAMPAIGN, recipient: { first_name: 'A', last_name: 'B' } },
    errors: [],
  };
}

/** Rows 1–3 created (g1 submitted, g2 submitted with its link, g3 delivered), row 4 rejected. */
async function sentCampaign(ledger: InMemoryLedger): Promise<void> {
  await createFileBatch(ledger, 'b1', ISO0);
  await ledger.putRows([1, 2, 3, 4].map(newRow));
  await ledger.completeSplit('b1', { rows: 4, valid: 4, invalid: 0 }, null);
  const created = {
    1: ['submitted', null],
    2: ['submitted', 'https://gift/r/2'],
    3: ['delivered', 'https://gift/r/3'],
  } as const;
  for (const [row, [status, url]] of Object.entries(created)) {
    const answer = createdAnswer({
      requestId: `req_post_${row}`,
      giftRequestId: `g${row}`,
      at: ISO0,
      giftStatus: status,
      redemptionUrl: url,
    });
    await recordSent(ledger, 'b1', Number(row), answer, ISO0);
  }
  await recordSent(ledger, 'b1', 4, { state: 'rejected', requestId: 'req_4', errors: [] }, ISO0);
}

const RANGE = { campaignId: CAMPAIGN, from: null, to: null };

describe('RefreshService', () => {
  it('reads the gifts that can still change and records what &Open says now', async () => {
    // Prepare
    const ledger = new InMemoryLedger();
    await sentCampaign(ledger);
    const api = new GetOnlyApi((id) =>
      id === 'g1' ? found(id, 'redeemed', 'https://gift/r/1') : found(id, 'dispatched', null),
    );
    const service = new RefreshService({ ledger, api, clock: { now: () => T0 } });

    // Act
    const report = await service.refresh(RANGE);

    // Assess
    expect(api.asked.sort()).toEqual(['g1', 'g2']);
    expect(report).toMatchObject({
      candidates: 2,
      refreshed: 2,
      changed: 2,
      requests: 2,
      stopped: false,
    });
    expect(await ledger.getRow('b1', 1)).toMatchObject({
      giftStatus: 'redeemed',
      redemptionUrl: 'https://gift/r/1',
      // The results' request id stays the one of the answer that decided the row (the POST's).
      requestId: 'req_post_1',
    });
    // A link the ledger had is never dropped by an answer without one.
    expect(await ledger.getRow('b1', 2)).toMatchObject({
      giftStatus: 'dispatched',
      redemptionUrl: 'https://gift/r/2',
    });
    expect((await ledger.getRow('b1', 3))?.giftStatus).toBe('delivered');
  });

  it('stops asking when &Open refuses the key, and says the statuses are the ledger’s', async () => {
    // Prepare
    const ledger = new InMemoryLedger();
    await sentCampaign(ledger);
    const api = new GetOnlyApi(() => refused(401));
    const service = new RefreshService({
      ledger,
      api,
      clock: { now: () => T0 },
      settings: { concurrency: 1 },
    });

    // Act
    const report = await service.refresh(RANGE);

    // Assess
    expect(api.asked).toHaveLength(1);
    expect(report.stopped).toBe(true);
    expect(report.refreshed).toBe(0);
    expect(report.problems[0]).toMatch(/refused our configuration \(HTTP 401, expired_token\)/);
    expect((await ledger.getRow('b1', 1))?.giftStatus).toBe('submitted');
  });

  it('waits out a 429 itself when no shared limiter does, and asks again', async () => {
    // Prepare
    const ledger = new InMemoryLedger();
    await sentCampaign(ledger);
    const api = new GetOnlyApi((id, asked) =>
      asked === 1 ? refused(429) : found(id, 'redeemed', null),
    );
    const slept: number[] = [];
    const service = new RefreshService({
      ledger,
      api,
      clock: { now: () => T0 },
      sleep: async (ms) => {
        slept.push(ms);
      },
      settings: { concurrency: 1 },
    });

    // Act
    const report = await service.refresh(RANGE);

    // Assess
    expect(report).toMatchObject({ candidates: 2, refreshed: 2, requests: 4, problems: [] });
    expect(slept).toEqual([1_000, 1_000]);
  });
});
