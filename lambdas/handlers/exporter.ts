import { Logger } from '@aws-lambda-powertools/logger';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import type { Context, S3Event } from 'aws-lambda';
import { DynamoDbLedger } from '../adapters/dynamodb-ledger.ts';
import { S3ObjectStore } from '../adapters/s3-object-store.ts';
import { exporterConfig } from '../config.ts';
import { ExportRequestService } from '../core/export-request-service.ts';
import { systemClock } from '../ports/clock.ts';
import { decodeS3Key } from './s3-records.ts';

// Its own clients, not the shared dependencies: the exporter needs no queue, limiter or API key.
const config = exporterConfig();
const logger = new Logger({ serviceName: 'gift-batch' });
const service = new ExportRequestService({
  ledger: new DynamoDbLedger({ client: new DynamoDBClient({}), tableName: config.ledgerTable }),
  objects: new S3ObjectStore({ client: new S3Client({ forcePathStyle: config.s3ForcePathStyle }) }),
  clock: systemClock,
});

/** S3 ObjectCreated under exports/requests/ → exports/NAME.csv + summary, or NAME.error.json. */
export const handler = async (event: S3Event, context: Context): Promise<void> => {
  logger.addContext(context);
  for (const record of event.Records) {
    const bucket = record.s3.bucket.name;
    const key = decodeS3Key(record.s3.object.key);
    const outcome = await service.handle(bucket, key);
    if (outcome.kind === 'exported') {
      logger.info('export written', {
        request: key,
        exportKey: outcome.exportKey,
        rows: outcome.summary.rows,
        byOutcome: outcome.summary.byOutcome,
      });
    } else if (outcome.kind === 'refused') {
      logger.warn('export request refused', {
        request: key,
        errorKey: outcome.errorKey,
        problems: outcome.problems,
      });
    } else {
      logger.info('not an export request', { request: key, reason: outcome.reason });
    }
  }
};
