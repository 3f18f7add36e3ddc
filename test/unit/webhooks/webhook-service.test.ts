import { createHmac } from 'node:crypto';
import { beforeEach, describe, expect, it } from 'vitest';
import { HmacWebhookSignature } from '../../../lambdas/adapters/hmac-webhook-signature.ts';
import { PollService } from '../../../lambdas/core/poll-service.ts';
import { WEBHOOK_HEADERS, type WebhookDelivery } from '../../../lambdas/core/webhooks/delivery.ts';
import {
  EVENT_ID_RETENTION_S,
  UNMATCHED_NEWS_RETENTION_S,
  WebhookService,
} from '../../../lambdas/core/webhooks/webhook-service.ts';
import type { Clock } from '../../../lambdas/ports/clock.ts';
import type { GiftingApi } from '../../../lambdas/ports/gifting-api.ts';
import type { TrackedGift } from '../../../lambdas/ports/ledger.ts';
import { InMemoryLedger } from '../../support/in-memory-ledger.ts';

const SECRET = 'whsec_test_3f9a1c';
const T0 = Date.parse('2026-11-22T10:00:00.000Z');
const GIFT = '4fb4cb3f-9666-43b5-8884-7f5194483d1a';
const CREATED_AT = '2026-11-22T09:59:58.000Z';
const URL_AT = '2026-11-22T09:59:59.500Z';
const LINK = 'https://gift.andopen.co/r/abc123';

class ManualClock implements Clock {
  constructor(public at: number) {}
  now(): number {
    return this.at;
  }
}

function gift(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id: GIFT,
    status: 'submitted',
    campaign_id: 'c',
    redemption_url: LINK,
    recipient: { id: 'r1', first_name: 'Alice', last_name: 'Smith', email: null },
    shipping_address: null,
    line_items: null,
    created_at: CREATED_AT,
    updated_at: URL_AT,
    ...overrides,
  };
}

let eventCounter = 0;

/** A delivery as &Open signs it: HMAC-SHA256 over `{timestamp}.{raw body}`, lowercase hex. */
function signed(
  body: string | Uint8Array,
  options: { atMs?: number; eventId?: string; secret?: string } = {},
): WebhookDelivery {
  const timestamp = String(Math.floor((options.atMs ?? T0) / 1000));
  const bytes = typeof body === 'string' ? new TextEncoder().encode(body) : body;
  const signature = createHmac('sha256', options.secret ?? SECRET)
    .update(`${timestamp}.`)
    .update(bytes)
    .digest('hex');
  eventCounter += 1;
  return {
    headers: {
      [WEBHOOK_HEADERS.signature]: signature,
      [WEBHOOK_HEADERS.timestamp]: timestamp,
      [WEBHOOK_HEADERS.eventId]:
        options.eventId ?? `00000000-0000-4000-8000-${String(eventCounter).padStart(12, '0')}`,
      [WEBHOOK_HEADERS.eventType]: 'gift_request.updated',
      [WEBHOOK_HEADERS.apiVersion]: '2026-05',
    },
    body: bytes,
  };
}

const json = (value: unknown) => JSON.stringify(value);

async function ledgerWithCreatedRow(): Promise<LaggingIndexLedger> {
  const ledger = new LaggingIndexLedger();
  await ledger.createBatch({
    batchId: 'b1',
    source: { description: 'test', bucket: null, key: null, versionOrEtag: null },
    createdAt: CREATED_AT,
  });
  await ledger.putRows([
    {
      batchId: 'b1',
      row: 1,
      line: 2,
      state: 'pending',
      echo: { externalId: 'E1', campaignId: 'c', firstName: 'A', lastName: 'B', email: null },
      body: null,
      errors: [],
    },
  ]);
  await ledger.claimRow('b1', 1, CREATED_AT);
  await ledger.recordSend(
    'b1',
    1,
    {
      state: 'created',
      requestId: 'req_post',
      giftRequestId: GIFT,
      giftStatus: 'submitted',
      redemptionUrl: null,
      giftCreatedAt: CREATED_AT,
      giftUpdatedAt: CREATED_AT,
      pollDueAt: T0 + 60_000,
      pollDeadlineAt: T0 + 30 * 60_000,
    },
    CREATED_AT,
  );
  return ledger;
}

describe('WebhookService', () => {
  let ledger: LaggingIndexLedger;
  let clock: ManualClock;
  let service: WebhookService;

  beforeEach(async () => {
    ledger = await ledgerWithCreatedRow();
    clock = new ManualClock(T0);
    service = new WebhookService({
      ledger,
      signature: new HmacWebhookSignature(SECRET),
      clock,
    });
  });

  describe('signature', () => {
    it('accepts a good signature and records the URL, status and updated_at on the row', async () => {
      // Prepare
      const delivery = signed(json(gift()));

      // Act
      const outcome = await service.receive(delivery);

      // Assess
      expect(outcome).toMatchObject({ kind: 'applied', batchId: 'b1', row: 1, settled: true });
      const row = await ledger.getRow('b1', 1);
      expect(row).toMatchObject({
        giftStatus: 'submitted',
        redemptionUrl: LINK,
        giftUpdatedAt: URL_AT,
        pollDueAt: null,
      });
      expect((await ledger.getBatch('b1'))?.counts.settled).toBe(1);
    });

    it('refuses a signature made with another secret and changes nothing', async () => {
      // Prepare
      const delivery = signed(json(gift()), { secret: 'not-the-secret' });

      // Act
      const outcome = await service.receive(delivery);

      // Assess
      expect(outcome).toMatchObject({ kind: 'refused', refused: 'bad-signature' });
      expect((await ledger.getRow('b1', 1))?.redemptionUrl).toBeNull();
      expect(ledger.events.size).toBe(0);
    });

    it('refuses a body re-serialised by anyone (same JSON, other spaces)', async () => {
      // Prepare
      const original = signed(json(gift()));
      const reserialised = JSON.stringify(gift(), null, 2);

      // Act
      const outcome = await service.receive({
        headers: original.headers,
        body: new TextEncoder().encode(reserialised),
      });

      // Assess
      expect(outcome).toMatchObject({ kind: 'refused', refused: 'bad-signature' });
    });

    it('signs the raw bytes: a body that is not canonical JSON passes when unchanged', async () => {
      // Prepare
      const body = `{ "id" : "${GIFT}",\n  "status":"submitted", "redemption_url": "${LINK}", "updated_at": "${URL_AT}" }`;

      // Act
      const outcome = await service.receive(signed(body));

      // Assess
      expect(outcome).toMatchObject({ kind: 'applied' });
    });

    it.each([
      ['six minutes old', -6 * 60_000],
      ['six minutes ahead', 6 * 60_000],
    ])('refuses a timestamp %s, even when correctly signed', async (_name, offsetMs) => {
      // Prepare
      const delivery = signed(json(gift()), { atMs: T0 + offsetMs });

      // Act
      const outcome = await service.receive(delivery);

      // Assess
      expect(outcome).toMatchObject({ kind: 'refused', refused: 'stale' });
      expect(ledger.events.size).toBe(0);
    });

    it('accepts a timestamp four minutes off (clocks differ a little)', async () => {
      // Prepare
      const delivery = signed(json(gift()), { atMs: T0 - 4 * 60_000 });

      // Act
      const outcome = await service.receive(delivery);

      // Assess
      expect(outcome.kind).toBe('applied');
    });

    it.each([
      ['no signature', WEBHOOK_HEADERS.signature, undefined],
      ['a garbled signature', WEBHOOK_HEADERS.signature, 'sha256=zz'],
      ['no timestamp', WEBHOOK_HEADERS.timestamp, undefined],
      ['a timestamp in milliseconds', WEBHOOK_HEADERS.timestamp, '2026-11-22T10:00:00Z'],
      ['no event id', WEBHOOK_HEADERS.eventId, undefined],
    ])('refuses a delivery with %s as malformed', async (_name, header, value) => {
      // Prepare
      const delivery = signed(json(gift()));
      const headers = { ...delivery.headers, [header]: value };

      // Act
      const outcome = await service.receive({ headers, body: delivery.body });

      // Assess
      expect(outcome).toMatchObject({ kind: 'refused', refused: 'malformed' });
    });

    it('accepts the signature in uppercase hex too', async () => {
      // Prepare
      const delivery = signed(json(gift()));
      const upper = String(delivery.headers[WEBHOOK_HEADERS.signature]).toUpperCase();

      // Act
      const outcome = await service.receive({
        headers: { ...delivery.headers, [WEBHOOK_HEADERS.signature]: upper },
        body: delivery.body,
      });

      // Assess
      expect(outcome.kind).toBe('applied');
    });
  });

  describe('deduplication', () => {
    it('applies an event id once: a replay (even freshly timestamped) is a duplicate', async () => {
      // Prepare
      const eventId = '9b2c7a10-0000-4000-8000-000000000001';
      await service.receive(signed(json(gift()), { eventId }));
      clock.at = T0 + 60_000;

      // Act
      const outcome = await service.receive(signed(json(gift()), { eventId, atMs: clock.at }));

      // Assess
      expect(outcome.kind).toBe('duplicate');
      expect((await ledger.getBatch('b1'))?.counts.settled).toBe(1);
    });

    it('remembers the event id for the retention period', async () => {
      // Prepare
      const eventId = '9b2c7a10-0000-4000-8000-000000000002';

      // Act
      await service.receive(signed(json(gift()), { eventId }));

      // Assess
      expect(ledger.events.get(eventId)).toBe(Math.floor(T0 / 1000) + EVENT_ID_RETENTION_S);
    });

    it('a repeated event that changes nothing does not count the row settled twice', async () => {
      // Prepare
      await service.receive(signed(json(gift())));

      // Act
      const outcome = await service.receive(signed(json(gift())));

      // Assess
      expect(outcome.kind).toBe('unchanged');
      expect((await ledger.getBatch('b1'))?.counts.settled).toBe(1);
    });
  });

  describe('order', () => {
    it('an older delivery without a URL, arriving after the URL, changes nothing', async () => {
      // Prepare
      await service.receive(signed(json(gift())));

      // Act
      const outcome = await service.receive(
        signed(json(gift({ redemption_url: null, updated_at: CREATED_AT }))),
      );

      // Assess
      expect(outcome.kind).toBe('unchanged');
      expect(await ledger.getRow('b1', 1)).toMatchObject({
        giftStatus: 'submitted',
        redemptionUrl: LINK,
        giftUpdatedAt: URL_AT,
      });
    });

    it('never moves the status backwards, even with a later updated_at', async () => {
      // Prepare
      await service.receive(
        signed(json(gift({ status: 'dispatched', updated_at: '2026-11-22T10:00:00.000Z' }))),
      );

      // Act
      const outcome = await service.receive(
        signed(json(gift({ status: 'redeemed', updated_at: '2026-11-22T10:00:01.000Z' }))),
      );

      // Assess
      expect(outcome.kind).toBe('applied');
      const row = await ledger.getRow('b1', 1);
      expect(row?.giftStatus).toBe('dispatched');
      expect(row?.giftUpdatedAt).toBe('2026-11-22T10:00:01.000Z');
    });

    it('moves forward: a later status replaces an earlier one, the URL stays', async () => {
      // Prepare
      await service.receive(signed(json(gift())));

      // Act
      const outcome = await service.receive(
        signed(
          json(
            gift({
              status: 'redeemed',
              redemption_url: null,
              updated_at: '2026-11-22T10:05:00.000Z',
            }),
          ),
        ),
      );

      // Assess
      expect(outcome).toMatchObject({ kind: 'applied', giftStatus: 'redeemed', settled: false });
      expect(await ledger.getRow('b1', 1)).toMatchObject({
        giftStatus: 'redeemed',
        redemptionUrl: LINK,
      });
      expect((await ledger.getBatch('b1'))?.counts.settled).toBe(1);
    });

    it('follows a status &Open added later by updated_at, since it has no rank', async () => {
      // Prepare
      const later = '2026-11-22T10:05:00.000Z';

      // Act
      await service.receive(signed(json(gift({ status: 'on_hold', updated_at: later }))));

      // Assess
      expect((await ledger.getRow('b1', 1))?.giftStatus).toBe('on_hold');
    });
  });

  describe('what is not ours', () => {
    it('answers an unknown gift request (another system on the account) without writing', async () => {
      // Prepare
      const other = gift({ id: '11111111-2222-4333-8444-555555555555' });

      // Act
      const outcome = await service.receive(signed(json(other)));

      // Assess
      expect(outcome).toMatchObject({ kind: 'unknown-gift' });
      expect(ledger.events.size).toBe(0);
    });

    it('keeps the news of a gift no row holds yet, newest first, for the poller', async () => {
      // Prepare: &Open announced the gift before the sender recorded its create answer.
      const early = gift({ id: 'aaaaaaaa-0000-4000-8000-000000000001' });
      const older = { ...early, redemption_url: null, updated_at: CREATED_AT };

      // Act
      await service.receive(signed(json(early)));
      await service.receive(signed(json(older)));

      // Assess
      expect(await ledger.unmatchedNews('aaaaaaaa-0000-4000-8000-000000000001')).toMatchObject({
        redemptionUrl: LINK,
        giftUpdatedAt: URL_AT,
        expiresAt: Math.floor(T0 / 1000) + UNMATCHED_NEWS_RETENTION_S,
      });
    });

    it('ignores a signed payload that is not a gift request', async () => {
      // Prepare
      const campaign = { id: 'c', name: 'Winter', products: [] };

      // Act
      const outcome = await service.receive(signed(json(campaign)));

      // Assess
      expect(outcome.kind).toBe('not-a-gift');
    });

    it('ignores a signed body that is not JSON', async () => {
      // Act
      const outcome = await service.receive(signed('<html>oops</html>'));

      // Assess
      expect(outcome.kind).toBe('not-a-gift');
    });
  });

  describe('the poller as a safety net', () => {
    it('settles a row from news kept before the row knew its gift, without calling &Open', async () => {
      // Prepare
      await ledger.keepUnmatchedNews({
        giftRequestId: GIFT,
        giftStatus: 'submitted',
        redemptionUrl: LINK,
        giftUpdatedAt: URL_AT,
        expiresAt: Math.floor(T0 / 1000) + 60,
      });
      const asked: string[] = [];
      const api = {
        getGiftRequest: async (id: string) => {
          asked.push(id);
          throw new Error('no GET expected');
        },
      } as unknown as GiftingApi;
      clock.at = T0 + 120_000;
      const poller = new PollService({
        ledger,
        api,
        clock,
        settings: {
          minIntervalMs: 1_000,
          maxIntervalMs: 60_000,
          rowsPerRun: 10,
          concurrency: 2,
          useWebhookNews: true,
        },
      });

      // Act
      const report = await poller.pollDue();

      // Assess
      expect(asked).toEqual([]);
      expect(report).toMatchObject({ polled: 0, settled: 1, fromWebhookNews: 1 });
      expect(await ledger.getRow('b1', 1)).toMatchObject({ redemptionUrl: LINK, pollDueAt: null });
    });
  });

  describe('races', () => {
    it('decides again from the row itself when the row changed after the lookup', async () => {
      // Prepare: the index still shows the row without its URL, but the poller has recorded it.
      ledger.staleCopy = await ledger.findGift(GIFT);
      await ledger.updateGift(
        'b1',
        1,
        {
          giftStatus: 'submitted',
          redemptionUrl: LINK,
          giftUpdatedAt: URL_AT,
          requestId: 'req_get',
          pollDueAt: null,
        },
        URL_AT,
      );
      await ledger.addToCounts('b1', { settled: 1 }, URL_AT);

      // Act
      const outcome = await service.receive(signed(json(gift())));

      // Assess
      expect(outcome.kind).toBe('unchanged');
      expect((await ledger.getBatch('b1'))?.counts.settled).toBe(1);
    });
  });
});

/** The ledger, with a gift request index that may still show an older copy of a row. */
class LaggingIndexLedger extends InMemoryLedger {
  staleCopy: TrackedGift | null = null;

  override async findGift(giftRequestId: string): Promise<TrackedGift | null> {
    return this.staleCopy ?? super.findGift(giftRequestId);
  }
}
