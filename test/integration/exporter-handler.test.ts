/**
 * The exporter Lambda handler against the real stand-ins: fauxqs for S3, DynamoDB Local for the
 * ledger, loaded with the environment the stack gives it.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  CreateBucketCommand,
  GetObjectCommand,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import type { Context, S3Event } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoDbLedger } from '../../lambdas/adapters/dynamodb-ledger.ts';
import { EXPORT_COLUMNS } from '../../lambdas/core/export-service.ts';
import { ensureLedgerTable } from '../../local/aws/ledger-table.ts';
import { invokeWithTimeout, s3ObjectCreatedEvent } from '../../local/lambda/index.ts';
import {
  LOCAL_CREDENTIALS,
  LOCAL_REGION,
  localClientConfig,
  type RunningStandIn,
  startDynamoDbLocal,
  startFauxqs,
} from '../../local/standins/index.ts';
import { reportFigures } from '../support/report-figures.ts';

const BUCKET = 'gift-batch-results';
const TABLE = 'gift-batch-ledger';

describe('the exporter handler on the stand-ins', () => {
  let fauxqs: RunningStandIn;
  let dynamo: RunningStandIn;
  let s3: S3Client;
  let dynamoClient: DynamoDBClient;
  let handler: (event: S3Event, context: Context) => Promise<void>;

  beforeAll(async () => {
    [fauxqs, dynamo] = await Promise.all([
      startFauxqs(),
      startDynamoDbLocal({ storage: 'memory' }),
    ]);
    s3 = new S3Client(localClientConfig(fauxqs.endpoint));
    dynamoClient = new DynamoDBClient(localClientConfig(dynamo.endpoint));
    await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
    await ensureLedgerTable(dynamoClient, TABLE);

    // Rows of one campaign in two batches, recorded in November.
    const ledger = new DynamoDbLedger({
      client: dynamoClient,
      tableName: TABLE,
      clock: { now: () => Date.parse('2026-11-10T12:00:00.000Z') },
    });
    for (const batchId of ['b1', 'b2']) {
      await ledger.createBatch({
        batchId,
        source: {
          description: `s3://uploads/uploads/${batchId}.csv`,
          bucket: null,
          key: null,
          versionOrEtag: null,
        },
        createdAt: '2026-11-10T12:00:00.000Z',
      });
      await ledger.putRows(
        [1, 2, 3].map((row) => ({
          batchId,
          row,
          line: row + 1,
          state: 'pending' as const,
          echo: {
            externalId: `${batchId}-${row}`,
            campaignId: 'camp',
            firstName: '@A',
            lastName: 'B',
            email: null,
          },
          body: { campaign_id: 'camp', recipient: { first_name: '@A', last_name: 'B' } },
          errors: [],
        })),
      );
    }

    Object.assign(process.env, {
      AWS_REGION: LOCAL_REGION,
      AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
      AWS_ENDPOINT_URL_S3: fauxqs.endpoint,
      AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
      S3_FORCE_PATH_STYLE: 'true',
      LEDGER_TABLE: TABLE,
      RESULTS_BUCKET: BUCKET,
      POWERTOOLS_LOG_LEVEL: 'ERROR',
    });
    handler = (await import('../../lambdas/handlers/exporter.ts')).handler;
  }, 60_000);

  afterAll(async () => {
    s3?.destroy();
    dynamoClient?.destroy();
    await Promise.all([fauxqs?.stop(), dynamo?.stop()]);
  });

  async function request(name: string, body: string): Promise<void> {
    const key = `exports/requests/${name}.json`;
    const put = await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: body }));
    await invokeWithTimeout(
      handler,
      s3ObjectCreatedEvent({ bucket: BUCKET, key, size: body.length, eTag: put.ETag ?? '' }),
      { functionName: 'gift-batch-exporter', timeoutMs: 30_000 },
    );
  }

  async function text(key: string): Promise<string> {
    const object = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
    return new TextDecoder('utf-8', { ignoreBOM: true }).decode(
      await object.Body?.transformToByteArray(),
    );
  }

  it('answers a request with the campaign’s export and its summary', async () => {
    // Act
    await request(
      'november',
      JSON.stringify({ campaign_id: 'camp', from: '2026-11-01', to: '2026-11-30', format: 'csv' }),
    );

    // Assess
    const csv = await text('exports/november.csv');
    expect(csv.startsWith(`\uFEFF${EXPORT_COLUMNS.join(',')}\r\n`)).toBe(true);
    const lines = csv.split('\r\n').filter(Boolean).slice(1);
    expect(lines).toHaveLength(6);
    expect(lines[0]).toMatch(/^1,b1-1,camp,'@A,B,/);
    expect(lines[0]).toMatch(/,b1,s3:\/\/uploads\/uploads\/b1\.csv,,$/);
    const summary = JSON.parse(await text('exports/november.summary.json'));
    expect(summary).toMatchObject({
      rows: 6,
      interval: { from: '2026-11-01T00:00:00.000Z', to: '2026-11-30T23:59:59.999Z' },
      byOutcome: { created: 0, rejected: 0, invalid: 0, unknown: 6 },
    });
    const report = await text('exports/november.html');
    expect(reportFigures(report)).toMatchObject({ rows: 6, unknown: 6, created: 0 });
    expect(report).toContain('november.csv');
  }, 60_000);

  it('writes an error object for a request it cannot answer', async () => {
    // Act
    await request('december', JSON.stringify({ campaign_id: 'camp', to: 'end of year' }));

    // Assess
    const error = JSON.parse(await text('exports/december.error.json'));
    expect(error.problems).toEqual([
      'to: "end of year" is not a date (2026-11-30) or a date-time (2026-11-30T14:00:00Z)',
    ]);
  }, 60_000);
});
