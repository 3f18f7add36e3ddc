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
      environment: {
        // One run at a time, by a lease in the ledger (see handlers/poller.ts).
        POLLER_SINGLE_RUN: 'true',
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
