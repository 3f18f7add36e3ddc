/**
 * `npm run bench:parse`: how fast and in how much memory a recipient file is parsed, validated and
 * checked for duplicates.
 *
 * 1. Generate a 100,000-row and a 1,000,000-row CSV under bench/.data/ (kept between runs).
 * 2. Read each in a child process of its own, so the peak RSS measured is that run's alone.
 * 3. Print rows/s and peak RSS per file, and whether the targets are met: ≥ 50,000 rows/s, peak
 *    RSS < 256 MB, and flat memory (the 1M-row peak within 1.3× of the 100k-row peak).
 */
import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { createReadStream, createWriteStream, existsSync, mkdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readRecipients } from '../lambdas/core/recipients/index.ts';

const DATA_DIR = join(dirname(fileURLToPath(import.meta.url)), '.data');
const SIZES = [100_000, 1_000_000];
const TARGET_ROWS_PER_SECOND = 50_000;
const TARGET_PEAK_RSS_MB = 256;
const TARGET_FLATNESS = 1.3;

interface RunResult {
  rows: number;
  valid: number;
  invalid: number;
  seconds: number;
  peakRssMb: number;
}

async function main(): Promise<void> {
  mkdirSync(DATA_DIR, { recursive: true });
  const results: { size: number; result: RunResult }[] = [];
  for (const size of SIZES) {
    const file = join(DATA_DIR, `recipients-${size}.csv`);
    if (!existsSync(file)) {
      process.stdout.write(`generating ${file} … `);
      await generate(file, size);
      console.log(`${(statSync(file).size / 1e6).toFixed(1)} MB`);
    }
    const result = runChild(file);
    results.push({ size, result });
    console.log(
      `${size.toLocaleString('en')} rows: ${Math.round(result.rows / result.seconds).toLocaleString('en')} rows/s ` +
        `(${result.seconds.toFixed(2)} s; ${result.valid} valid, ${result.invalid} invalid), ` +
        `peak RSS ${result.peakRssMb.toFixed(0)} MB`,
    );
  }
  const slowest = Math.min(...results.map(({ result }) => result.rows / result.seconds));
  const highest = Math.max(...results.map(({ result }) => result.peakRssMb));
  const small = results[0]?.result.peakRssMb ?? 0;
  const large = results[results.length - 1]?.result.peakRssMb ?? 0;
  const ratio = large / small;
  const verdict = (ok: boolean) => (ok ? 'met' : 'NOT met');
  console.log(
    `\nspeed  ≥ ${TARGET_ROWS_PER_SECOND.toLocaleString('en')} rows/s: ${verdict(slowest >= TARGET_ROWS_PER_SECOND)} (slowest ${Math.round(slowest).toLocaleString('en')})`,
  );
  console.log(
    `memory < ${TARGET_PEAK_RSS_MB} MB peak RSS: ${verdict(highest < TARGET_PEAK_RSS_MB)} (highest ${highest.toFixed(0)} MB)`,
  );
  console.log(
    `flat   1M-row peak ≤ ${TARGET_FLATNESS}× 100k-row peak: ${verdict(ratio <= TARGET_FLATNESS)} (${ratio.toFixed(2)}×)`,
  );
}

function runChild(file: string): RunResult {
  const child = spawnSync(
    process.execPath,
    ['--import', 'tsx', fileURLToPath(import.meta.url), '--child', file],
    { encoding: 'utf8', maxBuffer: 1024 * 1024 },
  );
  if (child.status !== 0) throw new Error(`bench child failed: ${child.stderr}`);
  return JSON.parse(child.stdout.trim().split('\n').pop() as string) as RunResult;
}

async function measure(file: string): Promise<RunResult> {
  const started = performance.now();
  const recipients = readRecipients(createReadStream(file, { highWaterMark: 64 * 1024 }), {
    fileName: file,
  });
  let rows = 0;
  let valid = 0;
  for await (const row of recipients) {
    rows++;
    if (row.result.valid) valid++;
  }
  const seconds = (performance.now() - started) / 1000;
  // maxRSS is in kilobytes.
  const peakRssMb = (process.resourceUsage().maxRSS * 1024) / 1e6;
  return { rows, valid, invalid: rows - valid, seconds, peakRssMb };
}

const FIRST = ['Alice', 'Bob', 'Chloé', 'Dan', 'Erin', 'Fiona', 'Gareth', 'Hannah', 'Ian', 'Jade'];
const LAST = ['Smith', "O'Brien", 'Dubois', 'Nguyen', 'Walsh', 'Jones', 'Becker', 'Murphy'];
const SKUS = ['HOODIE-M-BLK', 'HOODIE-L-BLK', 'MUG-WHT'];
const CHOICE = '11111111-1111-4111-8111-111111111111';
const DIRECT = '22222222-2222-4222-8222-222222222222';

/** A realistic mix: 60% choice-mode, 40% direct-send, ~15% without email, ~3% invalid. */
async function generate(file: string, size: number): Promise<void> {
  const out = createWriteStream(file);
  out.write(
    'Campaign ID,External ID,First Name,Last Name,Email,Address 1,Address 2,City,State,Postcode,Country Code,Phone,SKU,Qty\r\n',
  );
  let batch: string[] = [];
  for (let i = 1; i <= size; i++) {
    batch.push(generateRow(i));
    if (batch.length === 10_000 || i === size) {
      if (!out.write(batch.join(''))) await once(out, 'drain');
      batch = [];
    }
  }
  out.end();
  await once(out, 'finish');
}

function generateRow(i: number): string {
  const first = FIRST[i % FIRST.length] as string;
  const last = LAST[(i * 7) % LAST.length] as string;
  const email = i % 7 === 0 ? '' : `${first.toLowerCase()}.${i}@example.com`;
  const choice = i % 5 < 3;
  // Every 33rd row is invalid: a missing last name, or in direct-send a lowercase country code.
  const invalid = i % 33 === 0;
  const lastName = invalid && (choice || i % 2 === 0) ? '' : last;
  const cells = [choice ? CHOICE : DIRECT, `EMP-${i}`, first, lastName, email];
  if (choice) {
    cells.push('', '', '', '', '', '', '', '', '');
  } else {
    const country = invalid && i % 2 === 1 ? 'ie' : 'IE';
    const sku = SKUS[i % SKUS.length] as string;
    cells.push(`"${i} Merrion Square, Apt ${i % 40}"`, '', 'Dublin', 'Leinster', 'D02 XY45');
    cells.push(country, '+353871234567', sku, String(1 + (i % 3)));
  }
  return `${cells.join(',')}\r\n`;
}

// Last, so the constants above are initialised before either path runs.
if (process.argv[2] === '--child') {
  console.log(JSON.stringify(await measure(process.argv[3] as string)));
} else {
  await main();
}
