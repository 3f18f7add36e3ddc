import { Duration } from 'aws-cdk-lib';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import { EventType, type IBucket } from 'aws-cdk-lib/aws-s3';
import { LambdaDestination } from 'aws-cdk-lib/aws-s3-notifications';
import { Queue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { EXPORT_REQUESTS_PREFIX, GiftBatchFunction } from './gift-batch-function.ts';
import { LEDGER_ACCESS } from './ledger.ts';
import { PIPELINE } from './pipeline-settings.ts';
import { SECURE_QUEUE_DEFAULTS } from './secure-queue.ts';

export interface ExportsProps {
  ledger: ITable;
  results: IBucket;
  logLevel: string;
}

/**
 * Finance's exports in AWS: a request object put under `exports/requests/NAME.json` in the results
 * bucket makes S3 invoke the exporter, which writes `exports/NAME.csv` and its summary (or
 * `exports/NAME.error.json` saying what is wrong) with the same code as `gift-batch export`.
 */
export class ExportsConstruct extends Construct {
  readonly exporter: GiftBatchFunction;
  /** Requests the exporter still failed on after Lambda's retries (a ledger outage, a timeout). */
  readonly failedRequests: Queue;

  constructor(scope: Construct, id: string, props: ExportsProps) {
    super(scope, id);
    this.failedRequests = new Queue(this, 'FailedRequests', {
      ...SECURE_QUEUE_DEFAULTS,
      retentionPeriod: Duration.days(PIPELINE.sendQueue.dlqRetentionDays),
    });
    this.exporter = new GiftBatchFunction(this, 'Exporter', {
      handler: 'exporter',
      description: 'gift-batch exporter: exports/requests/NAME.json → exports/NAME.csv',
      timeout: Duration.seconds(PIPELINE.exporter.timeoutSeconds),
      memorySize: PIPELINE.exporter.memoryMb,
      logLevel: props.logLevel,
      deadLetterQueue: this.failedRequests,
    })
      .bindLedger(props.ledger, LEDGER_ACCESS.exporter)
      .bindExports(props.results);

    props.results.addEventNotification(
      EventType.OBJECT_CREATED,
      new LambdaDestination(this.exporter),
      { prefix: EXPORT_REQUESTS_PREFIX, suffix: '.json' },
    );
  }
}
