/**
 * The preflight against the real &Open sandbox over HTTP: the sandbox implements the catalogue, its
 * warehouse filter and its stock on its own, so this is where the preflight's reading of a campaign
 * is checked against what &Open would actually do with the rows.
 */

import { createReadStream } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { AndOpenHttpClient } from '../../lambdas/adapters/andopen-http-client.ts';
import { readRecipients } from '../../lambdas/core/recipients/index.ts';
import { preflightFile } from '../../local/cli/commands/preflight.ts';
import { MemoryLimiterStore } from '../../local/runtime/memory-limiter-store.ts';
import {
  DEMO_CAMPAIGNS,
  SANDBOX_API_KEY,
  type Sandbox,
  startSandbox,
} from '../../sandbox/index.ts';

const EVERY_PROBLEM = resolve('test/fixtures/preflight/every-problem.csv');
const UNKNOWN_CAMPAIGN = '44444444-4444-4444-8444-444444444444';
const ADDRESS = '12 Merrion Square,Dublin,Leinster,D02 XY45,IE,+353871234567';
const HEADER =
  'campaign_id,external_id,first_name,last_name,email,address1,city,region,postal_code,country_code,phone,sku,variant_id,quantity';

let sandbox: Sandbox | undefined;
let client: AndOpenHttpClient | undefined;
let dir: string | undefined;

afterEach(async () => {
  client?.close();
  await sandbox?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
  sandbox = undefined;
  client = undefined;
  dir = undefined;
});

async function start(): Promise<{ sandbox: Sandbox; client: AndOpenHttpClient }> {
  sandbox = await startSandbox({ seed: 7 });
  client = new AndOpenHttpClient({ baseUrl: sandbox.url, apiKey: SANDBOX_API_KEY });
  return { sandbox, client };
}

const campaignGets = (sandbox: Sandbox) =>
  sandbox.journal.requests
    .filter((request) => request.method === 'GET' && request.path.startsWith('/campaigns/'))
    .map((request) => request.path);

describe('preflight against the sandbox', () => {
  it('finds each kind of problem in one file, with one GET per campaign', async () => {
    // Prepare
    const { sandbox, client } = await start();

    // Act
    const report = await preflightFile(EVERY_PROBLEM, {
      api: client,
      limiterStore: new MemoryLimiterStore(),
    });

    // Assess
    const found = report.findings.map((finding) => [
      finding.kind,
      finding.examples.map((example) => example.externalId),
    ]);
    expect(found).toEqual(
      expect.arrayContaining([
        ['unknown-campaign', ['UNKNOWN-1']],
        ['archived-campaign', ['ARCHIVED-1', 'ARCHIVED-2']],
        ['direct-send-not-allowed', ['CHOICE-DIRECT-1']],
        ['unknown-variant', ['SKU-1']],
        ['unknown-variant', ['DISABLED-1']],
        ['unknown-variant', ['ELSEWHERE-1']], // stocked only outside the fulfilment warehouse
        ['stock-shortfall', ['SOCKS-1', 'SOCKS-2', 'SOCKS-3']],
      ]),
    );
    expect(report.findings).toHaveLength(7);
    const socks = report.findings.find((finding) => finding.kind === 'stock-shortfall');
    expect(socks?.message).toMatch(/^3 rows want SOCKS-LAST \(quantity 3\), 1 in stock/);
    expect(campaignGets(sandbox).sort()).toEqual(
      [DEMO_CAMPAIGNS.choice, UNKNOWN_CAMPAIGN, DEMO_CAMPAIGNS.archived, DEMO_CAMPAIGNS.directSend]
        .map((id) => `/campaigns/${id}`)
        .sort(),
    );
    expect(sandbox.journal.requests.filter((request) => request.method === 'POST')).toEqual([]);
  });

  it('names every row &Open then rejects for its campaign, item or stock', async () => {
    // Prepare
    const { client } = await start();
    const report = await preflightFile(EVERY_PROBLEM, {
      api: client,
      limiterStore: new MemoryLimiterStore(),
    });
    const flagged = new Set(
      report.findings.flatMap((finding) => finding.examples.map((example) => example.row)),
    );

    // Act: send every row as the pipeline would.
    const rejected: number[] = [];
    const rows = readRecipients(createReadStream(EVERY_PROBLEM), { fileName: EVERY_PROBLEM });
    for await (const row of rows) {
      if (!row.result.valid) throw new Error(`fixture row ${row.row} is invalid`);
      const call = await client.createGiftRequest(row.result.body);
      if (call.kind === 'response' && call.status === 422) rejected.push(row.row);
    }

    // Assess: &Open rejected only flagged rows, and every flagged row but the socks that were
    // still in stock for the first comer.
    expect(rejected.every((row) => flagged.has(row))).toBe(true);
    expect(rejected).toHaveLength(flagged.size - 1);
  });

  it('sums stock over thousands of rows and still asks once per campaign', async () => {
    // Prepare: the Dublin warehouse has 500 HOODIE-L-BLK; 600 rows want one each.
    const { sandbox, client } = await start();
    dir = await mkdtemp(join(tmpdir(), 'gift-batch-preflight-'));
    const file = join(dir, 'many.csv');
    const lines = [HEADER];
    for (let index = 1; index <= 600; index += 1) {
      lines.push(
        `${DEMO_CAMPAIGNS.directSend},H-${index},Ann,Lee,,${ADDRESS},HOODIE-L-BLK,,1`,
        `${DEMO_CAMPAIGNS.choice},C-${index},Ann,Lee,,,,,,,,,,`,
      );
    }
    await writeFile(file, `${lines.join('\r\n')}\r\n`);

    // Act
    const report = await preflightFile(file, {
      api: client,
      limiterStore: new MemoryLimiterStore(),
    });

    // Assess
    expect(report.checkedRows).toBe(1_200);
    expect(report.findings).toHaveLength(1);
    expect(report.findings[0]).toMatchObject({
      kind: 'stock-shortfall',
      rows: 600,
      quantityWanted: 600,
      inStock: 500, // Newark's 80 are outside the campaign's warehouse
    });
    expect(report.findings[0]?.examples.map((example) => example.externalId)).toEqual([
      'H-1',
      'H-2',
      'H-3',
      'H-4',
      'H-5',
    ]);
    expect(campaignGets(sandbox)).toHaveLength(2);
  });
});
