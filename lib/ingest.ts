import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import { Bucket, EventType, type IBucket } from 'aws-cdk-lib/aws-s3';
import { LambdaDestination } from 'aws-cdk-lib/aws-s3-notifications';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Queue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { type AndOpenSettings, GiftBatchFunction, UPLOADS_PREFIX } from './gift-batch-function.ts';
import { LEDGER_ACCESS } from './ledger.ts';
import { PIPELINE } from './pipeline-settings.ts';
import { PRIVATE_BUCKET_DEFAULTS } from './private-bucket.ts';
import { SECURE_QUEUE_DEFAULTS } from './secure-queue.ts';

/** Uploaded recipient files hold names and addresses: kept only as long as a person may re-run one. */
export const UPLOAD_RETENTION_DAYS = 30;

export interface IngestProps {
  ledger: ITable;
  sendQueue: IQueue;
  results: IBucket;
  accessLogs: IBucket;
  logLevel: string;
  /** DEFAULT_CAMPAIGN_ID for files whose rows and key name no campaign. */
  defaultCampaignId?: string;
  /** APPROVAL_ROWS_OVER: bigger batches wait for approval; null: no size limit. */
  approvalRowsOver: number | null;
  /** With it, the splitter preflights each file against &Open (and may read the key). */
  preflight?: AndOpenSettings;
}

/**
 * Where batches start: a file put under `uploads/` (or `uploads/<campaign_id>/`) in the uploads
 * bucket makes S3 invoke the splitter, which records every row in the ledger and queues the valid
 * ones. Only that prefix triggers it, so nothing else written to the bucket starts a batch.
 *
 * A file too long for one invocation (15 minutes) is carried on through the split continuation
 * queue, the splitter's second event source: a queue rather than the function invoking itself (no
 * circular permission, and a continuation that keeps failing is retried, then dead-lettered).
 */
export class IngestConstruct extends Construct {
  readonly bucket: Bucket;
  readonly splitter: GiftBatchFunction;
  /** S3 events the splitter still failed on after Lambda's retries: a file no batch was made of. */
  readonly failedUploads: Queue;
  /** Splits handed over to the next invocation. */
  readonly splitQueue: Queue;
  /** Continuations the splitter failed on repeatedly (the poller re-sends a stalled split anyway). */
  readonly splitDeadLetterQueue: Queue;

  constructor(scope: Construct, id: string, props: IngestProps) {
    super(scope, id);
    this.bucket = new Bucket(this, 'Bucket', {
      ...PRIVATE_BUCKET_DEFAULTS,
      serverAccessLogsBucket: props.accessLogs,
      serverAccessLogsPrefix: 'uploads-bucket/',
      lifecycleRules: [
        {
          id: 'expire-uploads',
          prefix: UPLOADS_PREFIX,
          expiration: Duration.days(UPLOAD_RETENTION_DAYS),
        },
        { id: 'abort-incomplete-uploads', abortIncompleteMultipartUploadAfter: Duration.days(1) },
      ],
      // Uploads are copies of files people keep elsewhere; the ledger holds what was sent.
      removalPolicy: RemovalPolicy.DESTROY,
      autoDeleteObjects: true,
    });

    this.failedUploads = new Queue(this, 'FailedUploads', {
      ...SECURE_QUEUE_DEFAULTS,
      retentionPeriod: Duration.days(PIPELINE.sendQueue.dlqRetentionDays),
    });

    const splitSettings = PIPELINE.splitQueue;
    this.splitDeadLetterQueue = new Queue(this, 'SplitDeadLetterQueue', {
      ...SECURE_QUEUE_DEFAULTS,
      retentionPeriod: Duration.days(splitSettings.dlqRetentionDays),
    });
    this.splitQueue = new Queue(this, 'SplitQueue', {
      ...SECURE_QUEUE_DEFAULTS,
      visibilityTimeout: Duration.seconds(splitSettings.visibilityTimeoutSeconds),
      deadLetterQueue: {
        queue: this.splitDeadLetterQueue,
        maxReceiveCount: splitSettings.maxReceiveCount,
      },
    });

    this.splitter = new GiftBatchFunction(this, 'Splitter', {
      handler: 'splitter',
      description: 'gift-batch splitter: an uploaded file → ledger rows → send queue',
      timeout: Duration.seconds(PIPELINE.splitter.timeoutSeconds),
      memorySize: PIPELINE.splitter.memoryMb,
      logLevel: props.logLevel,
      deadLetterQueue: this.failedUploads,
      environment: {
        SPLIT_HAND_OVER_WHEN_REMAINING_MS: String(
          PIPELINE.splitter.handOverWhenRemainingSeconds * 1000,
        ),
        ...(props.defaultCampaignId ? { DEFAULT_CAMPAIGN_ID: props.defaultCampaignId } : {}),
        ...(props.approvalRowsOver === null
          ? {}
          : { APPROVAL_ROWS_OVER: String(props.approvalRowsOver) }),
        ...(props.preflight ? { SPLITTER_PREFLIGHT: 'true' } : {}),
      },
    })
      .bindUploads(this.bucket)
      .bindLedger(props.ledger, LEDGER_ACCESS.splitter)
      .bindSendQueue(props.sendQueue)
      .bindSplitQueue(this.splitQueue)
      .bindResults(props.results, { write: false });
    // The preflight's campaign GETs need the key, and draw from the fleet's shared rate (kept in
    // the ledger table, which the splitter may already read and write).
    if (props.preflight) this.splitter.bindAndOpen(props.preflight);
    // One continuation per invocation: each one re-reads the file and carries on alone.
    this.splitter.addEventSource(new SqsEventSource(this.splitQueue, { batchSize: 1 }));

    this.bucket.addEventNotification(
      EventType.OBJECT_CREATED,
      new LambdaDestination(this.splitter),
      { prefix: UPLOADS_PREFIX },
    );
  }
}
