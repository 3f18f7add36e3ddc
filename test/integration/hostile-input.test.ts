import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BatchRecord, RowRecord } from '../../lambdas/ports/ledger.ts';
import { batchIdOfUpload, LocalPipeline } from '../../local/runtime/local-pipeline.ts';
import { DEMO_CAMPAIGNS } from '../../sandbox/index.ts';

/**
 * The pipeline-level promise for broken and hostile files, through the real splitter handler and
 * the stand-ins: a clear error saying what and where on the batch, nothing lost that was accepted
 * before the break, nothing of a refused file recorded or sent. (How each problem is detected is
 * unit-tested in test/unit/recipients; this suite checks what the ledger, the batch, the sandbox
 * and the results file end up with.)
 */
const CHOICE = DEMO_CAMPAIGNS.choice;
const HEADER = 'campaign_id,external_id,first_name,last_name';

describe('hostile and broken recipient files through the pipeline', () => {
  let dir: string;
  let pipeline: LocalPipeline;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gift-batch-hostile-'));
    pipeline = await LocalPipeline.start({
      stateDir: join(dir, 'state'),
      fresh: true,
      sandbox: { redemptionUrlDelayMs: 0 },
      pollEveryMs: 200,
      environment: { POLL_FIRST_AFTER_MS: '100', POLL_MIN_INTERVAL_MS: '100' },
    });
  }, 60_000);

  afterAll(async () => {
    await pipeline?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /** Uploads bytes as a file and runs the splitter on its event; the batch as the split left it. */
  async function split(
    name: string,
    content: string | Uint8Array,
    before?: (event: Awaited<ReturnType<LocalPipeline['upload']>>) => Promise<void>,
  ): Promise<{ batchId: string; batch: BatchRecord; rows: RowRecord[] }> {
    const file = join(dir, name);
    await writeFile(file, content);
    const event = await pipeline.upload(file);
    await before?.(event);
    await pipeline.split(event);
    const batchId = await batchIdOfUpload(event);
    const batch = await pipeline.ledger.getBatch(batchId);
    if (!batch) throw new Error(`no batch ${batchId}`);
    const rows: RowRecord[] = [];
    for await (const row of pipeline.ledger.listRows(batchId)) rows.push(row);
    return { batchId, batch, rows };
  }

  async function expectRefusedWhole(
    name: string,
    content: string | Uint8Array,
    fileError: RegExp | string,
  ): Promise<void> {
    const { batch, rows } = await split(name, content);
    expect(batch.fileError).toMatch(fileError);
    expect(batch.counts).toMatchObject({ rows: 0, valid: 0, invalid: 0 });
    expect(rows).toEqual([]);
  }

  const sentNames = (): string[] =>
    (pipeline.sandbox?.journal.gifts ?? []).map(
      (gift) => (gift.body as { recipient: { first_name: string } }).recipient.first_name,
    );

  it('refuses a binary file (a PNG named .csv) whole, saying it is binary', async () => {
    // Prepare
    const png = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0x0d]);

    // Act & Assess
    await expectRefusedWhole('photo.csv', png, /the file is binary/);
  }, 60_000);

  it('refuses a zip (an Excel workbook) whole', async () => {
    // Prepare
    const zip = new Uint8Array([0x50, 0x4b, 0x03, 0x04, 0x14, 0, 0x06, 0, 0x08, 0, 0, 0, 0x21, 0]);

    // Act & Assess
    await expectRefusedWhole('staff.xlsx.csv', zip, /Excel workbook or a zip archive/);
  }, 60_000);

  it('refuses an empty file, a header with no rows and a header missing a required column', async () => {
    // Act & Assess
    await expectRefusedWhole('empty.csv', '', 'the file is empty (0 bytes)');
    await expectRefusedWhole('header-only.csv', `${HEADER}\r\n`, /header but no data rows/);
    await expectRefusedWhole(
      'no-last-name.csv',
      `campaign_id,first_name\r\n${CHOICE},Ann\r\n`,
      /^line 1: required column missing: last_name/,
    );
  }, 120_000);

  it('keeps and sends the rows before a line in another encoding, naming that line', async () => {
    // Prepare: UTF-8 (with an é) for two rows, then a Windows-1252 é on line 4.
    const utf8 = new TextEncoder().encode(
      `${HEADER}\r\n${CHOICE},W1,Zoé,Enc\r\n${CHOICE},W2,Bea,Enc\r\n${CHOICE},W3,Jos`,
    );
    const bytes = new Uint8Array([...utf8, 0xe9, ...new TextEncoder().encode(',Enc\r\n')]);

    // Act
    const { batchId, batch, rows } = await split('mixed-encoding.csv', bytes);
    const done = await pipeline.waitForBatch(batchId, () => undefined, { everyMs: 200 });

    // Assess
    expect(batch.fileError).toMatch(/^line 4: /);
    expect(rows.map((row) => row.echo.externalId)).toEqual(['W1', 'W2']);
    expect(done.phase).toBe('complete');
    expect(sentNames()).toEqual(expect.arrayContaining(['Zoé', 'Bea']));
  }, 120_000);

  it('keeps the rows before a 10 MB field and before an unbalanced quote, naming the line', async () => {
    // Prepare
    const huge = `${HEADER}\r\n${CHOICE},F1,Fay,Ok\r\n${CHOICE},F2,${'x'.repeat(10 * 1024 * 1024)},Big\r\n`;
    const quote = `${HEADER}\r\n${CHOICE},Q1,Quinn,Ok\r\n${CHOICE},Q2,"Open,Quote\r\n${CHOICE},Q3,After,It\r\n`;

    // Act
    const field = await split('ten-mb-field.csv', huge);
    const quoted = await split('unbalanced.csv', quote);
    await pipeline.waitForBatch(quoted.batchId, () => undefined, { everyMs: 200 });

    // Assess
    expect(field.batch.fileError).toMatch(/^line 3: .*1 MiB/);
    expect(field.rows.map((row) => row.echo.externalId)).toEqual(['F1']);
    expect(quoted.batch.fileError).toMatch(/^line 3: a quoted field opens here/);
    expect(quoted.rows.map((row) => row.echo.externalId)).toEqual(['Q1']);
    expect(sentNames()).toEqual(expect.arrayContaining(['Fay', 'Quinn']));
    expect(sentNames()).not.toContain('After');
  }, 120_000);

  it('sends formula-like cells to &Open unchanged and neutralises them in the results file', async () => {
    // Prepare
    const cells = [
      ['=HYPERLINK("http://evil.example","click")', '+cmd|/C calc', '=1+1'],
      ['@SUM(A1:A9)', '-1+2', '+44 20 7946 0000'],
    ];
    const lines = cells.map(
      ([first, last, id]) =>
        `${CHOICE},"${(id ?? '').replaceAll('"', '""')}","${(first ?? '').replaceAll('"', '""')}","${last}"`,
    );
    const { batchId } = await split('formulas.csv', `${HEADER}\r\n${lines.join('\r\n')}\r\n`);

    // Act
    const batch = await pipeline.waitForBatch(batchId, () => undefined, { everyMs: 200 });
    const out = join(dir, 'formulas.results.csv');
    await pipeline.downloadResults(batch, out);
    const results = await readFile(out, 'utf8');

    // Assess: &Open received the names as data, exactly as written.
    const sent = (pipeline.sandbox?.journal.gifts ?? []).map(
      (gift) => (gift.body as { recipient: { first_name: string; last_name: string } }).recipient,
    );
    expect(sent).toEqual(
      expect.arrayContaining([
        { first_name: '=HYPERLINK("http://evil.example","click")', last_name: '+cmd|/C calc' },
        { first_name: '@SUM(A1:A9)', last_name: '-1+2' },
      ]),
    );
    // Assess: every such cell in the CSV starts with ', so a spreadsheet shows it as text.
    expect(batch.counts).toMatchObject({ rows: 2, valid: 2 });
    expect(results).toContain(`"'=HYPERLINK(""http://evil.example"",""click"")"`);
    expect(results).toContain(",'+cmd|/C calc,");
    expect(results).toContain(",'@SUM(A1:A9),'-1+2,");
    expect(results).toContain(",'=1+1,");
    expect(results).toContain(",'+44 20 7946 0000,");
    for (const line of results.split('\r\n').slice(1)) {
      for (const cell of line.split(',')) expect(cell).not.toMatch(/^[=+@-]/);
    }
  }, 120_000);

  it('refuses a 1,000,000-row file whole (over the 100,000 limit), recording and sending nothing', async () => {
    // Prepare
    const file = join(dir, 'million.csv');
    const out = createWriteStream(file);
    out.write(`${HEADER}\r\n`);
    for (let row = 1; row <= 1_000_000; row += 1) {
      if (!out.write(`${CHOICE},M${row},Million,Row${row}\r\n`)) await once(out, 'drain');
    }
    out.end();
    await once(out, 'finish');
    const gifts = pipeline.sandbox?.journal.gifts.length;
    const event = await pipeline.upload(file);

    // Act
    await pipeline.split(event);

    // Assess
    const batch = await pipeline.ledger.getBatch(await batchIdOfUpload(event));
    expect(batch?.fileError).toBe(
      'the file has more than 100,000 data rows (the limit per file); split it, or raise the limit with --max-rows / MAX_ROWS_PER_FILE',
    );
    expect(batch?.counts).toMatchObject({ rows: 0, valid: 0 });
    const rows: RowRecord[] = [];
    for await (const row of pipeline.ledger.listRows(batch?.batchId ?? '', { limit: 1 })) {
      rows.push(row);
    }
    expect(rows).toEqual([]);
    expect(pipeline.sandbox?.journal.gifts.length).toBe(gifts);
  }, 300_000);

  it('records a batch that says the file was deleted between its event and its read', async () => {
    // Act
    const { batch, rows } = await split(
      'deleted.csv',
      `${HEADER}\r\n${CHOICE},D1,Del,Eted\r\n`,
      (event) => pipeline.deleteUpload(event),
    );

    // Assess
    expect(batch.fileError).toMatch(/deleted.csv was deleted before it could be read/);
    expect(batch.counts.rows).toBe(0);
    expect(rows).toEqual([]);
  }, 60_000);
});
