import { Duration } from 'aws-cdk-lib';
import {
  Alarm,
  AlarmStatusWidget,
  ComparisonOperator,
  Dashboard,
  GraphWidget,
  type IMetric,
  LogQueryWidget,
  Metric,
  TextWidget,
  TreatMissingData,
} from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import { Topic } from 'aws-cdk-lib/aws-sns';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import {
  METRIC,
  METRICS_NAMESPACE,
  METRICS_SERVICE,
  type MetricName,
} from '../lambdas/handlers/metrics.ts';
import type { GiftBatchFunction } from './gift-batch-function.ts';

/**
 * Age of the oldest queued row that means "stuck", not "a big batch": the splitter queues a whole
 * file at once, so the last row of a 100,000-row file waits its turn (about half an hour at 50
 * rows/s). Waiting rows are re-queued as new messages, so a pause does not age them either.
 */
export const OLDEST_MESSAGE_ALARM_MINUTES = 60;

export interface ObservabilityProps {
  functions: readonly GiftBatchFunction[];
  sender: GiftBatchFunction;
  sendQueue: IQueue;
  deadLetterQueue: IQueue;
  failedUploads: IQueue;
  /** Event-driven sends: the intake queue's DLQ and the EventBridge rule's DLQ. */
  intake?: { deadLetterQueue: IQueue; ruleDeadLetterQueue: IQueue };
  /** Split continuations that failed repeatedly. */
  splitDeadLetterQueue: IQueue;
  /** Export requests the exporter still failed on after Lambda's retries. */
  failedExports: IQueue;
  /** An existing SNS topic that alarms notify; without it the alarms only show in CloudWatch. */
  alarmTopicArn?: string;
}

/**
 * Alarms on what needs a person (a dead letter, an upload that was not split, a row with an unknown
 * outcome, sending stopped by a configuration &Open refuses, a queue that stopped draining, function
 * errors) and one dashboard showing a batch's progress.
 */
export class ObservabilityConstruct extends Construct {
  readonly alarms: Alarm[] = [];
  readonly dashboard: Dashboard;

  constructor(scope: Construct, id: string, props: ObservabilityProps) {
    super(scope, id);
    const topic = props.alarmTopicArn
      ? Topic.fromTopicArn(this, 'AlarmTopic', props.alarmTopicArn)
      : undefined;
    const alarm = (alarmId: string, metric: IMetric, description: string, threshold = 1): Alarm => {
      const created = new Alarm(this, alarmId, {
        metric,
        threshold,
        evaluationPeriods: 1,
        comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: TreatMissingData.NOT_BREACHING,
        alarmDescription: description,
      });
      if (topic) created.addAlarmAction(new SnsAction(topic));
      this.alarms.push(created);
      return created;
    };

    const fiveMinutes = Duration.minutes(5);
    alarm(
      'DeadLetters',
      props.deadLetterQueue.metricApproximateNumberOfMessagesVisible({
        period: fiveMinutes,
        statistic: 'Maximum',
      }),
      'A send message failed 5 receives (poison): its ledger row is still pending; look at the ' +
        'message, fix the cause, then let reconcile re-drive the row.',
    );
    alarm(
      'FailedUploads',
      props.failedUploads.metricApproximateNumberOfMessagesVisible({
        period: fiveMinutes,
        statistic: 'Maximum',
      }),
      'The splitter failed on an uploaded file after retries: the S3 event is in the queue.',
    );
    alarm(
      'FailedSplitContinuations',
      props.splitDeadLetterQueue.metricApproximateNumberOfMessagesVisible({
        period: fiveMinutes,
        statistic: 'Maximum',
      }),
      'A long file could not be carried on in a new splitter invocation after retries: see the ' +
        'splitter logs. The batch stays splitting; the poller hands it over again once it stalls.',
    );
    alarm(
      'FailedExports',
      props.failedExports.metricApproximateNumberOfMessagesVisible({
        period: fiveMinutes,
        statistic: 'Maximum',
      }),
      'An export request failed after Lambda retries (a ledger outage, a timeout): it has no ' +
        'export and no error file. The S3 event is in the queue; see the exporter logs, then put ' +
        'the request again.',
    );
    alarm(
      'UnknownOutcomes',
      pipelineMetric(METRIC.RowsUnknown, fiveMinutes),
      'A row may or may not have created a gift (timeout or 5xx after sending). It is never ' +
        're-sent automatically: check it with &Open (its request_id) before releasing it.',
    );
    alarm(
      'ConfigurationStop',
      pipelineMetric(METRIC.ConfigurationStops, fiveMinutes),
      '&Open refused the configuration (401/403/404 or API version), or the API key secret is ' +
        'empty or unreadable: the batch stopped, no row spent. Fix the key (put-secret-value) ' +
        'or base URL, then resume the batch (README, alarm ConfigurationStop).',
    );
    alarm(
      'GiftsNotFound',
      pipelineMetric(METRIC.GiftsNotFound, fiveMinutes),
      '&Open answered 404 to a GET of a gift we created: the API key now belongs to another ' +
        'tenant (or environment) than the key that created it. Its rows are still followed until ' +
        'their deadline, then finish without a link; put the right key back (README: GiftsNotFound).',
    );
    alarm(
      'SendQueueStuck',
      props.sendQueue.metricApproximateAgeOfOldestMessage({
        period: fiveMinutes,
        statistic: 'Maximum',
      }),
      `A queued row waited over ${OLDEST_MESSAGE_ALARM_MINUTES} minutes: the senders are not ` +
        'draining the queue.',
      OLDEST_MESSAGE_ALARM_MINUTES * 60,
    );
    if (props.intake) {
      alarm(
        'IntakeDeadLetters',
        props.intake.deadLetterQueue.metricApproximateNumberOfMessagesVisible({
          period: fiveMinutes,
          statistic: 'Maximum',
        }),
        'A gift event failed its receives (no readable idempotency key, or a persistent error): ' +
          'the intake log says why; fix the producer and send it again.',
      );
      alarm(
        'EventRuleDeadLetters',
        props.intake.ruleDeadLetterQueue.metricApproximateNumberOfMessagesVisible({
          period: fiveMinutes,
          statistic: 'Maximum',
        }),
        'EventBridge could not deliver a Gift Requested event to the intake queue: the event is ' +
          'in this DLQ (and in the bus archive, for replay).',
      );
      alarm(
        'EventKeyConflicts',
        pipelineMetric(METRIC.EventKeyConflicts, fiveMinutes),
        'A producer reused an idempotency key with a different payload: that event was not sent ' +
          '(an invalid row and a GiftRequestFailed event say so). The producer has a key bug.',
      );
    }
    for (const fn of props.functions) {
      alarm(
        `${capitalise(fn.handlerName)}Errors`,
        fn.metricErrors({ period: fiveMinutes, statistic: 'Sum' }),
        `The ${fn.handlerName} function failed (an invocation threw or timed out): see its logs.`,
      );
    }

    this.dashboard = new Dashboard(this, 'Dashboard', {
      defaultInterval: Duration.hours(3),
    });
    const oneMinute = Duration.minutes(1);
    this.dashboard.addWidgets(
      new TextWidget({
        markdown:
          '# gift-batch\nRows by outcome, the send queue draining, throttling by &Open, and each ' +
          'batch in the table below (from the sender logs).',
        width: 24,
        height: 2,
      }),
    );
    this.dashboard.addWidgets(
      new GraphWidget({
        title: 'Rows by outcome (per minute)',
        left: [METRIC.RowsCreated, METRIC.RowsRejected, METRIC.RowsInvalid, METRIC.RowsUnknown].map(
          (name) => pipelineMetric(name, oneMinute),
        ),
        stacked: true,
        width: 12,
      }),
      new GraphWidget({
        title: 'Throttling and configuration stops',
        left: [METRIC.RowsThrottled, METRIC.ConfigurationStops, METRIC.GiftsNotFound].map((name) =>
          pipelineMetric(name, oneMinute),
        ),
        right: [pipelineMetric(METRIC.PausedSeconds, oneMinute)],
        width: 12,
      }),
    );
    this.dashboard.addWidgets(
      new GraphWidget({
        title: 'Send queue',
        left: [
          props.sendQueue.metricApproximateNumberOfMessagesVisible({ period: oneMinute }),
          props.sendQueue.metricApproximateNumberOfMessagesNotVisible({ period: oneMinute }),
          props.sendQueue.metricApproximateNumberOfMessagesDelayed({ period: oneMinute }),
        ],
        right: [props.sendQueue.metricApproximateAgeOfOldestMessage({ period: oneMinute })],
        width: 12,
      }),
      new GraphWidget({
        title: 'Dead letters and failed uploads',
        left: [
          props.deadLetterQueue,
          props.failedUploads,
          props.splitDeadLetterQueue,
          props.failedExports,
          ...(props.intake ? [props.intake.deadLetterQueue, props.intake.ruleDeadLetterQueue] : []),
        ].map((queue) => queue.metricApproximateNumberOfMessagesVisible({ period: oneMinute })),
        width: 12,
      }),
    );
    this.dashboard.addWidgets(
      new GraphWidget({
        title: 'Gift events (event-driven sends)',
        left: [
          METRIC.EventsAccepted,
          METRIC.EventsDuplicate,
          METRIC.EventKeyConflicts,
          METRIC.EventsUnreadable,
        ].map((name) => pipelineMetric(name, oneMinute)),
        width: 24,
      }),
    );
    this.dashboard.addWidgets(
      new GraphWidget({
        title: 'Invocations and errors',
        left: props.functions.map((fn) => fn.metricInvocations({ period: oneMinute })),
        right: props.functions.map((fn) => fn.metricErrors({ period: oneMinute })),
        width: 12,
      }),
      new GraphWidget({
        title: 'Duration p99',
        left: props.functions.map((fn) =>
          fn.metricDuration({ period: oneMinute, statistic: 'p99' }),
        ),
        width: 12,
      }),
    );
    this.dashboard.addWidgets(
      new LogQueryWidget({
        title: 'Rows sent, by batch and result (sender logs)',
        logGroupNames: [props.sender.logGroup.logGroupName],
        queryLines: [
          'fields batchId, kind',
          "filter message = 'row'",
          'stats count(*) as rows by batchId, kind',
          'sort batchId',
        ],
        width: 16,
        height: 8,
      }),
      new AlarmStatusWidget({ title: 'Alarms', alarms: this.alarms, width: 8, height: 8 }),
    );
  }
}

/** A pipeline metric as the handlers publish it: namespace GiftBatch, dimension service. */
export function pipelineMetric(name: MetricName, period: Duration): Metric {
  return new Metric({
    namespace: METRICS_NAMESPACE,
    metricName: name,
    dimensionsMap: { service: METRICS_SERVICE },
    statistic: 'Sum',
    period,
  });
}

const capitalise = (text: string): string => text.charAt(0).toUpperCase() + text.slice(1);
