import { describe, expect, it } from 'vitest';
import {
  type RecipientRow,
  type RowError,
  readRecipients,
} from '../../../lambdas/core/recipients/index.ts';
import { chunked, collect } from './streams.ts';

const CAMPAIGN = '22222222-2222-4222-8222-222222222222';
const HEADER =
  'Campaign ID,First Name,Last Name,Email,Address 1,Address 2,City,State,Zip,Country Code,Phone,SKU,Variant ID,Qty,External ID';

interface RowCells {
  campaign?: string;
  first?: string;
  last?: string;
  email?: string;
  address1?: string;
  address2?: string;
  city?: string;
  region?: string;
  zip?: string;
  country?: string;
  phone?: string;
  sku?: string;
  variant?: string;
  qty?: string;
  id?: string;
}

const DIRECT: RowCells = {
  address1: '12 Merrion Square',
  city: 'Dublin',
  region: 'Leinster',
  zip: 'D02 XY45',
  country: 'IE',
  phone: '+353871234567',
  sku: 'HOODIE-L-BLK',
  qty: '1',
};

function csvLine(cells: RowCells): string {
  const values = [
    cells.campaign ?? CAMPAIGN,
    cells.first ?? 'Alice',
    cells.last ?? 'Smith',
    cells.email ?? '',
    cells.address1 ?? '',
    cells.address2 ?? '',
    cells.city ?? '',
    cells.region ?? '',
    cells.zip ?? '',
    cells.country ?? '',
    cells.phone ?? '',
    cells.sku ?? '',
    cells.variant ?? '',
    cells.qty ?? '',
    cells.id ?? '',
  ];
  return values
    .map((value) => (/[",\n]/.test(value) ? `"${value.replaceAll('"', '""')}"` : value))
    .join(',');
}

/** One data row on line 3 (a blank line before it), so line numbers are not just row + 1. */
async function readOne(cells: RowCells): Promise<RecipientRow> {
  const rows = await collect(readRecipients(chunked(`${HEADER}\n\n${csvLine(cells)}\n`, 13)));
  expect(rows).toHaveLength(1);
  return rows[0] as RecipientRow;
}

function errorsOf(row: RecipientRow): RowError[] {
  return row.result.valid ? [] : row.result.errors;
}

describe('validation mirrors POST /gift_requests', () => {
  it.each([
    ['campaign_id', { campaign: '' }, 'campaign_id', 'Campaign ID'],
    ['first_name', { first: '' }, 'recipient.first_name', 'First Name'],
    ['last_name', { last: '' }, 'recipient.last_name', 'Last Name'],
  ])('requires %s', async (_name, cells, param, column) => {
    // Prepare
    const row = cells as RowCells;

    // Act
    const errors = errorsOf(await readOne(row));

    // Assess
    expect(errors).toEqual([{ code: 'required', param, message: 'is required', line: 3, column }]);
  });

  it('counts a whitespace-only value as missing', async () => {
    // Prepare
    const row = { last: '   \t ' };

    // Act
    const errors = errorsOf(await readOne(row));

    // Assess
    expect(errors).toMatchObject([{ code: 'required', param: 'recipient.last_name', line: 3 }]);
  });

  it('accepts a row without email (email is optional)', async () => {
    // Prepare
    const row = { email: '' };

    // Act
    const result = (await readOne(row)).result;

    // Assess
    expect(result.valid).toBe(true);
  });

  it('checks the email format when there is one', async () => {
    // Prepare
    const row = { email: 'alice at example.com' };

    // Act
    const errors = errorsOf(await readOne(row));

    // Assess
    expect(errors).toEqual([
      {
        code: 'invalid_format',
        param: 'recipient.email',
        message: 'must be an email address (got "alice at example.com")',
        line: 3,
        column: 'Email',
      },
    ]);
  });

  it('names every missing field of a partial direct-send row and says why it is needed', async () => {
    // Prepare
    const row = { address1: '88 King Street', sku: 'MUG-WHT' };

    // Act
    const errors = errorsOf(await readOne(row));

    // Assess
    const because = 'because the row is direct-send (it has "Address 1", "SKU")';
    expect(errors).toEqual(
      [
        ['shipping_address.city', 'City'],
        ['shipping_address.region', 'State'],
        ['shipping_address.postal_code', 'Zip'],
        ['shipping_address.country_code', 'Country Code'],
        ['shipping_address.phone', 'Phone'],
        ['line_items[0].quantity', 'Qty'],
      ].map(([param, column]) => ({
        code: 'required',
        param,
        message: `is required ${because}`,
        line: 3,
        column,
      })),
    );
  });

  it('does not require address2 in a direct-send row', async () => {
    // Prepare
    const row = { ...DIRECT, address2: '' };

    // Act
    const result = (await readOne(row)).result;

    // Assess
    expect(result.valid).toBe(true);
  });

  it('rejects a lowercase country code and suggests the uppercase one', async () => {
    // Prepare
    const row = { ...DIRECT, country: 'ie' };

    // Act
    const errors = errorsOf(await readOne(row));

    // Assess
    expect(errors).toEqual([
      {
        code: 'invalid_format',
        param: 'shipping_address.country_code',
        message: 'must be an ISO 3166-1 alpha-2 code in uppercase, e.g. "IE" (got "ie")',
        line: 3,
        column: 'Country Code',
      },
    ]);
  });

  it('rejects a country name instead of a two-letter code', async () => {
    // Prepare
    const row = { ...DIRECT, country: 'Ireland' };

    // Act
    const errors = errorsOf(await readOne(row));

    // Assess
    expect(errors).toMatchObject([
      { code: 'invalid_format', param: 'shipping_address.country_code', column: 'Country Code' },
    ]);
  });

  it.each(['1.5', 'two', '1e3'])('rejects quantity %j as invalid_format', async (qty) => {
    // Prepare
    const row = { ...DIRECT, qty };

    // Act
    const errors = errorsOf(await readOne(row));

    // Assess
    expect(errors).toEqual([
      {
        code: 'invalid_format',
        param: 'line_items[0].quantity',
        message: `must be a whole number (got "${qty}")`,
        line: 3,
        column: 'Qty',
      },
    ]);
  });

  it.each(['0', '-2'])('rejects quantity %j as invalid (an integer below 1)', async (qty) => {
    // Prepare
    const row = { ...DIRECT, qty };

    // Act
    const errors = errorsOf(await readOne(row));

    // Assess
    expect(errors).toEqual([
      {
        code: 'invalid',
        param: 'line_items[0].quantity',
        message: `must be at least 1 (got ${Number(qty)})`,
        line: 3,
        column: 'Qty',
      },
    ]);
  });

  it('requires a sku or a variant_id per item', async () => {
    // Prepare
    const row = { ...DIRECT, sku: '', variant: '' };

    // Act
    const errors = errorsOf(await readOne(row));

    // Assess
    expect(errors).toMatchObject([
      { code: 'required', param: 'line_items[0].sku', line: 3, column: 'SKU' },
    ]);
    expect(errors[0]?.message).toMatch(
      /^sku or variant_id is required because the row is direct-send/,
    );
  });

  it('accepts a variant_id without a sku', async () => {
    // Prepare
    const row = { ...DIRECT, sku: '', variant: '7f3c9a2e-5b1d-4c8e-9a6f-2d4b8e1c0a93' };

    // Act
    const result = (await readOne(row)).result;

    // Assess
    expect(result.valid).toBe(true);
  });

  it('reports every error of a row at once', async () => {
    // Prepare
    const row = { ...DIRECT, first: '', last: '', country: 'ie', qty: '0', email: 'x' };

    // Act
    const errors = errorsOf(await readOne(row));

    // Assess
    expect(errors.map((error) => [error.code, error.param])).toEqual([
      ['required', 'recipient.first_name'],
      ['required', 'recipient.last_name'],
      ['invalid_format', 'recipient.email'],
      ['invalid_format', 'shipping_address.country_code'],
      ['invalid', 'line_items[0].quantity'],
    ]);
  });

  it('keeps formula-looking cells verbatim: they are data, not to be altered', async () => {
    // Prepare
    const row = { first: "=cmd|' /C calc'!A0", last: '+Smith', id: '@ref' };

    // Act
    const result = await readOne(row);

    // Assess
    expect(result.result.valid && result.result.body.recipient).toEqual({
      first_name: "=cmd|' /C calc'!A0",
      last_name: '+Smith',
    });
    expect(result.externalId).toBe('@ref');
  });
});

describe('the request body', () => {
  it('is campaign_id and recipient only in choice-mode, with no email key when blank', async () => {
    // Prepare
    const row = { first: '  Alice ', last: 'Smith', email: '', id: 'EMP-1' };

    // Act
    const result = (await readOne(row)).result;

    // Assess
    expect(result.valid && result.body).toStrictEqual({
      campaign_id: CAMPAIGN,
      recipient: { first_name: 'Alice', last_name: 'Smith' },
    });
  });

  it('carries the email, trimmed, when there is one', async () => {
    // Prepare
    const row = { email: ' alice@example.com ' };

    // Act
    const result = (await readOne(row)).result;

    // Assess
    expect(result.valid && result.body.recipient).toStrictEqual({
      first_name: 'Alice',
      last_name: 'Smith',
      email: 'alice@example.com',
    });
  });

  it('has the exact direct-send shape, without address2 when blank and with a numeric quantity', async () => {
    // Prepare
    const row = { ...DIRECT, qty: ' 2 ' };

    // Act
    const result = (await readOne(row)).result;

    // Assess
    expect(result.valid && JSON.stringify(result.body)).toBe(
      JSON.stringify({
        campaign_id: CAMPAIGN,
        recipient: { first_name: 'Alice', last_name: 'Smith' },
        shipping_address: {
          address1: '12 Merrion Square',
          city: 'Dublin',
          region: 'Leinster',
          postal_code: 'D02 XY45',
          country_code: 'IE',
          phone: '+353871234567',
        },
        line_items: [{ sku: 'HOODIE-L-BLK', quantity: 2 }],
      }),
    );
  });

  it('includes address2 when the row has one', async () => {
    // Prepare
    const row = { ...DIRECT, address2: 'Apt 4' };

    // Act
    const result = (await readOne(row)).result;

    // Assess
    expect(result.valid && result.body.shipping_address?.address2).toBe('Apt 4');
  });

  it('echoes the source fields the results file needs', async () => {
    // Prepare
    const row = { email: 'A@Example.com', id: ' EMP-9 ' };

    // Act
    const result = await readOne(row);

    // Assess
    expect(result).toMatchObject({
      row: 1,
      line: 3,
      externalId: 'EMP-9',
      source: {
        campaign_id: CAMPAIGN,
        first_name: 'Alice',
        last_name: 'Smith',
        email: 'A@Example.com',
        external_id: 'EMP-9',
      },
    });
  });
});
