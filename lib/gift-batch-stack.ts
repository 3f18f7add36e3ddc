import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { ApiKeyConstruct } from './api-key.ts';
import { acknowledgeCdkInternals } from './cdk-internals.ts';
import { EventIntakeConstruct } from './event-intake.ts';
import { ExportsConstruct } from './exports.ts';
import type { AndOpenSettings } from './gift-batch-function.ts';
import { IngestConstruct } from './ingest.ts';
import { LedgerConstruct } from './ledger.ts';
import { ObservabilityConstruct } from './observability.ts';
import { PollerConstruct } from './poller.ts';
import { AccessLogsBucket } from './private-bucket.ts';
import { ResultsConstruct } from './results.ts';
import { SendQueueConstruct } from './send-queue.ts';
import { readStackSettings } from './stack-settings.ts';
import { WebhookConstruct } from './webhook.ts';

/**
 * The deployed pipeline (../shared/DESIGN.md): one construct per concern, wired here.
 *
 *   uploads/ ─► splitter ─► send queue ─► sender fleet ─► &Open      (ingest, send queue)
 *                  └──────────► ledger ◄─────┘  ▲                   (ledger)
 *   schedule ─► poller ─────────────────────────┘─► results/<batch>.csv   (poller, results)
 *   bus "Gift Requested" / direct ─► intake queue ─► intake ─► send queue  (event intake)
 *   exports/requests/NAME.json ─► exporter ─► exports/NAME.csv            (exports)
 *
 * Settings come from CDK context (see stack-settings.ts); the shared numbers from
 * pipeline-settings.ts, which the local runtime uses too.
 */
export class GiftBatchStack extends Stack {
  constructor(scope: Construct, id: string, props?: StackProps) {
    super(scope, id, props);
    const settings = readStackSettings(this.node);

    const ledger = new LedgerConstruct(this, 'Ledger');
    const accessLogs = new AccessLogsBucket(this, 'AccessLogs');
    const results = new ResultsConstruct(this, 'Results', { accessLogs: accessLogs.bucket });
    const apiKey = new ApiKeyConstruct(this, 'ApiKey', {
      ...(settings.apiKeySecretName ? { existingSecretName: settings.apiKeySecretName } : {}),
    });
    const andOpen: AndOpenSettings = {
      baseUrl: settings.andopenBaseUrl,
      apiKey: apiKey.secret,
      ...(settings.andopenMaxRps === undefined ? {} : { maxRps: settings.andopenMaxRps }),
    };
    const shared = { ledger: ledger.table, results: results.bucket, logLevel: settings.logLevel };

    const send = new SendQueueConstruct(this, 'Send', { ...shared, andOpen });
    const ingest = new IngestConstruct(this, 'Ingest', {
      ...shared,
      sendQueue: send.queue,
      accessLogs: accessLogs.bucket,
      ...(settings.defaultCampaignId ? { defaultCampaignId: settings.defaultCampaignId } : {}),
      approvalRowsOver: settings.approvalRowsOver,
      ...(settings.splitterPreflight ? { preflight: andOpen } : {}),
    });
    const polling = new PollerConstruct(this, 'Polling', {
      ...shared,
      sendQueue: send.queue,
      splitQueue: ingest.splitQueue,
      andOpen,
    });
    const exports = new ExportsConstruct(this, 'Exports', {
      ledger: ledger.table,
      results: results.bucket,
      logLevel: settings.logLevel,
    });
    const events = new EventIntakeConstruct(this, 'EventIntake', {
      ...shared,
      sendQueue: send.queue,
      producerAccounts: settings.intakeProducerAccounts,
    });
    // Outcomes are decided where &Open answers: rejected/unknown by the sender, URL by the poller.
    send.sender.bindOutcomeBus(events.bus);
    polling.poller.bindOutcomeBus(events.bus);
    const webhook = settings.webhooks
      ? new WebhookConstruct(this, 'Webhook', {
          ledger: ledger.table,
          logLevel: settings.logLevel,
          ...(settings.webhookSecretName ? { existingSecretName: settings.webhookSecretName } : {}),
        })
      : null;
    if (webhook) {
      webhook.receiver.bindOutcomeBus(events.bus);
      send.sender.enableWebhooks();
      polling.poller.enableWebhooks();
    }
    const observability = new ObservabilityConstruct(this, 'Observability', {
      functions: [
        ingest.splitter,
        send.sender,
        polling.poller,
        events.intake,
        exports.exporter,
        ...(webhook ? [webhook.receiver] : []),
      ],
      intake: {
        deadLetterQueue: events.deadLetterQueue,
        ruleDeadLetterQueue: events.ruleDeadLetterQueue,
      },
      sender: send.sender,
      sendQueue: send.queue,
      deadLetterQueue: send.deadLetterQueue,
      failedUploads: ingest.failedUploads,
      splitDeadLetterQueue: ingest.splitDeadLetterQueue,
      failedExports: exports.failedRequests,
      ...(settings.alarmTopicArn ? { alarmTopicArn: settings.alarmTopicArn } : {}),
    });
    acknowledgeCdkInternals(this);

    // What the deploy guide's commands need.
    new CfnOutput(this, 'UploadsBucketName', { value: ingest.bucket.bucketName });
    new CfnOutput(this, 'ResultsBucketName', { value: results.bucket.bucketName });
    new CfnOutput(this, 'ApiKeySecretId', {
      value: apiKey.secret.secretFullArn ?? apiKey.secret.secretName,
      description: apiKey.created
        ? 'Empty until you run: aws secretsmanager put-secret-value --secret-id <this> ...'
        : 'The existing secret the functions read the &Open API key from',
    });
    new CfnOutput(this, 'LedgerTableName', { value: ledger.table.tableName });
    new CfnOutput(this, 'DashboardName', { value: observability.dashboard.dashboardName });
    new CfnOutput(this, 'EventBusName', {
      value: events.bus.eventBusName,
      description: 'Put "Gift Requested" events here; GiftRequestCreated/Failed come back on it',
    });
    new CfnOutput(this, 'IntakeQueueUrl', {
      value: events.queue.queueUrl,
      description: 'Or send the gift event JSON straight to this queue',
    });
    if (webhook) {
      new CfnOutput(this, 'WebhookUrl', {
        value: webhook.url.url,
        description: 'Register this URL with &Open as the webhook endpoint',
      });
      new CfnOutput(this, 'WebhookSecretId', {
        value: webhook.secret.secretFullArn ?? webhook.secret.secretName,
        description: webhook.secretCreated
          ? "Empty until you put &Open's signing secret in: aws secretsmanager put-secret-value --secret-id <this> ..."
          : "The existing secret the webhook function reads &Open's signing secret from",
      });
    }
  }
}
