import { Duration } from 'aws-cdk-lib';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import type { IBucket } from 'aws-cdk-lib/aws-s3';
import { Queue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { type AndOpenSettings, GiftBatchFunction } from './gift-batch-function.ts';
import { LEDGER_ACCESS } from './ledger.ts';
import { PIPELINE } from './pipeline-settings.ts';
import { SECURE_QUEUE_DEFAULTS } from './secure-queue.ts';

export interface SendQueueProps {
  ledger: ITable;
  results: IBucket;
  andOpen: AndOpenSettings;
  logLevel: string;
}

/**
 * The send path: the queue of rows to send, its dead-letter queue, and the sender fleet reading it
 * through an event source mapping. The fleet is bounded by the mapping's maximum concurrency (not
 * by reserved concurrency, which would make Lambda throttle the poller and count the throttles as
 * failed receives); rows that must wait (429, 503, a stopped batch) are re-queued as new delayed
 * messages, so only poison messages ever reach the dead-letter queue.
 */
export class SendQueueConstruct extends Construct {
  readonly queue: Queue;
  readonly deadLetterQueue: Queue;
  readonly sender: GiftBatchFunction;

  constructor(scope: Construct, id: string, props: SendQueueProps) {
    super(scope, id);
    const settings = PIPELINE.sendQueue;

    this.deadLetterQueue = new Queue(this, 'DeadLetterQueue', {
      ...SECURE_QUEUE_DEFAULTS,
      retentionPeriod: Duration.days(settings.dlqRetentionDays),
    });
    this.queue = new Queue(this, 'Queue', {
      ...SECURE_QUEUE_DEFAULTS,
      // At least six times the sender's timeout (AWS's advice for SQS event sources), so that a
      // batch Lambda is still retrying is not handed to a second sender.
      visibilityTimeout: Duration.seconds(settings.visibilityTimeoutSeconds),
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: settings.maxReceiveCount },
    });

    this.sender = new GiftBatchFunction(this, 'Sender', {
      handler: 'sender',
      description: 'gift-batch sender: one &Open gift request per queued row',
      timeout: Duration.seconds(PIPELINE.sender.timeoutSeconds),
      memorySize: PIPELINE.sender.memoryMb,
      logLevel: props.logLevel,
      environment: { SEND_CONCURRENCY: String(PIPELINE.sender.concurrencyPerInvocation) },
    })
      .bindLedger(props.ledger, LEDGER_ACCESS.sender)
      .bindSendQueue(this.queue)
      .bindResults(props.results, { write: false })
      .bindAndOpen(props.andOpen);

    // Also grants the sender sqs:ReceiveMessage/DeleteMessage/ChangeMessageVisibility on the queue.
    this.sender.addEventSource(
      new SqsEventSource(this.queue, {
        batchSize: PIPELINE.sender.batchSize,
        maxConcurrency: PIPELINE.sender.maxConcurrency,
        reportBatchItemFailures: true,
      }),
    );
  }
}
