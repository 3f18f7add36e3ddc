import { describe, expect, it } from 'vitest';
import {
  campaignFromUploadKey,
  RecipientFileError,
  type RecipientRow,
  readRecipients,
} from '../../../lambdas/core/recipients/index.ts';
import { bytesOf, chunked, collect, collectUntilError, randomlyChunked } from './streams.ts';

const CAMPAIGN = '11111111-1111-4111-8111-111111111111';
const MIB = 1024 * 1024;

function validBodies(rows: RecipientRow[]) {
  return rows.map((row) => (row.result.valid ? row.result.body : row.result.errors));
}

async function fatalOf(source: AsyncIterable<Uint8Array>, options = {}) {
  const { error } = await collectUntilError(readRecipients(source, options));
  expect(error).toBeInstanceOf(RecipientFileError);
  return error as RecipientFileError;
}

describe('readRecipients: encodings and CSV shapes', () => {
  it('reads UTF-8 with a BOM, and the BOM is not part of the first header', async () => {
    // Prepare
    const text = `\uFEFFcampaign_id,First Name,Last Name\r\n${CAMPAIGN},Zoë,Ørsted\r\n`;
    const file = readRecipients(chunked(text, 2), { fileName: 'team.csv' });

    // Act
    const rows = await collect(file);

    // Assess
    expect(file.summary()).toMatchObject({ encoding: 'utf-8', bom: true, delimiter: ',' });
    expect(file.summary().columns.campaign_id).toBe('campaign_id');
    expect(validBodies(rows)).toEqual([
      { campaign_id: CAMPAIGN, recipient: { first_name: 'Zoë', last_name: 'Ørsted' } },
    ]);
  });

  it('detects an Excel Windows-1252 ";" file and decodes é, ü and €', async () => {
    // Prepare
    const bytes = new Uint8Array([
      ...bytesOf(`campaign_id;First Name;Last Name;External ID\r\n${CAMPAIGN};Ren`),
      0xe9, // é
      ...bytesOf(';M'),
      0xfc, // ü
      ...bytesOf('ller;'),
      0x80, // €
      ...bytesOf('-5\r\n'),
    ]);
    const file = readRecipients(chunked(bytes, 7));

    // Act
    const rows = await collect(file);

    // Assess
    expect(file.summary()).toMatchObject({ encoding: 'windows-1252', bom: false, delimiter: ';' });
    expect(rows[0]?.source).toEqual({
      campaign_id: CAMPAIGN,
      first_name: 'René',
      last_name: 'Müller',
      email: '',
      external_id: '€-5',
    });
    expect(rows[0]?.result.valid).toBe(true);
  });

  it('detects Windows-1252 even when its first accented letter is far into the file', async () => {
    // Prepare
    const ascii = `campaign_id,first_name,last_name\n${`${CAMPAIGN},Ann,Lee\n`.repeat(3000)}`;
    const bytes = new Uint8Array([
      ...bytesOf(`${ascii}${CAMPAIGN},Jos`),
      0xe9,
      ...bytesOf(',Ruiz\n'),
    ]);

    // Act
    const file = readRecipients(chunked(bytes, 64 * 1024));
    const rows = await collect(file);

    // Assess
    expect(file.summary().encoding).toBe('windows-1252');
    expect(rows.at(-1)?.source.first_name).toBe('José');
  });

  it('reads a UTF-8 character cut across one-byte chunks', async () => {
    // Prepare
    const text = `campaign_id,first_name,last_name\n${CAMPAIGN},Chloé,Dubois €\n`;

    // Act
    const file = readRecipients(chunked(text, 1));
    const rows = await collect(file);

    // Assess
    expect(file.summary()).toMatchObject({ encoding: 'utf-8', bom: false });
    expect(rows[0]?.source).toMatchObject({ first_name: 'Chloé', last_name: 'Dubois €' });
  });

  it('reads a tab-separated UTF-16 "Unicode Text" export', async () => {
    // Prepare
    const text = `campaign_id\tfirst_name\tlast_name\r\n${CAMPAIGN}\tÅsa\tBerg\r\n`;
    const bytes = new Uint8Array(2 + text.length * 2);
    bytes.set([0xff, 0xfe]);
    for (let i = 0; i < text.length; i++) {
      bytes[2 + i * 2] = text.charCodeAt(i) & 0xff;
      bytes[3 + i * 2] = text.charCodeAt(i) >> 8;
    }

    // Act
    const file = readRecipients(chunked(bytes, 5));
    const rows = await collect(file);

    // Assess
    expect(file.summary()).toMatchObject({ encoding: 'utf-16le', bom: true, delimiter: '\t' });
    expect(rows[0]?.source.first_name).toBe('Åsa');
  });

  it('parses the same rows whatever the chunking (1 byte, random sizes, whole)', async () => {
    // Prepare
    const text =
      'Campaign ID;First Name;Last Name;Address 1;City;State;Zip;Country;Phone;SKU;Qty\r\n' +
      `${CAMPAIGN};"Ann ""Nan""";Lee;"Flat 1\r\n2 High St";Leeds;Yorks;LS1;GB;+4411;MUG-WHT;2\r\n` +
      `\r\n${CAMPAIGN};Bo;Ek;;;;;;;;\r\n`;

    // Act
    const whole = await collect(readRecipients(chunked(text, 1 << 20)));
    const bytewise = await collect(readRecipients(chunked(text, 1)));
    const random = await Promise.all(
      [1, 2, 3, 4, 5].map((seed) => collect(readRecipients(randomlyChunked(text, seed)))),
    );

    // Assess
    expect(bytewise).toEqual(whole);
    for (const rows of random) expect(rows).toEqual(whole);
    expect(whole.map((row) => [row.row, row.line])).toEqual([
      [1, 2],
      [2, 5],
    ]);
    expect(whole[0]?.result.valid && whole[0].result.body.shipping_address?.address1).toBe(
      'Flat 1\r\n2 High St',
    );
  });

  it('skips blank lines but counts them in line numbers', async () => {
    // Prepare
    const text = `\n\ncampaign_id,first_name,last_name\n\n${CAMPAIGN},A,B\n , ,\n\n${CAMPAIGN},C,D\n`;

    // Act
    const rows = await collect(readRecipients(chunked(text, 3)));

    // Assess
    expect(rows.map((row) => ({ row: row.row, line: row.line }))).toEqual([
      { row: 1, line: 5 },
      { row: 2, line: 8 },
    ]);
  });
});

describe('readRecipients: headers', () => {
  it('matches spreadsheet header spellings to the canonical columns', async () => {
    // Prepare
    const header =
      'CAMPAIGN,given name,SURNAME,E-mail,Street,Address Line 2,Town,Province,Postal Code,' +
      'Country Code,Mobile,sku,Variant ID,Quantity,External ID';
    const file = readRecipients(chunked(`${header}\n`, 10));

    // Act
    await collect(file);

    // Assess
    expect(file.summary().columns).toEqual({
      campaign_id: 'CAMPAIGN',
      first_name: 'given name',
      last_name: 'SURNAME',
      email: 'E-mail',
      address1: 'Street',
      address2: 'Address Line 2',
      city: 'Town',
      region: 'Province',
      postal_code: 'Postal Code',
      country_code: 'Country Code',
      phone: 'Mobile',
      sku: 'sku',
      variant_id: 'Variant ID',
      quantity: 'Quantity',
      external_id: 'External ID',
    });
  });

  it('warns once per unknown column, not once per row', async () => {
    // Prepare
    const text = `campaign_id,first_name,last_name,Notes,Team\n${`${CAMPAIGN},A,B,hi,x\n`.repeat(50)}`;
    const file = readRecipients(chunked(text, 64));

    // Act
    const rows = await collect(file);

    // Assess
    expect(rows).toHaveLength(50);
    expect(rows.every((row) => row.result.valid)).toBe(true);
    expect(file.summary().warnings).toEqual([
      { code: 'unknown_column', message: 'unknown column "Notes" is ignored', column: 'Notes' },
      { code: 'unknown_column', message: 'unknown column "Team" is ignored', column: 'Team' },
    ]);
  });

  it('warns about a second column meaning the same thing and keeps the first', async () => {
    // Prepare
    const text = `campaign_id,first_name,last_name,Phone,Mobile\n${CAMPAIGN},A,B,+1,+2\n`;
    const file = readRecipients(chunked(text, 64));

    // Act
    await collect(file);

    // Assess
    expect(file.summary().warnings).toEqual([
      {
        code: 'repeated_column',
        message: 'column "Mobile" also means phone; using "Phone", ignoring "Mobile"',
        column: 'Mobile',
      },
    ]);
  });
});

describe('readRecipients: fatal file problems', () => {
  it('rejects an empty file', async () => {
    // Prepare
    const source = chunked('', 1);

    // Act
    const error = await fatalOf(source);

    // Assess
    expect(error).toMatchObject({ name: 'RecipientFileError', code: 'empty', line: null });
    expect(error.message).toBe('the file is empty (0 bytes)');
  });

  it('rejects a file of blank lines as having no header', async () => {
    // Prepare
    const source = chunked('\r\n  \r\n\t\n', 2);

    // Act
    const error = await fatalOf(source, { fileName: 'x.csv' });

    // Assess
    expect(error.code).toBe('no_header');
  });

  it('rejects a binary file with NUL bytes', async () => {
    // Prepare
    const bytes = new Uint8Array(4096).map((_, i) => (i * 37) % 256);

    // Act
    const error = await fatalOf(chunked(bytes, 1000));

    // Assess
    expect(error.code).toBe('binary');
    expect(error.message).not.toContain('\n');
  });

  it('names an Excel workbook uploaded instead of a CSV', async () => {
    // Prepare
    const bytes = new Uint8Array([0x50, 0x4b, 0x03, 0x04, 0x14, 0x00, 0x06, 0x00]);

    // Act
    const error = await fatalOf(chunked(bytes, 3), { fileName: 'team.csv' });

    // Assess
    expect(error.code).toBe('binary');
    expect(error.message).toContain('Excel workbook');
  });

  it('accepts a header-only file: 0 rows, said in the summary', async () => {
    // Prepare
    const file = readRecipients(chunked('campaign_id,first_name,last_name\r\n', 4));

    // Act
    const rows = await collect(file);

    // Assess
    expect(rows).toEqual([]);
    expect(file.summary()).toMatchObject({ rows: 0, finished: true });
    expect(file.summary().warnings).toEqual([
      { code: 'no_rows', message: 'the file has a header but no data rows', column: null },
    ]);
  });

  it('names the missing required columns and what the header had', async () => {
    // Prepare
    const source = chunked('Name,E-mail\nAda Lovelace,ada@example.com\n', 8);

    // Act
    const error = await fatalOf(source);

    // Assess
    expect(error).toMatchObject({ code: 'missing_columns', line: 1 });
    expect(error.message).toBe(
      'line 1: required columns missing: campaign_id, first_name, last_name ' +
        '(or give a default campaign); the header has "Name", "E-mail"',
    );
  });

  it('does not require a campaign_id column when a default campaign is given', async () => {
    // Prepare
    const source = chunked('first_name,last_name\nAda,Lovelace\n', 8);

    // Act
    const rows = await collect(readRecipients(source, { defaultCampaignId: CAMPAIGN }));

    // Assess
    expect(validBodies(rows)).toEqual([
      { campaign_id: CAMPAIGN, recipient: { first_name: 'Ada', last_name: 'Lovelace' } },
    ]);
  });

  it('stops on a 10 MB field after reading little more than the limit', async () => {
    // Prepare
    let bytesRead = 0;
    async function* hugeField() {
      yield bytesOf(`campaign_id,first_name,last_name\n${CAMPAIGN},"`);
      for (let i = 0; i < 160; i++) {
        bytesRead += 64 * 1024;
        yield new Uint8Array(64 * 1024).fill(0x61);
      }
    }

    // Act
    const error = await fatalOf(hugeField());

    // Assess
    expect(error).toMatchObject({ code: 'field_too_large', line: 2 });
    expect(error.message).toContain('1 MiB');
    expect(bytesRead).toBeLessThanOrEqual(MIB + 64 * 1024);
  });

  it('honours a smaller maxFieldBytes', async () => {
    // Prepare
    const text = `campaign_id,first_name,last_name\n${CAMPAIGN},${'x'.repeat(50)},B\n`;

    // Act
    const error = await fatalOf(chunked(text, 16), { maxFieldBytes: 20 });

    // Assess
    expect(error).toMatchObject({ code: 'field_too_large', line: 2 });
  });

  it('keeps the rows read before an unbalanced quote and names the line it opened on', async () => {
    // Prepare
    const text = `campaign_id,first_name,last_name\n${CAMPAIGN},A,B\n${CAMPAIGN},"C,D\n${CAMPAIGN},E,F\n`;

    // Act
    const { items, error } = await collectUntilError(readRecipients(chunked(text, 5)));

    // Assess
    expect(items.map((row) => row.source.first_name)).toEqual(['A']);
    expect(error).toMatchObject({ code: 'unbalanced_quotes', line: 3 });
  });

  it('stops past maxRows with an error that refuses the whole file and says how to raise it', async () => {
    // Prepare
    const text = `campaign_id,first_name,last_name\n${`${CAMPAIGN},A,B\n`.repeat(4)}`;

    // Act
    const { items, error } = await collectUntilError(
      readRecipients(chunked(text, 9), { maxRows: 3 }),
    );

    // Assess
    expect(items).toHaveLength(3);
    expect(error).toMatchObject({ code: 'too_many_rows', line: null });
    expect((error as Error).message).toBe(
      'the file has more than 3 data rows (the limit per file); split it, or raise the limit with --max-rows / MAX_ROWS_PER_FILE',
    );
  });

  it('rejects UTF-8 that turns into other bytes later (mixed encodings)', async () => {
    // Prepare
    const bytes = new Uint8Array([
      ...bytesOf(`campaign_id,first_name,last_name\n${CAMPAIGN},Zoë,A\n${CAMPAIGN},Jos`),
      0xe9,
      ...bytesOf(',B\n'),
    ]);

    // Act
    const error = await fatalOf(chunked(bytes, 40));

    // Assess
    expect(error.code).toBe('invalid_encoding');
    expect(error.line).toBeGreaterThan(1);
  });

  it('rejects mixed encodings within one chunk too, keeping the rows before and naming the line', async () => {
    // Prepare: the whole file in one chunk, as S3 hands over a small file.
    const bytes = new Uint8Array([
      ...bytesOf(`campaign_id,first_name,last_name\n${CAMPAIGN},Zoë,A\n${CAMPAIGN},Jos`),
      0xe9,
      ...bytesOf(',B\n'),
    ]);

    // Act
    const { items, error } = await collectUntilError(readRecipients(chunked(bytes, 1_000)));

    // Assess
    expect(items.map((row) => row.source.first_name)).toEqual(['Zoë']);
    expect(error).toMatchObject({ code: 'invalid_encoding', line: 3 });
  });
});

describe('readRecipients: campaign and extra cells', () => {
  it('uses the default campaign for blank cells only: a non-empty cell wins', async () => {
    // Prepare
    const other = '33333333-3333-4333-8333-333333333333';
    const text = `campaign_id,first_name,last_name\n,A,B\n${other},C,D\n`;

    // Act
    const rows = await collect(readRecipients(chunked(text, 6), { defaultCampaignId: CAMPAIGN }));

    // Assess
    expect(rows.map((row) => row.source.campaign_id)).toEqual([CAMPAIGN, other]);
  });

  it('takes the campaign from an upload key', async () => {
    // Prepare
    const key = `uploads/${CAMPAIGN}/team march.csv`;

    // Act
    const campaign = campaignFromUploadKey(key);
    const rows = await collect(
      readRecipients(chunked('first_name,last_name\nA,B\n', 4), {
        fileName: key,
        defaultCampaignId: campaign,
      }),
    );

    // Assess
    expect(campaign).toBe(CAMPAIGN);
    expect(campaignFromUploadKey('uploads/team.csv')).toBeNull();
    expect(campaignFromUploadKey(`other/${CAMPAIGN}/team.csv`)).toBeNull();
    expect(rows[0]?.result.valid && rows[0].result.body.campaign_id).toBe(CAMPAIGN);
  });

  it('flags a row with more filled cells than the header (shifted columns)', async () => {
    // Prepare
    const text = `campaign_id,first_name,last_name,city\n${CAMPAIGN},A,B,Dublin, Ireland\n${CAMPAIGN},C,D,,,\n`;

    // Act
    const rows = await collect(readRecipients(chunked(text, 64)));

    // Assess
    expect(rows[0]?.result.valid === false && rows[0].result.errors.map((e) => e.code)).toContain(
      'extra_cells',
    );
    expect(rows[1]?.result.valid).toBe(true);
  });
});
