import { describe, expect, it } from 'vitest';
import { readRecipients } from '../../../lambdas/core/recipients/index.ts';
import { chunked, collect } from './streams.ts';

const CAMPAIGN = '22222222-2222-4222-8222-222222222222';
const ADDRESS = {
  address1: '12 Merrion Square',
  city: 'Dublin',
  region: 'Leinster',
  postal_code: 'D02 XY45',
  country_code: 'IE',
  phone: '+353871234567',
};

function jsonl(...objects: unknown[]): string {
  return `${objects.map((object) => (typeof object === 'string' ? object : JSON.stringify(object))).join('\r\n')}\r\n`;
}

describe('JSON Lines files', () => {
  it('turns an API-shaped line into exactly that body, several items included', async () => {
    // Prepare
    const line = {
      campaign_id: CAMPAIGN,
      external_id: 'EMP-1',
      recipient: { first_name: ' Ann ', last_name: 'Lee' },
      shipping_address: ADDRESS,
      line_items: [
        { sku: 'MUG-WHT', quantity: 2 },
        { variant_id: 'v-1', quantity: '1' },
      ],
    };
    const file = readRecipients(chunked(jsonl(line), 9), { fileName: 'team.jsonl' });

    // Act
    const rows = await collect(file);

    // Assess
    expect(file.summary().format).toBe('jsonl');
    expect(rows[0]).toMatchObject({ row: 1, line: 1, externalId: 'EMP-1' });
    expect(rows[0]?.result.valid && rows[0].result.body).toStrictEqual({
      campaign_id: CAMPAIGN,
      recipient: { first_name: 'Ann', last_name: 'Lee' },
      shipping_address: ADDRESS,
      line_items: [
        { sku: 'MUG-WHT', quantity: 2 },
        { variant_id: 'v-1', quantity: 1 },
      ],
    });
  });

  it('makes a line of invalid JSON an invalid row, not a fatal error', async () => {
    // Prepare
    const good = { campaign_id: CAMPAIGN, recipient: { first_name: 'A', last_name: 'B' } };
    const text = jsonl(good, '{"campaign_id": "x", recipient: }', '', good);

    // Act
    const rows = await collect(readRecipients(chunked(text, 5), { fileName: 'x.ndjson' }));

    // Assess
    expect(rows.map((row) => [row.row, row.line, row.result.valid])).toEqual([
      [1, 1, true],
      [2, 2, false],
      [3, 4, true],
    ]);
    expect(rows[1]?.result.valid === false && rows[1].result.errors[0]).toMatchObject({
      code: 'invalid_json',
      param: null,
      line: 2,
      column: null,
    });
    expect(rows[1]?.result.valid === false && rows[1].result.errors[0]?.message).toMatch(
      /^is not valid JSON \(/,
    );
  });

  it('points errors at JSON paths', async () => {
    // Prepare
    const line = {
      campaign_id: CAMPAIGN,
      recipient: { first_name: 'A' },
      shipping_address: { ...ADDRESS, country_code: 'ie' },
      line_items: [{ sku: 'MUG-WHT', quantity: 1 }, { quantity: 0 }],
    };

    // Act
    const rows = await collect(readRecipients(chunked(jsonl(line), 64)));

    // Assess
    expect(rows[0]?.result.valid === false && rows[0].result.errors).toMatchObject([
      { code: 'required', param: 'recipient.last_name', column: 'recipient.last_name', line: 1 },
      { code: 'invalid_format', param: 'shipping_address.country_code', line: 1 },
      { code: 'invalid', param: 'line_items[1].quantity', column: 'line_items[1].quantity' },
      { code: 'required', param: 'line_items[1].sku', column: 'line_items[1].sku' },
    ]);
  });

  it('rejects shipping_address without line_items (both or neither)', async () => {
    // Prepare
    const line = {
      campaign_id: CAMPAIGN,
      recipient: { first_name: 'A', last_name: 'B' },
      shipping_address: ADDRESS,
    };

    // Act
    const rows = await collect(readRecipients(chunked(jsonl(line), 64)));

    // Assess
    expect(rows[0]?.result.valid === false && rows[0].result.errors).toMatchObject([
      { code: 'required', param: 'line_items' },
    ]);
  });

  it('rejects an empty line_items array', async () => {
    // Prepare
    const line = {
      campaign_id: CAMPAIGN,
      recipient: { first_name: 'A', last_name: 'B' },
      shipping_address: ADDRESS,
      line_items: [],
    };

    // Act
    const rows = await collect(readRecipients(chunked(jsonl(line), 64)));

    // Assess
    expect(rows[0]?.result.valid === false && rows[0].result.errors).toMatchObject([
      { code: 'required', param: 'line_items' },
    ]);
  });

  it('sniffs JSON Lines without a telling file name and warns once per unknown key', async () => {
    // Prepare
    const line = {
      campaign_id: CAMPAIGN,
      recipient: { first_name: 'A', last_name: 'B', tz: 'x' },
      note: 1,
    };
    const file = readRecipients(chunked(`  \n${jsonl(line, line)}`, 7), { fileName: 'upload.dat' });

    // Act
    const rows = await collect(file);

    // Assess
    expect(file.summary().format).toBe('jsonl');
    expect(rows.map((row) => row.line)).toEqual([2, 3]);
    expect(file.summary().warnings.map((warning) => warning.column)).toEqual([
      'recipient.tz',
      'note',
    ]);
  });

  it('uses the default campaign when a line has none', async () => {
    // Prepare
    const line = { recipient: { first_name: 'A', last_name: 'B' } };

    // Act
    const rows = await collect(
      readRecipients(chunked(jsonl(line), 64), {
        fileName: 'a.jsonl',
        defaultCampaignId: CAMPAIGN,
      }),
    );

    // Assess
    expect(rows[0]?.result.valid && rows[0].result.body.campaign_id).toBe(CAMPAIGN);
  });
});
