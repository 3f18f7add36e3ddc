import type { Context, S3Event } from 'aws-lambda';
import { splitterConfig } from '../config.ts';
import { SplitService } from '../core/split-service.ts';
import { systemClock } from '../ports/clock.ts';
import { ledger, logger, objects, sendQueue } from './dependencies.ts';
import { METRIC, METRIC_UNIT, metrics } from './metrics.ts';
import { uploadedObjectOf } from './s3-records.ts';

const config = splitterConfig();
const service = new SplitService({
  ledger,
  objects,
  queue: sendQueue,
  clock: systemClock,
  settings: {
    defaultCampaignId: config.defaultCampaignId,
    maxRows: config.maxRows,
    chunkSize: 100,
  },
});

/** S3 ObjectCreated under uploads/ → one batch per object (a duplicate event is a no-op). */
export const handler = async (event: S3Event, context: Context): Promise<void> => {
  logger.addContext(context);
  for (const record of event.Records) {
    const object = uploadedObjectOf(record);
    const result = await service.split(object);
    if (result.kind === 'split' && result.invalid > 0) {
      metrics.addMetric(METRIC.RowsInvalid, METRIC_UNIT.RowsInvalid, result.invalid);
    }
    logger.info('split', { ...object, ...result, summary: undefined });
    if (result.kind === 'split' && result.fileError) {
      logger.warn('recipient file unreadable from some point on', {
        batchId: result.batchId,
        fileError: result.fileError,
        rowsAccepted: result.rows,
      });
    }
  }
  // An invocation with nothing to count publishes nothing (Powertools would warn about it).
  if (metrics.hasStoredMetrics()) metrics.publishStoredMetrics();
};
