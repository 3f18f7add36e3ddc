import { execFile } from 'node:child_process';
import { access, constants, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { outcomeOf } from '../../lambdas/core/results.ts';
import type { BatchRecord, RowRecord } from '../../lambdas/ports/ledger.ts';
import {
  batchIdOfUpload,
  besideResults,
  LocalPipeline,
} from '../../local/runtime/local-pipeline.ts';
import { DEMO_CAMPAIGNS } from '../../sandbox/index.ts';
import {
  networkReferences,
  reportChartSends,
  reportErrors,
  reportFigures,
  reportListedRows,
  reportStatuses,
} from '../support/report-figures.ts';

const CHROMIUM = '/usr/bin/chromium';
const CHOICE = DEMO_CAMPAIGNS.choice;
const DIRECT = DEMO_CAMPAIGNS.directSend;
const ADDRESS = '1 Main St,,Dublin,Leinster,D01 1AA,IE,+353871234567';
const HEADER =
  'campaign_id,external_id,first_name,last_name,email,address1,address2,city,region,postal_code,country_code,phone,sku,variant_id,quantity';
const HOSTILE_NAME = '<script>document.title="pwned"</script>';

const run = promisify(execFile);

/**
 * The DOM of a page as headless Chromium renders it (Debian's `chromium`), with the flags that keep
 * it off the network of its own accord (STACK: the machine's network refuses it, many at a time).
 */
async function renderedDom(file: string, profileDir: string): Promise<string> {
  try {
    await access(CHROMIUM, constants.X_OK);
  } catch {
    throw new Error(
      `Chromium is not installed (${CHROMIUM}): the report test renders the page in it. Install it with "sudo apt-get install -y chromium" (bash .ci/run does it on a fresh machine).`,
    );
  }
  const { stdout } = await run(
    CHROMIUM,
    [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      `--user-data-dir=${profileDir}`,
      '--dump-dom',
      pathToFileURL(file).href,
    ],
    { timeout: 60_000, maxBuffer: 32 * 1024 * 1024 },
  );
  return stdout;
}

async function rowsOf(pipeline: LocalPipeline, batchId: string): Promise<RowRecord[]> {
  const rows: RowRecord[] = [];
  for await (const row of pipeline.ledger.listRows(batchId)) rows.push(row);
  return rows;
}

describe('the HTML report of a real local run, rendered in headless Chromium', () => {
  let dir: string;
  let pipeline: LocalPipeline;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gift-batch-report-'));
    pipeline = await LocalPipeline.start({
      stateDir: join(dir, 'state'),
      fresh: true,
      sandbox: { redemptionUrlDelayMs: 300, injectedRetryAfterS: 1 },
      pollEveryMs: 150,
      environment: {
        POLL_FIRST_AFTER_MS: '100',
        POLL_MIN_INTERVAL_MS: '100',
        // Long enough for the sandbox's 300 ms links, short enough to give up on a link that never comes.
        POLL_DEADLINE_MS: '4000',
        ANDOPEN_MAX_RPS: '40',
      },
    });
  }, 60_000);

  afterAll(async () => {
    await pipeline?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  async function sendFile(
    name: string,
    lines: string[],
  ): Promise<{ batch: BatchRecord; rows: RowRecord[]; dom: string; page: string }> {
    const file = join(dir, name);
    await writeFile(file, `${[HEADER, ...lines].join('\r\n')}\r\n`);
    const event = await pipeline.upload(file);
    const batchId = await batchIdOfUpload(event);
    await pipeline.split(event);
    const batch = await pipeline.waitForBatch(batchId, () => undefined, { everyMs: 100 });
    const csv = join(dir, `${name}.results.csv`);
    await pipeline.downloadResults(batch, csv);
    const reportPath = besideResults(csv, '.html');
    const page = await readFile(reportPath, 'utf8');
    const dom = await renderedDom(reportPath, join(dir, `chromium-${name}`));
    return { batch, rows: await rowsOf(pipeline, batchId), dom, page };
  }

  it('shows the ledger’s figures: outcomes, statuses, errors by code, the unknown rows', async () => {
    // Prepare: created, rejected (one with a hostile name), invalid, and unknown rows (500s).
    const sandbox = pipeline.sandbox;
    if (!sandbox) throw new Error('the sandbox should be running');
    const created = Array.from(
      { length: 12 },
      (_, i) => `${CHOICE},C${i + 1},Person,Number${i + 1},p${i + 1}@example.com,,,,,,,,,,`,
    );
    const lines = [
      ...created,
      `${DIRECT},R1,"${HOSTILE_NAME.replaceAll('"', '""')}",Rejected,r1@example.com,${ADDRESS},HOODIE-XXL-PNK,,1`,
      `${DIRECT},S1,Gus,Socks,,${ADDRESS},SOCKS-LAST,,1`,
      `${DIRECT},S2,Hal,Socks,,${ADDRESS},SOCKS-LAST,,1`,
      `${DIRECT},X1,Dan,Invalid,,${ADDRESS.replace(',IE,', ',ie,')},HOODIE-M-BLK,,1`,
      `${CHOICE},X2,Eve,,eve@example.com,,,,,,,,,,`,
    ];
    // A throttle first (a pause the report shows), then two answers that leave rows unknown.
    sandbox.injectNext('429', 1, 'post');
    sandbox.injectNext('500-created', 2, 'post');

    // Act
    const { batch, rows, dom, page } = await sendFile('mixed.csv', lines);

    // Assess: the counts by outcome are the ledger's, row by row.
    expect(batch.phase).toBe('complete');
    const byOutcome = { created: 0, rejected: 0, invalid: 0, unknown: 0 };
    for (const row of rows) byOutcome[outcomeOf(row)] += 1;
    expect(byOutcome.unknown).toBe(2);
    expect(byOutcome.invalid).toBe(2);
    const figures = reportFigures(dom);
    expect(figures).toMatchObject({ rows: rows.length, ...byOutcome });
    expect(figures['with-redemption-url']).toBe(rows.filter((row) => row.redemptionUrl).length);

    // Assess: created gifts by status, errors by code, as the ledger has them.
    const statuses: Record<string, number> = {};
    const errors: Record<string, number> = {};
    for (const row of rows) {
      if (outcomeOf(row) === 'created') {
        const status = row.giftStatus ?? 'no status';
        statuses[status] = (statuses[status] ?? 0) + 1;
      }
      if (outcomeOf(row) === 'rejected' || outcomeOf(row) === 'invalid') {
        for (const error of row.errors) {
          const key = `${error.type}|${error.code}|${error.param ?? ''}`;
          errors[key] = (errors[key] ?? 0) + 1;
        }
      }
    }
    expect(reportStatuses(dom)).toEqual(statuses);
    expect(reportErrors(dom)).toEqual(errors);

    // Assess: the unknown rows are listed, with their Request-Id; so are rejected and invalid ones.
    const rowsIn = (outcome: string) =>
      rows.filter((row) => outcomeOf(row) === outcome).map((row) => row.row);
    expect(reportListedRows(dom, 'unknown')).toEqual(rowsIn('unknown'));
    expect(reportListedRows(dom, 'rejected')).toEqual(rowsIn('rejected'));
    expect(reportListedRows(dom, 'invalid')).toEqual(rowsIn('invalid'));
    for (const row of rows.filter((each) => each.state === 'unknown')) {
      expect(row.requestId).toBeTruthy();
      expect(dom).toContain(`<code>${row.requestId}</code>`);
    }

    // Assess: every send is drawn (an unknown row found in flight at the instant it was marked),
    // with the ceiling and the pause the 429 caused.
    const sent = rows.filter((row) => row.sentAt !== null || row.state === 'unknown');
    expect(Object.values(reportChartSends(dom)).reduce((a, b) => a + b, 0)).toBe(sent.length);
    expect(figures['ceiling-rps']).toBe(40);
    expect(dom).toContain('data-figure="ceiling-line"');
    expect(dom).toMatch(/Paused (from .* )?until .*429/);

    // Assess: the hostile name is text in the page, not a script that ran; nothing is fetched.
    expect(dom).toContain('<title>Batch ');
    expect(dom).not.toContain('pwned</title>');
    expect(dom).toContain('&lt;script&gt;document.title="pwned"&lt;/script&gt;');
    expect(dom).not.toMatch(/<script/i);
    expect(networkReferences(page)).toEqual([]);
    expect(networkReferences(dom)).toEqual([]);
    for (const row of rows.filter((each) => each.redemptionUrl)) {
      expect(page).not.toContain(row.redemptionUrl);
    }
  }, 120_000);

  it('lists the created gifts whose redemption link never arrived', async () => {
    // Prepare: from now on the sandbox gives links only after ten minutes; polling gives up first.
    pipeline.sandbox?.configure({ redemptionUrlDelayMs: 600_000 });

    // Act
    const { rows, dom } = await sendFile('slow-links.csv', [
      `${CHOICE},L1,Lia,Slow,lia@example.com,,,,,,,,,,`,
      `${CHOICE},L2,Leo,Slow,leo@example.com,,,,,,,,,,`,
    ]);

    // Assess
    const missing = rows.filter((row) => row.state === 'created' && !row.redemptionUrl);
    expect(missing.map((row) => row.row)).toEqual([1, 2]);
    expect(reportListedRows(dom, 'missing-url')).toEqual([1, 2]);
    expect(reportFigures(dom)).toMatchObject({ 'missing-url-rows': 2, 'with-redemption-url': 0 });
    for (const row of missing) expect(dom).toContain(`<code>${row.giftRequestId}</code>`);
  }, 120_000);
});
