import { describe, expect, it } from 'vitest';
import {
  ExportRequestService,
  exportRequestNameOf,
} from '../../../lambdas/core/export-request-service.ts';
import { EXPORT_COLUMNS } from '../../../lambdas/core/export-service.ts';
import { InMemoryLedger } from '../../support/in-memory-ledger.ts';
import { InMemoryObjectStore } from '../../support/in-memory-ports.ts';

const CLOCK = { now: () => Date.parse('2026-12-01T08:00:00.000Z') };
const BUCKET = 'results';

async function ledgerWithOneRow(): Promise<InMemoryLedger> {
  const ledger = new InMemoryLedger();
  await ledger.createBatch({
    batchId: 'b1',
    source: {
      description: 's3://u/uploads/nov.csv',
      bucket: 'u',
      key: 'uploads/nov.csv',
      versionOrEtag: null,
    },
    createdAt: '2026-11-02T00:00:00.000Z',
  });
  await ledger.putRows([
    {
      batchId: 'b1',
      row: 1,
      line: 2,
      state: 'pending',
      echo: { externalId: 'E1', campaignId: 'camp', firstName: 'A', lastName: 'B', email: null },
      body: { campaign_id: 'camp', recipient: { first_name: 'A', last_name: 'B' } },
      errors: [],
    },
  ]);
  return ledger;
}

function serviceWith(objects: InMemoryObjectStore, ledger: InMemoryLedger) {
  return new ExportRequestService({ ledger, objects, clock: CLOCK });
}

describe('exportRequestNameOf', () => {
  it('takes NAME from exports/requests/NAME.json and nothing else', () => {
    // Prepare / Act / Assess
    expect(exportRequestNameOf('exports/requests/november-2026.json')).toBe('november-2026');
    expect(exportRequestNameOf('exports/requests/sub/x.json')).toBeNull();
    expect(exportRequestNameOf('exports/november.json')).toBeNull();
    expect(exportRequestNameOf('exports/requests/x.csv')).toBeNull();
  });
});

describe('ExportRequestService', () => {
  it('writes exports/NAME.csv and its summary for a good request', async () => {
    // Prepare
    const objects = new InMemoryObjectStore();
    objects.put(
      BUCKET,
      'exports/requests/nov.json',
      JSON.stringify({
        campaign_id: 'camp',
        from: '2000-01-01',
        to: '2099-12-31',
        status: ['unknown'],
      }),
    );

    // Act
    const outcome = await serviceWith(objects, await ledgerWithOneRow()).handle(
      BUCKET,
      'exports/requests/nov.json',
    );

    // Assess
    expect(outcome).toMatchObject({
      kind: 'exported',
      exportKey: 'exports/nov.csv',
      summaryKey: 'exports/nov.summary.json',
    });
    const csv = objects.text(BUCKET, 'exports/nov.csv') ?? '';
    expect(csv.startsWith(`\uFEFF${EXPORT_COLUMNS.join(',')}\r\n`)).toBe(true);
    expect(csv.split('\r\n').filter(Boolean)).toHaveLength(2); // a pending row reads as unknown
    const summary = JSON.parse(objects.text(BUCKET, 'exports/nov.summary.json') ?? '{}');
    expect(summary).toMatchObject({
      request: 'exports/requests/nov.json',
      export: 'exports/nov.csv',
      rows: 1,
      interval: { from: '2000-01-01T00:00:00.000Z', to: '2099-12-31T23:59:59.999Z' },
      generatedAt: '2026-12-01T08:00:00.000Z',
    });
  });

  it('writes JSON lines when the request asks for them', async () => {
    // Prepare
    const objects = new InMemoryObjectStore();
    objects.put(BUCKET, 'exports/requests/j.json', '{"campaign_id":"camp","format":"jsonl"}');

    // Act
    await serviceWith(objects, await ledgerWithOneRow()).handle(BUCKET, 'exports/requests/j.json');

    // Assess
    expect(JSON.parse(objects.text(BUCKET, 'exports/j.jsonl') ?? '').external_id).toBe('E1');
    expect(objects.objects.get(`${BUCKET}/exports/j.jsonl`)?.contentType).toMatch(/ndjson/);
  });

  it('writes exports/NAME.error.json listing every problem of a bad request', async () => {
    // Prepare
    const objects = new InMemoryObjectStore();
    objects.put(
      BUCKET,
      'exports/requests/bad.json',
      JSON.stringify({ campaign: 'camp', from: '30/11/2026', format: 'xlsx' }),
    );

    // Act
    const outcome = await serviceWith(objects, await ledgerWithOneRow()).handle(
      BUCKET,
      'exports/requests/bad.json',
    );

    // Assess
    expect(outcome.kind).toBe('refused');
    const error = JSON.parse(objects.text(BUCKET, 'exports/bad.error.json') ?? '{}');
    expect(error.request).toBe('exports/requests/bad.json');
    expect(error.problems).toEqual([
      'campaign: not a field of an export request (campaign_id, from, to, status, format)',
      'campaign_id: required (the campaign to export)',
      'from: "30/11/2026" is not a date (2026-11-30) or a date-time (2026-11-30T14:00:00Z)',
      'format: must be csv or jsonl (got "xlsx")',
    ]);
    expect(objects.text(BUCKET, 'exports/bad.csv')).toBeNull();
  });

  it('says so when the request is not JSON at all', async () => {
    // Prepare
    const objects = new InMemoryObjectStore();
    objects.put(BUCKET, 'exports/requests/typo.json', 'campaign_id=camp');

    // Act
    await serviceWith(objects, await ledgerWithOneRow()).handle(
      BUCKET,
      'exports/requests/typo.json',
    );

    // Assess
    const error = JSON.parse(objects.text(BUCKET, 'exports/typo.error.json') ?? '{}');
    expect(error.problems[0]).toMatch(/^the request is not JSON/);
  });

  it('answers a request whose name it cannot write back under, beside it', async () => {
    // Prepare
    const objects = new InMemoryObjectStore();
    objects.put(BUCKET, 'exports/requests/nov 2026!.json', '{"campaign_id":"camp"}');

    // Act
    const outcome = await serviceWith(objects, await ledgerWithOneRow()).handle(
      BUCKET,
      'exports/requests/nov 2026!.json',
    );

    // Assess
    expect(outcome).toMatchObject({ kind: 'refused', errorKey: 'exports/nov_2026_.error.json' });
  });

  it('ignores a request deleted before it was read', async () => {
    // Prepare
    const objects = new InMemoryObjectStore();

    // Act
    const outcome = await serviceWith(objects, await ledgerWithOneRow()).handle(
      BUCKET,
      'exports/requests/gone.json',
    );

    // Assess
    expect(outcome.kind).toBe('ignored');
    expect(objects.objects.size).toBe(0);
  });
});
