import { Duration, Validations } from 'aws-cdk-lib';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import { type Archive, EventBus, Rule } from 'aws-cdk-lib/aws-events';
import { SqsQueue } from 'aws-cdk-lib/aws-events-targets';
import { AccountPrincipal, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import type { IBucket } from 'aws-cdk-lib/aws-s3';
import { type IQueue, Queue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { GIFT_REQUESTED_DETAIL_TYPE } from '../lambdas/core/events/gift-event.ts';
import { GiftBatchFunction } from './gift-batch-function.ts';
import { LEDGER_ACCESS } from './ledger.ts';
import { PIPELINE } from './pipeline-settings.ts';
import { SECURE_QUEUE_DEFAULTS } from './secure-queue.ts';

export interface EventIntakeProps {
  ledger: ITable;
  sendQueue: IQueue;
  results: IBucket;
  logLevel: string;
  /** Accounts allowed to put gift events straight on the intake queue (CDK context). */
  producerAccounts: readonly string[];
}

/**
 * Event-driven sends (issue 7): other systems ask for one gift at a time, two ways that end on one
 * intake queue:
 * - an EventBridge event with detail-type "Gift Requested" (any source) on the stack's bus, routed
 *   by a rule to the intake queue (a dead-letter queue catches what EventBridge cannot deliver, and
 *   the bus archives every such event so it can be replayed);
 * - the contract's JSON put straight on the intake queue, also by the accounts named in context.
 * The intake function records at most one ledger row per idempotency key and queues valid rows on
 * the send queue: from there they share the file rows' claim, rate limit and polling. Producers hear
 * back on the same bus (GiftRequestCreated / GiftRequestFailed).
 */
export class EventIntakeConstruct extends Construct {
  readonly bus: EventBus;
  readonly archive: Archive;
  readonly queue: Queue;
  /** Intake messages that failed their receives: unreadable events, with their reason logged. */
  readonly deadLetterQueue: Queue;
  /** Events the rule could not deliver to the intake queue. */
  readonly ruleDeadLetterQueue: Queue;
  readonly rule: Rule;
  readonly intake: GiftBatchFunction;

  constructor(scope: Construct, id: string, props: EventIntakeProps) {
    super(scope, id);
    const settings = PIPELINE.intake;

    this.bus = new EventBus(this, 'Bus', {
      description: 'gift-batch: "Gift Requested" events in, GiftRequestCreated/Failed out',
    });
    this.archive = this.bus.archive('Archive', {
      description: 'Every Gift Requested event, for replay after an incident',
      eventPattern: { detailType: [GIFT_REQUESTED_DETAIL_TYPE] },
      retention: Duration.days(settings.archiveRetentionDays),
    });

    this.deadLetterQueue = new Queue(this, 'DeadLetterQueue', {
      ...SECURE_QUEUE_DEFAULTS,
      retentionPeriod: Duration.days(settings.dlqRetentionDays),
    });
    this.queue = new Queue(this, 'Queue', {
      ...SECURE_QUEUE_DEFAULTS,
      visibilityTimeout: Duration.seconds(6 * settings.timeoutSeconds),
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: settings.maxReceiveCount },
    });
    this.ruleDeadLetterQueue = new Queue(this, 'RuleDeadLetterQueue', {
      ...SECURE_QUEUE_DEFAULTS,
      retentionPeriod: Duration.days(settings.dlqRetentionDays),
    });
    Validations.of(this.ruleDeadLetterQueue).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason:
        'This queue is itself a dead-letter queue: the EventBridge rule target’s, which cdk-nag ' +
        'does not recognise because no queue redrive policy names it.',
    });

    this.rule = new Rule(this, 'GiftRequested', {
      description: 'gift-batch: Gift Requested events (any source) to the intake queue',
      eventBus: this.bus,
      eventPattern: { detailType: [GIFT_REQUESTED_DETAIL_TYPE] },
      targets: [
        new SqsQueue(this.queue, {
          deadLetterQueue: this.ruleDeadLetterQueue,
          maxEventAge: Duration.hours(24),
          retryAttempts: 185,
        }),
      ],
    });

    if (props.producerAccounts.length > 0) {
      this.queue.addToResourcePolicy(
        new PolicyStatement({
          sid: 'GiftEventProducers',
          principals: props.producerAccounts.map((account) => new AccountPrincipal(account)),
          actions: ['sqs:SendMessage', 'sqs:GetQueueUrl', 'sqs:GetQueueAttributes'],
          resources: [this.queue.queueArn],
        }),
      );
    }

    this.intake = new GiftBatchFunction(this, 'Intake', {
      handler: 'intake',
      description:
        'gift-batch intake: one gift event → at most one ledger row per key → send queue',
      timeout: Duration.seconds(settings.timeoutSeconds),
      memorySize: settings.memoryMb,
      logLevel: props.logLevel,
    })
      .bindLedger(props.ledger, LEDGER_ACCESS.intake)
      .bindSendQueue(props.sendQueue)
      .bindResults(props.results, { write: false })
      .bindOutcomeBus(this.bus);

    this.intake.addEventSource(
      new SqsEventSource(this.queue, {
        batchSize: settings.batchSize,
        maxConcurrency: settings.maxConcurrency,
        reportBatchItemFailures: true,
      }),
    );
  }
}
