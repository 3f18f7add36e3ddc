import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  CreateBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  SendMessageBatchCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { Upload } from '@aws-sdk/lib-storage';
import type {
  APIGatewayProxyEventV2,
  APIGatewayProxyStructuredResultV2,
  Context,
  S3Event,
  ScheduledEvent,
  SQSBatchResponse,
  SQSEvent,
} from 'aws-lambda';
import { DynamoDbLedger } from '../../lambdas/adapters/dynamodb-ledger.ts';
import { DynamoDbLimiterStore } from '../../lambdas/adapters/dynamodb-limiter-store.ts';
import { S3ObjectStore } from '../../lambdas/adapters/s3-object-store.ts';
import { SqsSendQueue } from '../../lambdas/adapters/sqs-send-queue.ts';
import { SqsSplitContinuations } from '../../lambdas/adapters/sqs-split-continuations.ts';
import { rateLimitConfig } from '../../lambdas/config.ts';
import { batchIdForObject } from '../../lambdas/core/batch-id.ts';
import { CompletionService, resultsKeys } from '../../lambdas/core/completion-service.ts';
import { ReconcileService } from '../../lambdas/core/reconcile-service.ts';
import {
  type RetryUnknownReport,
  RetryUnknownService,
} from '../../lambdas/core/retry-unknown-service.ts';
import { resumeStalledSplits } from '../../lambdas/core/split-recovery.ts';
import { uploadedObjectOf } from '../../lambdas/handlers/s3-records.ts';
import { systemClock } from '../../lambdas/ports/clock.ts';
import type { BatchRecord, RowRecord } from '../../lambdas/ports/ledger.ts';
import type { LimiterState, LimiterStore } from '../../lambdas/ports/rate-limit.ts';
import { PIPELINE } from '../../lib/pipeline-settings.ts';
import {
  SANDBOX_API_KEY,
  type Sandbox,
  type SandboxOptions,
  startSandbox,
  type WebhookOptions,
} from '../../sandbox/index.ts';
import { ensureLedgerTable } from '../aws/ledger-table.ts';
import {
  HALT_AFTER_TIMEOUT,
  haltAfterTimeout,
  invokeWithTimeout,
  type LocalLambdaLogger,
  Schedule,
  SqsEventSource,
  type SqsInvocationReport,
  s3ObjectCreatedEvent,
  scheduledEvent,
  startFunctionUrl,
} from '../lambda/index.ts';
import {
  findJava,
  LOCAL_CREDENTIALS,
  LOCAL_REGION,
  localClientConfig,
  type RunningStandIn,
  startDynamoDbLocal,
  startFauxqs,
} from '../standins/index.ts';
import { LOCAL_LEDGER_TABLE, ledgerDataDir, recordLedgerEndpoint } from './local-ledger.ts';

/** The local resources, named once (the stack's are named by CloudFormation). */
export const LOCAL_NAMES = {
  uploadsBucket: 'gift-batch-uploads',
  resultsBucket: 'gift-batch-results',
  sendQueue: 'gift-batch-send',
  sendDlq: 'gift-batch-send-dlq',
  intakeQueue: 'gift-batch-intake',
  intakeDlq: 'gift-batch-intake-dlq',
  splitQueue: 'gift-batch-split',
  splitDlq: 'gift-batch-split-dlq',
  ledgerTable: LOCAL_LEDGER_TABLE,
} as const;

export class LocalPipelineError extends Error {
  override readonly name = 'LocalPipelineError';
}

export interface LocalPipelineOptions {
  /** Where the persistent ledger lives (`.gift-batch/`). */
  stateDir: string;
  /** Forget every earlier batch. */
  fresh?: boolean;
  /** &Open base URL or region name; without it the built-in sandbox is started. */
  apiUrl?: string;
  apiKey?: string;
  /** Sender invocations at once (the event source mapping's maximum concurrency). */
  concurrency?: number;
  /** Options for the built-in sandbox (tests inject faults). */
  sandbox?: SandboxOptions;
  /**
   * A sandbox already running in another process, instead of the built-in one: the send benchmark
   * runs it apart so that neither event loop delays the other. Called with the sandbox's key;
   * webhooks are turned on through its `/_sandbox/webhooks` admin endpoint.
   */
  sandboxUrl?: string;
  /**
   * Where DynamoDB Local keeps the ledger: on disk in the state dir (default: `run` and `resume`
   * need it to survive), or in memory (the send benchmark: a throwaway ledger with DynamoDB's
   * headroom rather than the disk's ~500 writes/s, see STACK.md).
   */
  ledgerStorage?: 'disk' | 'memory';
  /** Handler tuning for tests: poll quickly, stop waiting for URLs sooner. */
  environment?: Record<string, string>;
  /** How often the poller runs (Lambda: every minute; locally much more often). */
  pollEveryMs?: number;
  logger?: LocalLambdaLogger;
  /** Called after every sender invocation (progress, tests). */
  onSenderInvoke?: (report: SqsInvocationReport) => void;
  /**
   * The sender's function timeout (default the stack's). Tests shorten it to make invocations time
   * out mid-request; the send queue's visibility timeout stays six times it, as in the stack.
   */
  senderTimeoutSeconds?: number;
  /**
   * Signed webhooks from the built-in sandbox to the webhook handler, behind a local Function URL,
   * with a fresh secret per run; the poller is then only a safety net. Needs the built-in sandbox.
   */
  webhooks?: boolean;
  /** Delivery faults for the sandbox's webhooks (duplicates, late, out of order): tests, the bench. */
  webhookFaults?: Omit<WebhookOptions, 'url' | 'secret'>;
}

/**
 * Locally the safety net looks sooner than in AWS (PIPELINE.webhook): the sandbox's link events come
 * within two seconds and its retries within seconds more, and a run should not idle for minutes.
 */
export const LOCAL_WEBHOOK_FIRST_POLL_MS = 20_000;

interface Handlers {
  splitter: (event: S3Event | SQSEvent, context: Context) => Promise<void>;
  sender: (event: SQSEvent, context: Context) => Promise<SQSBatchResponse>;
  poller: (event: ScheduledEvent, context: Context) => Promise<void>;
  webhook:
    | ((
        event: APIGatewayProxyEventV2,
        context: Context,
      ) => Promise<APIGatewayProxyStructuredResultV2>)
    | null;
  intake: (event: SQSEvent, context: Context) => Promise<SQSBatchResponse>;
}

/** Event-driven sends on one machine: the intake queue (the bus's target in AWS) and its DLQ. */
interface EventIntake {
  queueUrl: string;
  dlqUrl: string;
  /** Where the outcome events go (GiftRequestCreated / GiftRequestFailed, JSON Lines). */
  outcomeEventsFile: string;
}

/** The batch the splitter makes of an upload's S3 event: the same derivation, so it can be followed. */
export async function batchIdOfUpload(event: S3Event): Promise<string> {
  const record = event.Records[0];
  if (!record) throw new LocalPipelineError('the upload raised no S3 event record');
  return batchIdForObject(uploadedObjectOf(record));
}

/** Turns on the webhooks of a sandbox in another process (its admin endpoint answers 200 or says why). */
async function configureRemoteWebhooks(sandboxUrl: string, options: WebhookOptions): Promise<void> {
  const response = await fetch(`${sandboxUrl}/_sandbox/webhooks`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(options),
  });
  // The body may name the problem; it never echoes the secret (the sandbox does not log it).
  if (!response.ok) {
    throw new LocalPipelineError(
      `the sandbox at ${sandboxUrl} refused its webhook settings (HTTP ${response.status}): ${await response.text()}`,
    );
  }
}

/** The process-wide environment the handlers were loaded with (they read it once, as in Lambda). */
let loadedEnvironment: string | null = null;

/**
 * The whole pipeline on one machine: real stand-ins for S3, SQS and DynamoDB, the &Open sandbox (or
 * a real &Open), and the same handlers the stack deploys, driven as Lambda drives them.
 */
export class LocalPipeline {
  readonly ledger: DynamoDbLedger;
  /** Where the handlers' &Open is (the sandbox's URL or the given one) and the key they use. */
  readonly andOpen: { baseUrl: string; apiKey: string };
  readonly #limiterStore: DynamoDbLimiterStore;
  readonly sandbox: Sandbox | null;
  readonly #stops: (() => Promise<void>)[];
  readonly #s3: S3Client;
  readonly #sqs: SQSClient;
  readonly #handlers: Handlers;
  readonly #senderSource: SqsEventSource;
  readonly #pollerSchedule: Schedule;
  readonly #sendQueueUrl: string;
  readonly #sendDlqUrl: string;
  /** The configured ceiling on requests per second (ANDOPEN_MAX_RPS), for the report. */
  readonly #ceilingRps: number | null;
  /** The local Function URL the sandbox delivers webhooks to (null: webhooks off). */
  readonly webhookUrl: string | null;
  readonly #intake: EventIntake;
  readonly #splitQueueUrl: string;
  /** When this process began its pipeline (ms): every row moved before then was moved by another. */
  readonly #startedAt: number;
  #stopped = false;

  private constructor(parts: {
    ledger: DynamoDbLedger;
    andOpen: { baseUrl: string; apiKey: string };
    limiterStore: DynamoDbLimiterStore;
    sandbox: Sandbox | null;
    stops: (() => Promise<void>)[];
    s3: S3Client;
    sqs: SQSClient;
    handlers: Handlers;
    senderSource: SqsEventSource;
    pollerSchedule: Schedule;
    sendQueueUrl: string;
    sendDlqUrl: string;
    ceilingRps: number | null;
    webhookUrl: string | null;
    intake: EventIntake;
    splitQueueUrl: string;
    startedAt: number;
  }) {
    this.ledger = parts.ledger;
    this.andOpen = parts.andOpen;
    this.#limiterStore = parts.limiterStore;
    this.sandbox = parts.sandbox;
    this.#stops = parts.stops;
    this.#s3 = parts.s3;
    this.#sqs = parts.sqs;
    this.#handlers = parts.handlers;
    this.#senderSource = parts.senderSource;
    this.#pollerSchedule = parts.pollerSchedule;
    this.#sendQueueUrl = parts.sendQueueUrl;
    this.#sendDlqUrl = parts.sendDlqUrl;
    this.#ceilingRps = parts.ceilingRps;
    this.webhookUrl = parts.webhookUrl;
    this.#intake = parts.intake;
    this.#splitQueueUrl = parts.splitQueueUrl;
    this.#startedAt = parts.startedAt;
  }

  /**
   * Starts everything; on any failure stops what it had started, so nothing is left listening.
   *
   * 1. Check Java, start DynamoDB Local on the persistent ledger, fauxqs, and the sandbox.
   * 2. Create the bucket, queues (DLQ with redrive) and table as the stack does.
   * 3. Point the handlers' environment at them and load the handlers.
   * 4. Start the sender's event source and the poller's schedule.
   */
  static async start(options: LocalPipelineOptions): Promise<LocalPipeline> {
    const startedAt = Date.now();
    const stops: (() => Promise<void>)[] = [];
    const stopAll = async () => {
      for (const stop of stops.reverse()) await stop().catch(() => undefined);
    };
    try {
      const java = await findJava();
      if (!java.ok) throw new LocalPipelineError(java.message);

      const ledgerDir = ledgerDataDir(options.stateDir);
      // The sandbox remembers its gifts beside the ledger, as &Open would between two runs.
      const sandboxState = join(options.stateDir, 'sandbox.jsonl');
      if (options.fresh) {
        await rm(ledgerDir, { recursive: true, force: true });
        await rm(sandboxState, { force: true });
      }
      await mkdir(ledgerDir, { recursive: true });
      const dynamoLocal = await startDynamoDbLocal({
        storage: options.ledgerStorage === 'memory' ? 'memory' : { dataDir: ledgerDir },
      });
      stops.push(() => dynamoLocal.stop());
      // status and export read through this DynamoDB Local while it runs (one per data directory).
      stops.push(
        await recordLedgerEndpoint(options.stateDir, {
          endpoint: dynamoLocal.endpoint,
          pid: dynamoLocal.pid,
          ownerPid: process.pid,
          startedAt: new Date().toISOString(),
        }),
      );
      const fauxqs: RunningStandIn = await startFauxqs();
      stops.push(() => fauxqs.stop());
      const sandbox =
        options.apiUrl || options.sandboxUrl
          ? null
          : await startSandbox({
              redemptionUrlDelayMs: 1_500,
              stateFile: sandboxState,
              ...options.sandbox,
            });
      if (sandbox) stops.push(() => sandbox.stop());
      if (options.webhooks && !sandbox && !options.sandboxUrl) {
        throw new LocalPipelineError(
          'webhooks need the built-in sandbox: &Open cannot deliver to this machine (deploy the stack for webhooks from &Open)',
        );
      }
      // A new secret every run: nothing signed for an earlier run is accepted by this one.
      const webhookSecret = options.webhooks ? randomBytes(32).toString('hex') : null;

      const s3 = new S3Client(localClientConfig(fauxqs.endpoint));
      const sqs = new SQSClient(localClientConfig(fauxqs.endpoint));
      const dynamo = new DynamoDBClient(localClientConfig(dynamoLocal.endpoint));
      stops.push(async () => {
        s3.destroy();
        sqs.destroy();
        dynamo.destroy();
      });

      const senderTimeoutSeconds = options.senderTimeoutSeconds ?? PIPELINE.sender.timeoutSeconds;
      const { sendQueueUrl, sendQueueArn, sendDlqUrl, splitQueueUrl, splitQueueArn } =
        await createResources(s3, sqs, dynamo, {
          visibilityTimeoutSeconds:
            (PIPELINE.sendQueue.visibilityTimeoutSeconds / PIPELINE.sender.timeoutSeconds) *
            senderTimeoutSeconds,
        });
      const intakeQueues = await createIntakeQueues(sqs);
      const outcomeEventsFile = join(options.stateDir, 'outcome-events.jsonl');

      const apiKey =
        options.apiKey ?? (sandbox || options.sandboxUrl ? SANDBOX_API_KEY : undefined);
      if (!apiKey) {
        throw new LocalPipelineError(
          'no &Open API key: pass --api-key or set ANDOPEN_API_KEY (the built-in sandbox needs none)',
        );
      }
      const environment: Record<string, string> = {
        AWS_REGION: LOCAL_REGION,
        AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
        AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
        AWS_ENDPOINT_URL_S3: fauxqs.endpoint,
        AWS_ENDPOINT_URL_SQS: fauxqs.endpoint,
        AWS_ENDPOINT_URL_DYNAMODB: dynamoLocal.endpoint,
        S3_FORCE_PATH_STYLE: 'true',
        LEDGER_TABLE: LOCAL_NAMES.ledgerTable,
        SEND_QUEUE_URL: sendQueueUrl,
        OUTCOME_EVENTS_FILE: outcomeEventsFile,
        SPLIT_QUEUE_URL: splitQueueUrl,
        SPLIT_HAND_OVER_WHEN_REMAINING_MS: String(
          PIPELINE.splitter.handOverWhenRemainingSeconds * 1000,
        ),
        RESULTS_BUCKET: LOCAL_NAMES.resultsBucket,
        ANDOPEN_BASE_URL: options.apiUrl ?? options.sandboxUrl ?? (sandbox as Sandbox).url,
        ANDOPEN_API_KEY: apiKey,
        SEND_CONCURRENCY: String(PIPELINE.sender.concurrencyPerInvocation),
        // As the stack sets it: a sender is gone (and has added its counts) after twice its timeout.
        RECONCILE_SENDING_STALE_AFTER_MS: String(
          (PIPELINE.reconcile.sendingStaleAfterSeconds / PIPELINE.sender.timeoutSeconds) *
            senderTimeoutSeconds *
            1000,
        ),
        POWERTOOLS_LOG_LEVEL: process.env.POWERTOOLS_LOG_LEVEL ?? 'WARN',
        POWERTOOLS_SERVICE_NAME: 'gift-batch',
        // CloudWatch metrics are EMF lines on stdout: nothing reads them on one machine.
        POWERTOOLS_METRICS_DISABLED: 'true',
        ...(webhookSecret
          ? {
              WEBHOOKS_ENABLED: 'true',
              WEBHOOK_SECRET: webhookSecret,
              POLL_FIRST_AFTER_MS: String(LOCAL_WEBHOOK_FIRST_POLL_MS),
            }
          : {}),
        ...options.environment,
      };
      const handlers = await loadHandlers(environment, webhookSecret !== null);

      let webhookUrl: string | null = null;
      if (handlers.webhook && (sandbox || options.sandboxUrl) && webhookSecret) {
        const functionUrl = await startFunctionUrl({
          handler: handlers.webhook,
          functionName: 'gift-batch-webhook',
          timeoutMs: PIPELINE.webhook.timeoutSeconds * 1000,
          ...(options.logger ? { logger: options.logger } : {}),
        });
        stops.push(() => functionUrl.stop());
        webhookUrl = functionUrl.url;
        const webhookOptions = {
          ...options.webhookFaults,
          url: functionUrl.url,
          secret: webhookSecret,
        };
        if (sandbox) sandbox.configureWebhooks(webhookOptions);
        else await configureRemoteWebhooks(options.sandboxUrl as string, webhookOptions);
      }

      const logger = options.logger;
      const senderSource = new SqsEventSource({
        sqs,
        queueUrl: sendQueueUrl,
        queueArn: sendQueueArn,
        handler: handlers.sender,
        functionName: 'gift-batch-sender',
        functionTimeoutMs: senderTimeoutSeconds * 1000,
        batchSize: PIPELINE.sender.batchSize,
        maxConcurrency: Math.max(2, options.concurrency ?? PIPELINE.sender.maxConcurrency),
        memoryLimitInMB: PIPELINE.sender.memoryMb,
        ...(logger ? { logger } : {}),
        ...(options.onSenderInvoke ? { onInvoke: options.onSenderInvoke } : {}),
      });
      senderSource.start();
      stops.push(() => senderSource.stop());

      // The intake queue drives the intake handler as its event source mapping does in AWS.
      const intakeSource = new SqsEventSource({
        sqs,
        queueUrl: intakeQueues.queueUrl,
        queueArn: intakeQueues.queueArn,
        handler: handlers.intake,
        functionName: 'gift-batch-intake',
        functionTimeoutMs: PIPELINE.intake.timeoutSeconds * 1000,
        batchSize: PIPELINE.intake.batchSize,
        maxConcurrency: PIPELINE.intake.maxConcurrency,
        memoryLimitInMB: PIPELINE.intake.memoryMb,
        ...(logger ? { logger } : {}),
      });
      intakeSource.start();
      stops.push(() => intakeSource.stop());
      // The splitter's second event source: splits handed over to a new invocation.
      const splitSource = new SqsEventSource({
        sqs,
        queueUrl: splitQueueUrl,
        queueArn: splitQueueArn,
        handler: handlers.splitter,
        functionName: 'gift-batch-splitter',
        functionTimeoutMs: PIPELINE.splitter.timeoutSeconds * 1000,
        batchSize: 1,
        reportBatchItemFailures: false,
        memoryLimitInMB: PIPELINE.splitter.memoryMb,
        ...(logger ? { logger } : {}),
      });
      splitSource.start();
      stops.push(() => splitSource.stop());

      const pollerSchedule = new Schedule({
        name: 'gift-batch-poller',
        everyMs: options.pollEveryMs ?? 1_000,
        run: () =>
          invokeWithTimeout(handlers.poller, scheduledEvent({ ruleName: 'gift-batch-poller' }), {
            functionName: 'gift-batch-poller',
            timeoutMs: PIPELINE.poller.timeoutSeconds * 1000,
          }),
        ...(logger ? { logger } : {}),
      });
      pollerSchedule.start();
      stops.push(() => pollerSchedule.stop());

      return new LocalPipeline({
        ledger: new DynamoDbLedger({ client: dynamo, tableName: LOCAL_NAMES.ledgerTable }),
        andOpen: { baseUrl: environment.ANDOPEN_BASE_URL as string, apiKey },
        limiterStore: new DynamoDbLimiterStore({
          client: dynamo,
          tableName: LOCAL_NAMES.ledgerTable,
        }),
        sandbox,
        stops,
        s3,
        sqs,
        handlers,
        senderSource,
        pollerSchedule,
        sendQueueUrl,
        sendDlqUrl,
        // Read as the handlers read it (their environment is in place now), validated the same way.
        ceilingRps: rateLimitConfig().maxRps,
        webhookUrl,
        intake: {
          queueUrl: intakeQueues.queueUrl,
          dlqUrl: intakeQueues.dlqUrl,
          outcomeEventsFile,
        },
        splitQueueUrl,
        startedAt,
      });
    } catch (error) {
      await stopAll();
      throw error;
    }
  }

  /** The send queue, as a producer sees it (tests deliver duplicates through it). */
  get sendQueue(): SqsSendQueue {
    return new SqsSendQueue({ client: this.#sqs, queueUrl: this.#sendQueueUrl });
  }

  get sendQueueUrl(): string {
    return this.#sendQueueUrl;
  }

  /** The fleet's shared rate state in the ledger table: other callers of &Open draw from it too. */
  get limiterStore(): LimiterStore {
    return this.#limiterStore;
  }

  /** The fleet's shared view of &Open's rate limit: the rate, and a pause with its reason. */
  limiterState(): Promise<LimiterState | null> {
    return this.#limiterStore.read();
  }

  /** Messages in the send queue's dead-letter queue (poison messages only, by design). */
  async deadLetterCount(): Promise<number> {
    const { Attributes } = await this.#sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: this.#sendDlqUrl,
        AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
      }),
    );
    return (
      Number(Attributes?.ApproximateNumberOfMessages ?? 0) +
      Number(Attributes?.ApproximateNumberOfMessagesNotVisible ?? 0)
    );
  }

  /**
   * Re-drives rows whose messages are gone: the queue starts empty every run, while the ledger
   * remembers what an interrupted run left pending.
   */
  async reconcile(): Promise<Map<string, number>> {
    // Every row moved before this process began was moved by an earlier one, now gone (Ctrl-C,
    // kill -9): whatever it decided and never added to the counters is recounted from the rows.
    return new ReconcileService({
      ledger: this.ledger,
      queue: this.sendQueue,
    }).redriveActiveBatches({ countsMovedBefore: this.#startedAt });
  }

  /**
   * Hands over the splits an interrupted run left half done: at the start of a run no splitter of
   * this machine is running, so every batch still splitting has lost its splitter (in AWS the
   * poller waits for longer than an invocation can run before it decides so).
   */
  async resumeInterruptedSplits(): Promise<string[]> {
    const reconcile = new ReconcileService({ ledger: this.ledger, queue: this.sendQueue });
    return resumeStalledSplits(
      {
        ledger: this.ledger,
        continuations: new SqsSplitContinuations({
          client: this.#sqs,
          queueUrl: this.#splitQueueUrl,
        }),
        clock: systemClock,
        // Only a file this run has put back: the uploads died with the interrupted run.
        fileIsThere: (source) => this.#holds(source),
        // The split carries on from its checkpoint and queues its last chunk again, which is enough
        // in AWS, where the queue outlives a splitter. Here the queue died with the interrupted
        // run: the rows its split had recorded and queued before that chunk are in the ledger only.
        // Queue every undecided row of the batch again (the claim still sends each once; a
        // `sending` row becomes unknown, as a row of a dead sender must), and recount what that
        // run decided and never added to the counters: before the split moves on, while every row
        // of the batch last moved before this process began (the start-of-run recount only takes
        // batches already sending).
        beforeHandOver: async (batchId) => {
          await reconcile.redriveBatch(batchId, { countsMovedBefore: this.#startedAt });
        },
      },
      0,
    );
  }

  async #holds(source: { bucket: string; key: string }): Promise<boolean> {
    try {
      await this.#s3.send(new HeadObjectCommand({ Bucket: source.bucket, Key: source.key }));
      return true;
    } catch (error) {
      if ((error as { name?: string }).name === 'NotFound') return false;
      throw error;
    }
  }

  /**
   * Lets a batch that stopped on a configuration error (a refused key, a wrong URL) send again,
   * once the person who re-runs it has fixed the cause, and queues its undecided rows.
   */
  async resumeStopped(batchId: string): Promise<number> {
    // Stopped before its split ended (the run that stopped it exited): the split carries on too.
    const unsplit = (await this.ledger.getBatch(batchId))?.splitCompletedAt === null;
    await this.ledger.setPhase(
      batchId,
      unsplit ? 'splitting' : 'sending',
      { stopReason: null },
      new Date().toISOString(),
    );
    if (unsplit) await this.resumeInterruptedSplits();
    return new ReconcileService({ ledger: this.ledger, queue: this.sendQueue }).redriveBatch(
      batchId,
      { countsMovedBefore: this.#startedAt },
    );
  }

  /** A batch's `unknown` rows, in row order, for a person to check before releasing them. */
  unknownRows(batchId: string): Promise<RowRecord[]> {
    return this.#retryUnknown().unknownRows(batchId);
  }

  /**
   * Releases `unknown` rows (default: all of the batch's) for another try and queues them; a
   * completed batch goes back to sending. Null when the batch is not in the ledger.
   */
  releaseUnknown(batchId: string, rows?: number[]): Promise<RetryUnknownReport | null> {
    return this.#retryUnknown().release(batchId, rows);
  }

  #retryUnknown(): RetryUnknownService {
    return new RetryUnknownService({
      ledger: this.ledger,
      queue: this.sendQueue,
      clock: systemClock,
    });
  }

  /** Where this pipeline's outcome events go, one JSON line each (EventBridge's shape). */
  get outcomeEventsFile(): string {
    return this.#intake.outcomeEventsFile;
  }

  get intakeQueueUrl(): string {
    return this.#intake.queueUrl;
  }

  /**
   * Puts gift event messages on the intake queue as a producer would (EventBridge envelopes or the
   * contract itself), ten to a SendMessageBatch.
   */
  async putIntakeMessages(bodies: readonly string[]): Promise<void> {
    for (let start = 0; start < bodies.length; start += 10) {
      const chunk = bodies.slice(start, start + 10);
      const response = await this.#sqs.send(
        new SendMessageBatchCommand({
          QueueUrl: this.#intake.queueUrl,
          Entries: chunk.map((body, index) => ({ Id: `e${start + index}`, MessageBody: body })),
        }),
      );
      if ((response.Failed ?? []).length > 0) {
        const reason = response.Failed?.[0]?.Message ?? 'unknown reason';
        throw new LocalPipelineError(`the intake queue refused an event: ${reason}`);
      }
    }
  }

  /** Messages in the intake dead-letter queue (events without a readable key). */
  async intakeDeadLetterCount(): Promise<number> {
    return this.#messageCount(this.#intake.dlqUrl);
  }

  async #messageCount(queueUrl: string): Promise<number> {
    const { Attributes } = await this.#sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: queueUrl,
        AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
      }),
    );
    return (
      Number(Attributes?.ApproximateNumberOfMessages ?? 0) +
      Number(Attributes?.ApproximateNumberOfMessagesNotVisible ?? 0)
    );
  }

  /** Uploads a file as a user would (multipart), returning the S3 event the upload would raise. */
  async upload(filePath: string, options: { campaign?: string } = {}): Promise<S3Event> {
    const name = basename(filePath);
    const key = options.campaign ? `uploads/${options.campaign}/${name}` : `uploads/${name}`;
    await new Upload({
      client: this.#s3,
      params: { Bucket: LOCAL_NAMES.uploadsBucket, Key: key, Body: createReadStream(filePath) },
    }).done();
    const head = await this.#s3.send(
      new HeadObjectCommand({ Bucket: LOCAL_NAMES.uploadsBucket, Key: key }),
    );
    return s3ObjectCreatedEvent({
      bucket: LOCAL_NAMES.uploadsBucket,
      key,
      size: head.ContentLength ?? (await stat(filePath)).size,
      eTag: head.ETag ?? '',
      ...(head.VersionId ? { versionId: head.VersionId } : {}),
    });
  }

  /** Deletes an uploaded object, as a person might between its upload and its split (tests). */
  async deleteUpload(event: S3Event): Promise<void> {
    const record = event.Records[0];
    if (!record) throw new LocalPipelineError('the upload raised no S3 event record');
    const { bucket, key } = uploadedObjectOf(record);
    await this.#s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
  }

  /** Invokes the splitter with an S3 event, as the bucket notification does in AWS. */
  async split(event: S3Event): Promise<void> {
    await invokeWithTimeout(this.#handlers.splitter, event, {
      functionName: 'gift-batch-splitter',
      timeoutMs: PIPELINE.splitter.timeoutSeconds * 1000,
    });
  }

  /**
   * Waits until the batch is complete or stopped, or waits for a person's approval (nothing moves it
   * on until someone approves it), reporting it (and the fleet's rate) on every look.
   */
  async waitForBatch(
    batchId: string,
    onProgress: (batch: BatchRecord, limiter: LimiterState | null) => void = () => undefined,
    options: { everyMs?: number; signal?: AbortSignal } = {},
  ): Promise<BatchRecord> {
    for (;;) {
      const [batch, limiter] = await Promise.all([
        this.ledger.getBatch(batchId),
        this.#limiterStore.read(),
      ]);
      if (!batch) throw new LocalPipelineError(`batch ${batchId} is not in the ledger`);
      onProgress(batch, limiter);
      if (['complete', 'stopped', 'awaiting-approval'].includes(batch.phase)) return batch;
      if (options.signal?.aborted) throw new LocalPipelineError('interrupted');
      await new Promise((resolve) => setTimeout(resolve, options.everyMs ?? 500));
    }
  }

  /**
   * Copies a batch's results (the CSV, and beside it its JSON summary and HTML report) from the
   * results bucket to a local path. A batch completed in an earlier run has its results in the ledger
   * but not in this run's fresh bucket: they are written again from the ledger first. The bucket's
   * report names `<batch>.csv`; saved under another name, the page is made again to name that file.
   */
  async downloadResults(batch: BatchRecord, outPath: string): Promise<string> {
    const { csvKey, summaryKey, reportKey } = resultsKeys(batch.batchId);
    const completion = new CompletionService({
      ledger: this.ledger,
      objects: new S3ObjectStore({ client: this.#s3 }),
      clock: systemClock,
      limiter: this.#limiterStore,
      settings: {
        resultsBucket: LOCAL_NAMES.resultsBucket,
        recheckQuietBatchAfterMs: 0,
        ceilingRps: this.#ceilingRps,
      },
    });
    try {
      await this.#s3.send(
        new HeadObjectCommand({ Bucket: LOCAL_NAMES.resultsBucket, Key: csvKey }),
      );
    } catch {
      await completion.writeResults(batch);
    }
    await mkdir(dirname(outPath), { recursive: true });
    await this.#download(csvKey, outPath);
    await this.#download(summaryKey, besideResults(outPath, '.json'));
    const reportPath = besideResults(outPath, '.html');
    if (basename(outPath) === basename(csvKey)) await this.#download(reportKey, reportPath);
    else await writeFile(reportPath, await completion.reportHtml(batch, basename(outPath)));
    return outPath;
  }

  async #download(key: string, path: string): Promise<void> {
    const object = await this.#s3.send(
      new GetObjectCommand({ Bucket: LOCAL_NAMES.resultsBucket, Key: key }),
    );
    await pipeline(object.Body as NodeJS.ReadableStream, createWriteStream(path));
  }

  /** Runs the poller now (tests, and the end of a run). */
  pollNow(): Promise<void> {
    return this.#pollerSchedule.runNow();
  }

  /** Stops everything it started, by process id for the Java child; safe to call twice. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    for (const stop of [...this.#stops].reverse()) {
      await stop().catch(() => undefined);
    }
  }
}

/** The summary and the report sit beside the CSV: `out.csv` → `out.json`, `out.html`. */
export function besideResults(csvPath: string, extension: '.json' | '.html'): string {
  return csvPath.replace(/(\.csv)?$/, extension);
}

async function createResources(
  s3: S3Client,
  sqs: SQSClient,
  dynamo: DynamoDBClient,
  queueSettings: { visibilityTimeoutSeconds: number },
): Promise<{
  sendQueueUrl: string;
  sendQueueArn: string;
  sendDlqUrl: string;
  splitQueueUrl: string;
  splitQueueArn: string;
}> {
  for (const bucket of [LOCAL_NAMES.uploadsBucket, LOCAL_NAMES.resultsBucket]) {
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  }
  const dlq = await sqs.send(
    new CreateQueueCommand({
      QueueName: LOCAL_NAMES.sendDlq,
      Attributes: {
        MessageRetentionPeriod: String(PIPELINE.sendQueue.dlqRetentionDays * 86_400),
      },
    }),
  );
  const dlqArn = await queueArn(sqs, dlq.QueueUrl as string);
  const queue = await sqs.send(
    new CreateQueueCommand({
      QueueName: LOCAL_NAMES.sendQueue,
      Attributes: {
        VisibilityTimeout: String(Math.ceil(queueSettings.visibilityTimeoutSeconds)),
        RedrivePolicy: JSON.stringify({
          deadLetterTargetArn: dlqArn,
          maxReceiveCount: PIPELINE.sendQueue.maxReceiveCount,
        }),
      },
    }),
  );
  const sendQueueUrl = queue.QueueUrl as string;
  const splitDlq = await sqs.send(
    new CreateQueueCommand({
      QueueName: LOCAL_NAMES.splitDlq,
      Attributes: {
        MessageRetentionPeriod: String(PIPELINE.splitQueue.dlqRetentionDays * 86_400),
      },
    }),
  );
  const splitQueue = await sqs.send(
    new CreateQueueCommand({
      QueueName: LOCAL_NAMES.splitQueue,
      Attributes: {
        VisibilityTimeout: String(PIPELINE.splitQueue.visibilityTimeoutSeconds),
        RedrivePolicy: JSON.stringify({
          deadLetterTargetArn: await queueArn(sqs, splitDlq.QueueUrl as string),
          maxReceiveCount: PIPELINE.splitQueue.maxReceiveCount,
        }),
      },
    }),
  );
  const splitQueueUrl = splitQueue.QueueUrl as string;
  await ensureLedgerTable(dynamo, LOCAL_NAMES.ledgerTable);
  return {
    sendQueueUrl,
    sendQueueArn: await queueArn(sqs, sendQueueUrl),
    sendDlqUrl: dlq.QueueUrl as string,
    splitQueueUrl,
    splitQueueArn: await queueArn(sqs, splitQueueUrl),
  };
}

/** The intake queue and its DLQ, as the stack's event intake makes them. */
async function createIntakeQueues(
  sqs: SQSClient,
): Promise<{ queueUrl: string; queueArn: string; dlqUrl: string }> {
  const settings = PIPELINE.intake;
  const dlq = await sqs.send(
    new CreateQueueCommand({
      QueueName: LOCAL_NAMES.intakeDlq,
      Attributes: { MessageRetentionPeriod: String(settings.dlqRetentionDays * 86_400) },
    }),
  );
  const dlqUrl = dlq.QueueUrl as string;
  const queue = await sqs.send(
    new CreateQueueCommand({
      QueueName: LOCAL_NAMES.intakeQueue,
      Attributes: {
        VisibilityTimeout: String(6 * settings.timeoutSeconds),
        RedrivePolicy: JSON.stringify({
          deadLetterTargetArn: await queueArn(sqs, dlqUrl),
          maxReceiveCount: settings.maxReceiveCount,
        }),
      },
    }),
  );
  const queueUrl = queue.QueueUrl as string;
  return { queueUrl, queueArn: await queueArn(sqs, queueUrl), dlqUrl };
}

async function queueArn(sqs: SQSClient, queueUrl: string): Promise<string> {
  const { Attributes } = await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }),
  );
  const arn = Attributes?.QueueArn;
  if (!arn) throw new LocalPipelineError(`the local queue ${queueUrl} has no ARN`);
  return arn;
}

/**
 * Loads the deployed handlers with the stand-ins' environment, as Lambda loads them with the
 * stack's: explicit endpoints and throwaway credentials, so a local run never touches a real AWS
 * profile. Handlers read their environment once at load, so one process holds one local pipeline.
 */
async function loadHandlers(
  environment: Record<string, string>,
  withWebhook: boolean,
): Promise<Handlers> {
  const fingerprint = JSON.stringify(environment);
  if (loadedEnvironment !== null && loadedEnvironment !== fingerprint) {
    throw new LocalPipelineError(
      'the handlers are already loaded with another local pipeline’s settings: one pipeline per process',
    );
  }
  loadedEnvironment = fingerprint;
  for (const name of ['AWS_PROFILE', 'AWS_SESSION_TOKEN', 'AWS_DEFAULT_PROFILE']) {
    delete process.env[name];
  }
  Object.assign(process.env, environment);
  const [splitter, sender, poller, intake, shared] = await Promise.all([
    import('../../lambdas/handlers/splitter.ts'),
    import('../../lambdas/handlers/sender.ts'),
    import('../../lambdas/handlers/poller.ts'),
    import('../../lambdas/handlers/intake.ts'),
    import('../../lambdas/handlers/dependencies.ts'),
  ]);
  // A timed-out invocation goes on running here; Lambda would have ended it. Its AWS calls are
  // refused from its timeout on, so it leaves the ledger and the queue as a killed one would.
  shared.dynamoDb.middlewareStack.add(haltAfterTimeout, HALT_AFTER_TIMEOUT);
  shared.sqs.middlewareStack.add(haltAfterTimeout, HALT_AFTER_TIMEOUT);
  shared.s3.middlewareStack.add(haltAfterTimeout, HALT_AFTER_TIMEOUT);
  // Only with webhooks on: the handler refuses to load without its secret, as in Lambda.
  const webhook = withWebhook ? (await import('../../lambdas/handlers/webhook.ts')).handler : null;
  return {
    splitter: splitter.handler,
    sender: sender.handler,
    poller: poller.handler,
    intake: intake.handler,
    webhook,
  };
}
