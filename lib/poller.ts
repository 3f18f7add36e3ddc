import { Duration } from 'aws-cdk-lib';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import { Rule, Schedule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import type { IBucket } from 'aws-cdk-lib/aws-s3';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { type AndOpenSettings, GiftBatchFunction } from './gift-batch-function.ts';
import { LEDGER_ACCESS } from './ledger.ts';
import { PIPELINE } from './pipeline-settings.ts';

export interface PollerProps {
  ledger: ITable;
  sendQueue: IQueue;
  /** Where a stalled split is handed over again. */
  splitQueue: IQueue;
  results: IBucket;
  andOpen: AndOpenSettings;
  logLevel: string;
}

/**
 * The poller on a schedule: follows created gifts until their redemption URL appears, re-drives
 * rows whose message was lost (reconcile), re-sends a split whose splitter died, and writes
 * `results/<batch>.csv` when a batch is done.
 */
export class PollerConstruct extends Construct {
  readonly poller: GiftBatchFunction;
  readonly schedule: Rule;

  constructor(scope: Construct, id: string, props: PollerProps) {
    super(scope, id);
    this.poller = new GiftBatchFunction(this, 'Poller', {
      handler: 'poller',
      description: 'gift-batch poller: redemption URLs, reconcile, results files',
      timeout: Duration.seconds(PIPELINE.poller.timeoutSeconds),
      memorySize: PIPELINE.poller.memoryMb,
      logLevel: props.logLevel,
      // The next run starts within a minute anyway; a retry would only overlap it.
      retryAttempts: 0,
      // One run at a time. A run may outlast its one-minute schedule (a big batch's results file:
      // hence the 300 s timeout), and two pollers at once would do the same work twice and spend
      // &Open's GET budget twice (their conditional writes keep them correct, not cheap). With one
      // unit of reserved concurrency, a schedule tick that comes while a run is still going is
      // throttled; Lambda retries a throttled asynchronous event until maxEventAge, then drops it
      // (no error, no alarm: the AsyncEventsDropped metric counts it), and the next tick comes a
      // minute later anyway. This is a mutual exclusion, not a throttle on a fleet: the poller has
      // no queue that throttles could push into a DLQ, unlike the senders (see send-queue.ts).
      // Reserving 1 takes 1 from the account's unreserved concurrency, which AWS keeps at 100 or
      // more: an account with Lambda's default quota (1,000) has room; one still on a new
      // account's small quota must ask for more before deploying (README, "Deploy").
      reservedConcurrentExecutions: 1,
      maxEventAge: Duration.seconds(PIPELINE.poller.skipTickAfterSeconds),
      environment: {
        RECONCILE_QUIET_AFTER_MS: String(PIPELINE.reconcile.quietAfterSeconds * 1000),
        RECONCILE_SENDING_STALE_AFTER_MS: String(
          PIPELINE.reconcile.sendingStaleAfterSeconds * 1000,
        ),
        SPLIT_STALLED_AFTER_MS: String(PIPELINE.splitter.stalledAfterSeconds * 1000),
      },
    })
      .bindLedger(props.ledger, LEDGER_ACCESS.poller)
      .bindSendQueue(props.sendQueue)
      .bindSplitQueue(props.splitQueue)
      .bindResults(props.results, { write: true })
      .bindAndOpen(props.andOpen);

    this.schedule = new Rule(this, 'Schedule', {
      description: 'gift-batch: run the poller',
      schedule: Schedule.rate(Duration.minutes(PIPELINE.poller.everyMinutes)),
      targets: [new LambdaFunction(this.poller)],
    });
  }
}
