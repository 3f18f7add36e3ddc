import { describe, expect, it } from 'vitest';
import { PreflightService } from '../../../lambdas/core/preflight-service.ts';
import { FleetRateLimiter } from '../../../lambdas/core/rate-limiter.ts';
import { readRecipients, tooManyRowsMessage } from '../../../lambdas/core/recipients/index.ts';
import {
  answer,
  campaign,
  InMemoryCatalogueApi,
  variant,
} from '../../support/in-memory-catalogue.ts';
import { InMemoryLimiterStore } from '../../support/simulated-fleet.ts';
import { chunked } from '../recipients/streams.ts';

const DIRECT = 'cmp-direct';
const CHOICE = 'cmp-choice';
const ARCHIVED = 'cmp-archived';
const MISSING = 'cmp-missing';

const HEADER =
  'campaign_id,external_id,first_name,last_name,address1,city,region,postal_code,country_code,phone,sku,variant_id,quantity';
const ADDRESS = '1 Main St,Dublin,Leinster,D01,IE,+35311111';

function choiceRow(campaignId: string, externalId: string): string {
  return `${campaignId},${externalId},Ann,Lee,,,,,,,,,`;
}

function directRow(
  campaignId: string,
  externalId: string,
  item: { sku?: string; variantId?: string; quantity?: number },
): string {
  return `${campaignId},${externalId},Ann,Lee,${ADDRESS},${item.sku ?? ''},${item.variantId ?? ''},${item.quantity ?? 1}`;
}

function file(rows: string[]) {
  return readRecipients(chunked([HEADER, ...rows].join('\r\n'), 64), { fileName: 'staff.csv' });
}

function catalogue(): InMemoryCatalogueApi {
  return new InMemoryCatalogueApi([
    campaign(DIRECT, {
      name: 'Team Hoodies',
      variants: [
        variant('HOODIE-L-BLK', 12),
        variant('MUG-WHT', 1000),
        variant('TEE-OLD', 50, false),
      ],
    }),
    campaign(CHOICE, { name: 'Welcome', invitation_method: 'recipient_choice' }),
    campaign(ARCHIVED, { name: 'Holiday 2025', status: 'archived' }),
  ]);
}

const clock = { now: () => Date.parse('2026-11-22T10:00:00.000Z') };
const noSleep = async () => undefined;

describe('PreflightService', () => {
  it('finds every kind of problem in one file, naming the rows', async () => {
    // Prepare
    const api = catalogue();
    const service = new PreflightService({ api, clock, sleep: noSleep });
    const rows = [
      choiceRow(MISSING, 'E1'), // row 1: unknown campaign
      choiceRow(ARCHIVED, 'E2'), // row 2: archived
      directRow(CHOICE, 'E3', { sku: 'MUG-WHT' }), // row 3: direct-send on a choice campaign
      directRow(DIRECT, 'E4', { sku: 'HOODIE-XXL-PNK' }), // row 4: unknown sku
      directRow(DIRECT, 'E5', { sku: 'TEE-OLD' }), // row 5: disabled variant
      directRow(DIRECT, 'E6', { variantId: 'variant-nope' }), // row 6: unknown variant id
      directRow(DIRECT, 'E7', { sku: 'MUG-WHT', quantity: 2 }), // row 7: fine
      choiceRow(CHOICE, 'E8'), // row 8: fine
    ];

    // Act
    const report = await service.check(file(rows));

    // Assess
    expect(report).toMatchObject({ rows: 8, checkedRows: 8, invalidRows: 0, fileError: null });
    const byKind = Object.fromEntries(
      report.findings.map((f) => [`${f.kind} ${f.sku ?? f.variantId ?? f.campaignId}`, f]),
    );
    expect(Object.keys(byKind).sort()).toEqual([
      `archived-campaign ${ARCHIVED}`,
      `direct-send-not-allowed ${CHOICE}`,
      'unknown-campaign cmp-missing',
      'unknown-variant HOODIE-XXL-PNK',
      'unknown-variant TEE-OLD',
      'unknown-variant variant-nope',
    ]);
    expect(byKind[`unknown-campaign ${MISSING}`]).toMatchObject({
      rows: 1,
      examples: [{ row: 1, line: 2, externalId: 'E1' }],
      message: `campaign ${MISSING} does not exist at &Open: 1 row (row 1) would be rejected`,
    });
    expect(byKind[`archived-campaign ${ARCHIVED}`]?.message).toBe(
      `campaign ${ARCHIVED} (Holiday 2025) is archived: 1 row (row 2) would be rejected`,
    );
    expect(byKind[`direct-send-not-allowed ${CHOICE}`]?.message).toContain(
      'invites by recipient_choice, not sender_provided_address: 1 row (row 3)',
    );
    expect(byKind['unknown-variant HOODIE-XXL-PNK']?.message).toBe(
      `sku HOODIE-XXL-PNK matches no variant of campaign ${DIRECT} (Team Hoodies): 1 row (row 4) would be rejected`,
    );
    expect(byKind['unknown-variant TEE-OLD']?.message).toContain('matches no enabled variant');
    expect(byKind['unknown-variant variant-nope']?.examples).toEqual([
      { row: 6, line: 7, externalId: 'E6' },
    ]);
    expect(report.campaigns.map((c) => [c.id, c.lookup, c.rows])).toEqual([
      [MISSING, 'not-found', 1],
      [ARCHIVED, 'found', 1],
      [CHOICE, 'found', 2],
      [DIRECT, 'found', 4],
    ]);
  });

  it('sums stock over the whole file, whether rows name the variant by sku or by id', async () => {
    // Prepare: 12 in stock; 30 rows want one each, a third of them by variant_id.
    const api = catalogue();
    const service = new PreflightService({ api, clock, sleep: noSleep });
    const rows = Array.from({ length: 30 }, (_, index) =>
      index % 3 === 0
        ? directRow(DIRECT, `E${index + 1}`, { variantId: 'variant-HOODIE-L-BLK' })
        : directRow(DIRECT, `E${index + 1}`, { sku: 'HOODIE-L-BLK' }),
    );
    rows.push(directRow(DIRECT, 'E31', { sku: 'MUG-WHT', quantity: 1000 })); // exactly the stock

    // Act
    const report = await service.check(file(rows));

    // Assess
    expect(report.findings).toHaveLength(1);
    const [shortfall] = report.findings;
    expect(shortfall).toMatchObject({
      kind: 'stock-shortfall',
      sku: 'HOODIE-L-BLK',
      rows: 30,
      quantityWanted: 30,
      inStock: 12,
    });
    expect(shortfall?.examples.map((example) => example.row)).toEqual([1, 2, 3, 4, 5]);
    expect(shortfall?.message).toBe(
      `30 rows want HOODIE-L-BLK (quantity 30), 12 in stock in campaign ${DIRECT} (Team Hoodies): rows 1, 2, 3, 4, 5 and 25 more; about 18 short`,
    );
  });

  it('sums quantities, not rows: two rows of 7 want 14 of a stock of 12', async () => {
    // Prepare
    const service = new PreflightService({ api: catalogue(), clock, sleep: noSleep });

    // Act
    const report = await service.check(
      file([
        directRow(DIRECT, 'E1', { sku: 'HOODIE-L-BLK', quantity: 7 }),
        directRow(DIRECT, 'E2', { sku: 'HOODIE-L-BLK', quantity: 7 }),
      ]),
    );

    // Assess
    expect(report.findings).toMatchObject([
      { kind: 'stock-shortfall', rows: 2, quantityWanted: 14, inStock: 12 },
    ]);
  });

  it('asks for each campaign once, however many rows name it', async () => {
    // Prepare
    const api = catalogue();
    const service = new PreflightService({ api, clock, sleep: noSleep });
    const rows = Array.from({ length: 2_000 }, (_, index) =>
      index % 2 === 0
        ? choiceRow(CHOICE, `C${index}`)
        : directRow(DIRECT, `D${index}`, { sku: 'MUG-WHT' }),
    );

    // Act
    const report = await service.check(file(rows));

    // Assess
    expect(api.asked.sort()).toEqual([CHOICE, DIRECT]);
    expect(report.findings).toEqual([]);
    expect(report.checkedRows).toBe(2_000);
  });

  it('reports a clean file as clean and leaves invalid rows to validation', async () => {
    // Prepare
    const service = new PreflightService({ api: catalogue(), clock, sleep: noSleep });

    // Act
    const report = await service.check(
      file([
        choiceRow(CHOICE, 'E1'),
        `${ARCHIVED},E2,Ann,,,,,,,,,,`, // invalid (no last name): never sent, not looked up
      ]),
    );

    // Assess
    expect(report).toMatchObject({ rows: 2, checkedRows: 1, invalidRows: 1, findings: [] });
  });

  it('tries again when &Open says later, and reports a campaign it could not check', async () => {
    // Prepare
    const api = catalogue()
      .script(DIRECT, answer(429, { retryAfterMs: 1_000 }), answer(503))
      .script(
        CHOICE,
        answer(401, {
          errors: [
            { type: 'authentication_error', code: 'invalid_token', message: 'no', param: null },
          ],
        }),
      );
    const slept: number[] = [];
    const service = new PreflightService({
      api,
      clock,
      sleep: async (ms) => {
        slept.push(ms);
      },
    });

    // Act
    const report = await service.check(
      file([directRow(DIRECT, 'E1', { sku: 'MUG-WHT' }), choiceRow(CHOICE, 'E2')]),
    );

    // Assess
    expect(api.asked.filter((id) => id === DIRECT)).toHaveLength(3);
    expect(api.asked.filter((id) => id === CHOICE)).toHaveLength(1); // a refusal is not retried
    expect(slept[0]).toBe(1_000); // the Retry-After
    expect(report.findings).toMatchObject([
      { kind: 'campaign-unchecked', campaignId: CHOICE, rows: 1 },
    ]);
    expect(report.findings[0]?.message).toContain('HTTP 401 invalid_token');
  });

  it('takes every campaign GET from the fleet’s shared rate budget', async () => {
    // Prepare
    const store = new InMemoryLimiterStore();
    const limiter = new FleetRateLimiter({ store, clock, sleep: noSleep });
    const api = catalogue().script(DIRECT, answer(429, { retryAfterMs: 5_000 }));
    const service = new PreflightService({ api, clock, limiter, sleep: noSleep });

    // Act
    await service.check(
      file([directRow(DIRECT, 'E1', { sku: 'MUG-WHT' }), choiceRow(CHOICE, 'E2')]),
    );

    // Assess: slots were reserved in the shared state, and the 429 paused the whole fleet.
    expect(store.writes).toBeGreaterThan(0);
    expect(store.state?.pausedUntil).toBe(clock.now() + 5_000);
    expect(store.state?.pauseReason).toContain('429');
  });

  it('keeps what it read before a file turned unreadable, and says why', async () => {
    // Prepare
    const service = new PreflightService({ api: catalogue(), clock, sleep: noSleep });
    const text = [HEADER, choiceRow(ARCHIVED, 'E1'), `${CHOICE},"E2,Ann,Lee`].join('\r\n');

    // Act
    const report = await service.check(readRecipients(chunked(text, 64), { fileName: 'x.csv' }));

    // Assess
    expect(report.fileError).toMatch(/quote/);
    expect(report.findings).toMatchObject([{ kind: 'archived-campaign', rows: 1 }]);
  });

  it('stops reading a file one row past the row limit and asks &Open nothing about it', async () => {
    // Prepare: a million-row file, one line per chunk, counting the chunks the reader pulls.
    const api = catalogue();
    const service = new PreflightService({ api, clock, sleep: noSleep });
    let pulled = 0;
    async function* lines(): AsyncGenerator<Uint8Array> {
      const encoder = new TextEncoder();
      yield encoder.encode(`${HEADER}\r\n`);
      for (let index = 0; index < 1_000_000; index += 1) {
        pulled += 1;
        yield encoder.encode(`${choiceRow(CHOICE, `E${index}`)}\r\n`);
      }
    }

    // Act
    const report = await service.check(
      readRecipients(lines(), { fileName: 'staff.csv', maxRows: 10 }),
    );

    // Assess
    expect(report.fileError).toBe(tooManyRowsMessage(10));
    expect(pulled).toBeLessThanOrEqual(12); // the limit, the row past it, and one read ahead
    expect(api.asked).toEqual([]);
    expect(report.findings).toEqual([]);
  });
});
