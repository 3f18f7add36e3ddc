import type { Context, S3Event } from 'aws-lambda';
import { splitterConfig } from '../config.ts';
import { PreflightService } from '../core/preflight-service.ts';
import { SplitService } from '../core/split-service.ts';
import { systemClock } from '../ports/clock.ts';
import { andOpenApi, ledger, limiter, logger, objects, sendQueue } from './dependencies.ts';
import { METRIC, METRIC_UNIT, metrics } from './metrics.ts';
import { uploadedObjectOf } from './s3-records.ts';

const config = splitterConfig();
let service: SplitService | undefined;

/** Built on first use: with the preflight on, it needs the &Open key from the secret. */
async function splitService(): Promise<SplitService> {
  service ??= new SplitService({
    ledger,
    objects,
    queue: sendQueue,
    clock: systemClock,
    settings: {
      defaultCampaignId: config.defaultCampaignId,
      maxRows: config.maxRows,
      chunkSize: 100,
      approvalRowsOver: config.approvalRowsOver,
    },
    // The campaign GETs take their slots of the fleet's shared rate, as the poller's do.
    preflight: config.preflight
      ? new PreflightService({ api: await andOpenApi(), clock: systemClock, limiter })
      : null,
  });
  return service;
}

/** S3 ObjectCreated under uploads/ → one batch per object (a duplicate event is a no-op). */
export const handler = async (event: S3Event, context: Context): Promise<void> => {
  logger.addContext(context);
  for (const record of event.Records) {
    const object = uploadedObjectOf(record);
    const result = await (await splitService()).split(object);
    if (result.kind === 'split' && result.invalid > 0) {
      metrics.addMetric(METRIC.RowsInvalid, METRIC_UNIT.RowsInvalid, result.invalid);
    }
    logger.info('split', { ...object, ...result, summary: undefined });
    if (result.kind === 'split' && result.awaitingApproval) {
      logger.warn('batch awaits approval: nothing is sent until a person approves it', {
        batchId: result.batchId,
        reason: result.awaitingApproval,
      });
    }
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
