/**
 * `npm run bench:export [-- --rows N]`: how fast a campaign export reads the ledger and writes its
 * file, and whether its memory stays flat as the campaign grows.
 *
 * 1. Start DynamoDB Local in memory and write two campaigns: N rows (default 200,000) and N/10,
 *    through the ledger adapter (created rows, with a URL, as finance would export them).
 * 2. Export each in a child process of its own (so its peak RSS is that export's alone), through
 *    the campaign index, to a CSV under the system's temp directory.
 * 3. Print rows/s and peak RSS for both sizes, and the ratio of the peaks (flat ≈ 1).
 */
import { spawnSync } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDbLedger } from '../lambdas/adapters/dynamodb-ledger.ts';
import { ExportService, exportQueryOf } from '../lambdas/core/export-service.ts';
import { systemClock } from '../lambdas/ports/clock.ts';
import type { NewRow } from '../lambdas/ports/ledger.ts';
import { ensureLedgerTable } from '../local/aws/ledger-table.ts';
import { localClientConfig, startDynamoDbLocal } from '../local/standins/index.ts';

// The SDK's Node 20 notice is not the bench's business (the CLI silences it the same way).
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const TABLE = 'bench-ledger';
const WRITE_CHUNK = 500;
const WRITERS = 4;

interface ChildResult {
  rows: number;
  seconds: number;
  peakRssMb: number;
  bytes: number;
}

async function main(): Promise<void> {
  const child = process.argv.indexOf('--child');
  if (child >= 0) {
    const [endpoint, campaign, out] = process.argv.slice(child + 1);
    console.log(JSON.stringify(await exportOnce(endpoint ?? '', campaign ?? '', out ?? '')));
    return;
  }
  const rowsFlag = process.argv.indexOf('--rows');
  const rows = rowsFlag >= 0 ? Number(process.argv[rowsFlag + 1]) : 200_000;
  if (!Number.isInteger(rows) || rows < 10) throw new Error('--rows must be a whole number ≥ 10');

  const dynamo = await startDynamoDbLocal({
    storage: 'memory',
    // In memory every row (and its campaign-index entry) lives on DynamoDB Local's heap.
    maxHeapMiB: Math.max(512, Math.ceil((rows * 1.1) / 1000) * 4),
  });
  const client = new DynamoDBClient(localClientConfig(dynamo.endpoint));
  const dir = await mkdtemp(join(tmpdir(), 'gift-batch-bench-export-'));
  try {
    await ensureLedgerTable(client, TABLE);
    const ledger = new DynamoDbLedger({ client, tableName: TABLE });
    const sizes = [
      { campaign: 'small', rows: Math.floor(rows / 10) },
      { campaign: 'large', rows },
    ];
    for (const size of sizes) {
      const started = performance.now();
      await writeCampaign(ledger, size.campaign, size.rows);
      const seconds = (performance.now() - started) / 1000;
      console.log(
        `wrote ${size.rows.toLocaleString('en')} rows of campaign ${size.campaign} to DynamoDB Local in ${seconds.toFixed(1)} s`,
      );
    }
    const results: ChildResult[] = [];
    for (const size of sizes) {
      const result = runChild(dynamo.endpoint, size.campaign, join(dir, `${size.campaign}.csv`));
      results.push(result);
      console.log(
        `export of ${result.rows.toLocaleString('en')} rows: ${Math.round(result.rows / result.seconds).toLocaleString('en')} rows/s ` +
          `(${result.seconds.toFixed(1)} s, ${(result.bytes / 1e6).toFixed(1)} MB), peak RSS ${result.peakRssMb.toFixed(0)} MB`,
      );
    }
    const [small, large] = results;
    if (small && large) {
      console.log(
        `\nmemory: ${(large.peakRssMb / small.peakRssMb).toFixed(2)}× the peak RSS for ${(large.rows / small.rows).toFixed(0)}× the rows (flat ≈ 1)`,
      );
    }
  } finally {
    client.destroy();
    await dynamo.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

/** Created rows, as the sender records them, with a few writers at once. */
async function writeCampaign(
  ledger: DynamoDbLedger,
  campaign: string,
  count: number,
): Promise<void> {
  const batchId = `bench-${campaign}`;
  await ledger.createBatch({
    batchId,
    source: {
      description: `s3://bench/uploads/${campaign}.csv`,
      bucket: null,
      key: null,
      versionOrEtag: null,
    },
    createdAt: new Date().toISOString(),
  });
  let next = 1;
  const writer = async () => {
    while (next <= count) {
      const from = next;
      next += WRITE_CHUNK;
      const rows: NewRow[] = [];
      for (let row = from; row < Math.min(from + WRITE_CHUNK, count + 1); row += 1) {
        rows.push({
          batchId,
          row,
          line: row + 1,
          state: 'pending',
          echo: {
            externalId: `EMP-${row}`,
            campaignId: campaign,
            firstName: 'Alice',
            lastName: 'Smith',
            email: `alice.${row}@example.com`,
          },
          body: { campaign_id: campaign, recipient: { first_name: 'Alice', last_name: 'Smith' } },
          errors: [],
        });
      }
      await ledger.putRows(rows);
    }
  };
  await Promise.all(Array.from({ length: WRITERS }, writer));
}

function runChild(endpoint: string, campaign: string, out: string): ChildResult {
  const self = fileURLToPath(import.meta.url);
  const child = spawnSync(
    process.execPath,
    ['--import', 'tsx', self, '--child', endpoint, campaign, out],
    { encoding: 'utf8', maxBuffer: 1024 * 1024 },
  );
  if (child.status !== 0) throw new Error(`export child failed: ${child.stderr}`);
  return JSON.parse(child.stdout.trim().split('\n').pop() ?? '{}') as ChildResult;
}

async function exportOnce(endpoint: string, campaign: string, out: string): Promise<ChildResult> {
  const client = new DynamoDBClient(localClientConfig(endpoint));
  const ledger = new DynamoDbLedger({ client, tableName: TABLE });
  const started = performance.now();
  const running = new ExportService({ ledger, clock: systemClock }).start(
    exportQueryOf({ campaignId: campaign }),
  );
  await pipeline(Readable.from(running.body), createWriteStream(out));
  const seconds = (performance.now() - started) / 1000;
  client.destroy();
  return {
    rows: running.summary().rows,
    seconds,
    // maxRSS is in kilobytes.
    peakRssMb: process.resourceUsage().maxRSS / 1024,
    bytes: (await stat(out)).size,
  };
}

await main();
