import { fileURLToPath } from 'node:url';
import { type Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import type { IEventBus } from 'aws-cdk-lib/aws-events';
import { PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Architecture, Runtime, Tracing } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { CfnBucket, IBucket } from 'aws-cdk-lib/aws-s3';
import type { ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { LEDGER_INDEXES } from '../lambdas/adapters/ledger-table.ts';
import { METRICS_NAMESPACE, METRICS_SERVICE } from '../lambdas/handlers/metrics.ts';

const projectRoot = fileURLToPath(new URL('..', import.meta.url));

/** The Lambda entry points, relative to the project root. */
export const HANDLER_ENTRIES = {
  splitter: 'lambdas/handlers/splitter.ts',
  sender: 'lambdas/handlers/sender.ts',
  poller: 'lambdas/handlers/poller.ts',
  intake: 'lambdas/handlers/intake.ts',
  webhook: 'lambdas/handlers/webhook.ts',
  exporter: 'lambdas/handlers/exporter.ts',
} as const;
export type HandlerName = keyof typeof HANDLER_ENTRIES;

/**
 * How every handler is bundled (STACK.md): ESM, because p-limit and our own code are ESM-only; a
 * `require` shim for the few CommonJS dependencies that still call it; the AWS SDK left out because
 * the Node.js runtime ships it. The bundling test builds each handler with exactly these settings.
 */
export const ESM_BUNDLE = {
  format: 'esm',
  platform: 'node',
  target: 'node22',
  mainFields: ['module', 'main'],
  banner:
    "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);",
  external: ['@aws-sdk/*'],
} as const;

/** Folders under the uploads and results buckets that the pipeline reads and writes. */
export const UPLOADS_PREFIX = 'uploads/';
export const RESULTS_PREFIX = 'results/';
/** Finance's export requests arrive under EXPORT_REQUESTS_PREFIX; exports are written under EXPORTS_PREFIX. */
export const EXPORTS_PREFIX = 'exports/';
export const EXPORT_REQUESTS_PREFIX = 'exports/requests/';

export type LedgerAction = 'GetItem' | 'PutItem' | 'BatchWriteItem' | 'UpdateItem' | 'Query';
export type LedgerIndexName = keyof typeof LEDGER_INDEXES;

/** What a handler may do to the ledger: these actions, on the table and on these indexes only. */
export interface LedgerAccess {
  actions: readonly LedgerAction[];
  indexes?: readonly LedgerIndexName[];
}

/** Where the &Open API is and how a function reads its key. */
export interface AndOpenSettings {
  /** `us` | `eu` | `staging` or a base URL (ANDOPEN_BASE_URL). */
  baseUrl: string;
  /** The secret that holds the API key; only its ARN or name reaches the function. */
  apiKey: ISecret;
  /** Optional ceiling on requests per second for tenants who know their limit (ANDOPEN_MAX_RPS). */
  maxRps?: number;
}

export interface GiftBatchFunctionProps {
  /** Which handler in lambdas/handlers/ this function runs. */
  handler: HandlerName;
  description: string;
  timeout: Duration;
  memorySize: number;
  /** POWERTOOLS_LOG_LEVEL. Default INFO. */
  logLevel?: string;
  /** Retries of an asynchronous invocation (S3 events, schedules). Lambda's default is 2. */
  retryAttempts?: number;
  /** Where an asynchronous invocation goes when its retries are spent. */
  deadLetterQueue?: IQueue;
  /** Settings for the environment that are not a resource binding. */
  environment?: Record<string, string>;
}

/**
 * Every gift-batch Lambda function: one place for the defaults (the newest Node.js runtime, arm64,
 * ESM bundle, Powertools settings, its own log group with a retention, X-Ray active tracing) and
 * `bind*` helpers that add an environment variable together with the least-privilege grant it needs.
 *
 * Its role is our own rather than Lambda's default one, so that logging is granted on this
 * function's log group instead of by the AWS managed policy (which allows every log group).
 */
export class GiftBatchFunction extends NodejsFunction {
  readonly handlerName: HandlerName;

  constructor(scope: Construct, id: string, props: GiftBatchFunctionProps) {
    const logGroup = new LogGroup(scope, `${id}Logs`, {
      // Logs carry batch ids, row numbers and Request-Ids for support, never keys or full PII.
      retention: RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    const role = new Role(scope, `${id}Role`, {
      assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
      description: `gift-batch ${props.handler}: only what this handler needs`,
    });

    super(scope, id, {
      entry: `${projectRoot}${HANDLER_ENTRIES[props.handler]}`,
      handler: 'handler',
      projectRoot,
      depsLockFilePath: `${projectRoot}package-lock.json`,
      runtime: Runtime.NODEJS_24_X,
      architecture: Architecture.ARM_64,
      tracing: Tracing.ACTIVE,
      description: props.description,
      timeout: props.timeout,
      memorySize: props.memorySize,
      role,
      logGroup,
      ...(props.retryAttempts === undefined ? {} : { retryAttempts: props.retryAttempts }),
      ...(props.deadLetterQueue ? { deadLetterQueue: props.deadLetterQueue } : {}),
      environment: {
        POWERTOOLS_SERVICE_NAME: METRICS_SERVICE,
        POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
        POWERTOOLS_LOG_LEVEL: props.logLevel ?? 'INFO',
        // Stack traces point at the TypeScript sources, not the minified bundle.
        NODE_OPTIONS: '--enable-source-maps',
        ...props.environment,
      },
      bundling: {
        format: OutputFormat.ESM,
        target: ESM_BUNDLE.target,
        mainFields: [...ESM_BUNDLE.mainFields],
        banner: ESM_BUNDLE.banner,
        externalModules: [...ESM_BUNDLE.external],
        minify: true,
        sourceMap: true,
        sourcesContent: false,
        keepNames: true,
      },
    });
    this.handlerName = props.handler;
    logGroup.grantWrite(this);

    Validations.of(role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'X-Ray active tracing: xray:PutTraceSegments and xray:PutTelemetryRecords support no ' +
        'resource-level permissions, so AWS requires Resource "*" for them (added by Tracing.ACTIVE).',
    });
  }

  /** LEDGER_TABLE, and the listed DynamoDB actions on the table and the named indexes only. */
  bindLedger(table: ITable, access: LedgerAccess): this {
    this.addEnvironment('LEDGER_TABLE', table.tableName);
    const indexArns = (access.indexes ?? []).map(
      (index) => `${table.tableArn}/index/${LEDGER_INDEXES[index].name}`,
    );
    this.addToRolePolicy(
      new PolicyStatement({
        actions: access.actions.map((action) => `dynamodb:${action}`),
        resources: [table.tableArn, ...indexArns],
      }),
    );
    return this;
  }

  /** SEND_QUEUE_URL, and sqs:SendMessage on that queue (the splitter fills it, senders re-queue). */
  bindSendQueue(queue: IQueue): this {
    this.addEnvironment('SEND_QUEUE_URL', queue.queueUrl);
    queue.grantSendMessages(this);
    return this;
  }

  /** SPLIT_QUEUE_URL, and sqs:SendMessage on it (the splitter hands over, the poller re-sends). */
  bindSplitQueue(queue: IQueue): this {
    this.addEnvironment('SPLIT_QUEUE_URL', queue.queueUrl);
    queue.grantSendMessages(this);
    return this;
  }

  /**
   * RESULTS_BUCKET, and with `write` the right to put objects under results/ only (multipart
   * uploads included). Every handler's shared configuration requires the name; only the poller,
   * which writes the results files, gets `write`.
   */
  bindResults(bucket: IBucket, { write }: { write: boolean }): this {
    this.addEnvironment('RESULTS_BUCKET', bucket.bucketName);
    if (write) {
      this.addToRolePolicy(
        new PolicyStatement({
          actions: ['s3:PutObject', 's3:AbortMultipartUpload'],
          resources: [bucket.arnForObjects(`${RESULTS_PREFIX}*`)],
        }),
      );
      this.acknowledgeObjectPrefix(
        bucket,
        RESULTS_PREFIX,
        'results/<batch>.csv and .json: the object names are the batch ids, known only at run time.',
      );
    }
    return this;
  }

  /**
   * RESULTS_BUCKET for the exporter: read export requests under exports/requests/, write exports
   * under exports/ (multipart uploads included). Nothing under results/.
   */
  bindExports(bucket: IBucket): this {
    this.addEnvironment('RESULTS_BUCKET', bucket.bucketName);
    this.addToRolePolicy(
      new PolicyStatement({
        actions: ['s3:GetObject'],
        resources: [bucket.arnForObjects(`${EXPORT_REQUESTS_PREFIX}*`)],
      }),
    );
    this.addToRolePolicy(
      new PolicyStatement({
        actions: ['s3:PutObject', 's3:AbortMultipartUpload'],
        resources: [bucket.arnForObjects(`${EXPORTS_PREFIX}*`)],
      }),
    );
    this.acknowledgeObjectPrefix(
      bucket,
      EXPORT_REQUESTS_PREFIX,
      'exports/requests/<name>.json: finance names each request at run time.',
    );
    this.acknowledgeObjectPrefix(
      bucket,
      EXPORTS_PREFIX,
      'exports/<name>.csv, .summary.json, .error.json: named after the request, at run time.',
    );
    return this;
  }

  /**
   * s3:GetObject under uploads/ only. No environment variable: the bucket and key arrive in the
   * S3 event.
   */
  bindUploads(bucket: IBucket): this {
    this.addToRolePolicy(
      new PolicyStatement({
        actions: ['s3:GetObject'],
        resources: [bucket.arnForObjects(`${UPLOADS_PREFIX}*`)],
      }),
    );
    this.acknowledgeObjectPrefix(
      bucket,
      UPLOADS_PREFIX,
      'uploads/<name>.csv: the splitter reads whatever file a person uploads, named at run time.',
    );
    return this;
  }

  /**
   * ANDOPEN_API_KEY_SECRET_ID and secretsmanager:GetSecretValue on that secret. The function gets
   * the secret's ARN (or name, when imported by name), never its value: the handler reads the key
   * at its first call to &Open, and again after &Open refuses it (a rotated key).
   */
  bindApiKey(secret: ISecret): this {
    this.addEnvironment('ANDOPEN_API_KEY_SECRET_ID', secret.secretFullArn ?? secret.secretName);
    secret.grantRead(this);
    return this;
  }

  /** ANDOPEN_BASE_URL, the optional ANDOPEN_MAX_RPS, and the API key binding. */
  bindAndOpen(settings: AndOpenSettings): this {
    this.addEnvironment('ANDOPEN_BASE_URL', settings.baseUrl);
    if (settings.maxRps !== undefined) {
      this.addEnvironment('ANDOPEN_MAX_RPS', String(settings.maxRps));
    }
    return this.bindApiKey(settings.apiKey);
  }

  /**
   * OUTCOME_EVENT_BUS_NAME, and events:PutEvents on that bus only: where producers of event-driven
   * sends hear what became of their gifts.
   */
  bindOutcomeBus(bus: IEventBus): this {
    this.addEnvironment('OUTCOME_EVENT_BUS_NAME', bus.eventBusName);
    bus.grantPutEventsTo(this);
    return this;
  }

  /**
   * WEBHOOK_SECRET_ID and secretsmanager:GetSecretValue on that secret: the webhook handler reads
   * &Open's signing secret once per container, never from the environment.
   */
  bindWebhookSecret(secret: ISecret): this {
    this.addEnvironment('WEBHOOK_SECRET_ID', secret.secretFullArn ?? secret.secretName);
    secret.grantRead(this);
    return this;
  }

  /**
   * WEBHOOKS_ENABLED: &Open's webhooks bring the redemption URLs, so the sender schedules a row's
   * first poll minutes later (a safety net) and the poller first reads what webhooks left.
   */
  enableWebhooks(): this {
    this.addEnvironment('WEBHOOKS_ENABLED', 'true');
    return this;
  }

  /** A grant on `prefix*` is a wildcard in cdk-nag's eyes: say why, on this function's role. */
  private acknowledgeObjectPrefix(bucket: IBucket, prefix: string, reason: string): void {
    const cfnBucket = bucket.node.defaultChild as CfnBucket | undefined;
    if (!cfnBucket || !this.role) return;
    const logicalId = Stack.of(bucket).getLogicalId(cfnBucket);
    Validations.of(this.role).acknowledge({
      id: `AwsSolutions-IAM5[Resource::<${logicalId}.Arn>/${prefix}*]`,
      reason: `Object-level access limited to the ${prefix} prefix of one bucket; ${reason}`,
    });
  }
}
