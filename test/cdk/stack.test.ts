import { Validations } from 'aws-cdk-lib';
import { Match, type Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  LEDGER_INDEXES,
  LEDGER_KEYS,
  type LedgerIndex,
} from '../../lambdas/adapters/ledger-table.ts';
import { MAX_DELAY_SECONDS } from '../../lambdas/core/send-counts.ts';
import { METRIC, METRICS_NAMESPACE } from '../../lambdas/handlers/metrics.ts';
import { PIPELINE } from '../../lib/pipeline-settings.ts';
import {
  CDK_TIMEOUT,
  type Json,
  logicalIdOf,
  type Resource,
  resourcesOf,
  synthesize,
} from '../support/synthesized-stack.ts';

type Statement = { Effect: string; Action: string | string[]; Resource: Json; Condition?: Json };
const statementsOf = (policy: Resource): Statement[] =>
  policy.Properties?.PolicyDocument?.Statement ?? [];

/** Our handlers (CDK adds helper functions of its own for custom resources). */
function pipelineFunctions(template: Template): [string, Resource][] {
  return resourcesOf(template, 'AWS::Lambda::Function').filter(
    ([, fn]) => fn.Properties?.Environment?.Variables?.POWERTOOLS_SERVICE_NAME === 'gift-batch',
  );
}

function functionByDescription(template: Template, start: string): [string, Resource] {
  const found = pipelineFunctions(template).find(([, fn]) =>
    String(fn.Properties?.Description).startsWith(start),
  );
  if (!found) throw new Error(`no function described "${start}…"`);
  return found;
}

/** Every acknowledgement recorded in the construct tree: [construct path, rule id, reason]. */
function acknowledgements(root: IConstruct): [string, string, string][] {
  return root.node
    .findAll()
    .flatMap((construct) =>
      construct.node.metadata
        .filter((entry) => entry.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
        .flatMap((entry) =>
          Object.entries(entry.data as Record<string, string>).map(
            ([id, reason]) => [construct.node.path, id, reason] as [string, string, string],
          ),
        ),
    );
}

describe('GiftBatchStack', () => {
  let synthesized: ReturnType<typeof synthesize>;
  let template: Template;

  beforeAll(() => {
    synthesized = synthesize('GiftBatchTest');
    template = synthesized.template;
  }, CDK_TIMEOUT);

  describe('buckets', () => {
    it('every bucket is private, encrypted and refuses plain HTTP', {
      timeout: CDK_TIMEOUT,
    }, () => {
      // Prepare
      const buckets = resourcesOf(template, 'AWS::S3::Bucket');
      const policies = resourcesOf(template, 'AWS::S3::BucketPolicy');

      // Act
      const sslOnly = (bucketId: string) =>
        policies.some(
          ([, policy]) =>
            logicalIdOf(policy.Properties?.Bucket) === bucketId &&
            statementsOf(policy).some(
              (statement) =>
                statement.Effect === 'Deny' &&
                statement.Condition?.Bool?.['aws:SecureTransport'] === 'false',
            ),
        );

      // Assess
      expect(buckets).toHaveLength(3); // uploads, results, access logs
      for (const [id, bucket] of buckets) {
        expect(bucket.Properties?.PublicAccessBlockConfiguration).toEqual({
          BlockPublicAcls: true,
          BlockPublicPolicy: true,
          IgnorePublicAcls: true,
          RestrictPublicBuckets: true,
        });
        expect(
          bucket.Properties?.BucketEncryption?.ServerSideEncryptionConfiguration?.[0]
            ?.ServerSideEncryptionByDefault?.SSEAlgorithm,
        ).toBe('AES256');
        expect(sslOnly(id), `${id} must deny aws:SecureTransport=false`).toBe(true);
      }
    });

    it('the results bucket is versioned, access-logged and retained', {
      timeout: CDK_TIMEOUT,
    }, () => {
      // Prepare
      const outputs = template.toJSON().Outputs as Record<string, { Value: unknown }>;
      const resultsId = logicalIdOf(outputs.ResultsBucketName?.Value) as string;

      // Act
      const bucket = template.toJSON().Resources[resultsId] as Resource;

      // Assess
      expect(bucket.DeletionPolicy).toBe('Retain');
      expect(bucket.Properties?.VersioningConfiguration).toEqual({ Status: 'Enabled' });
      expect(bucket.Properties?.LoggingConfiguration?.DestinationBucketName).toBeDefined();
    });

    it('uploads expire and only uploads/ triggers the splitter', { timeout: CDK_TIMEOUT }, () => {
      // Prepare
      const [splitterId] = functionByDescription(template, 'gift-batch splitter');

      // Act
      const notifications = resourcesOf(template, 'Custom::S3BucketNotifications');

      // Assess
      const outputs = template.toJSON().Outputs as Record<string, { Value: unknown }>;
      const uploadsId = logicalIdOf(outputs.UploadsBucketName?.Value) as string;
      const uploads = template.toJSON().Resources[uploadsId] as Resource;
      expect(uploads.Properties?.LifecycleConfiguration.Rules).toContainEqual(
        expect.objectContaining({ Prefix: 'uploads/', Status: 'Enabled', ExpirationInDays: 30 }),
      );
      const onUploads = notifications.filter(
        ([, resource]) => logicalIdOf(resource.Properties?.BucketName) === uploadsId,
      );
      expect(onUploads).toHaveLength(1);
      const configurations =
        onUploads[0]?.[1].Properties?.NotificationConfiguration.LambdaFunctionConfigurations;
      expect(configurations).toEqual([
        {
          Events: ['s3:ObjectCreated:*'],
          Filter: { Key: { FilterRules: [{ Name: 'prefix', Value: 'uploads/' }] } },
          LambdaFunctionArn: { 'Fn::GetAtt': [splitterId, 'Arn'] },
        },
      ]);
    });
  });

  describe('send queue', () => {
    it('maps the queue to the sender with batch size, maximum concurrency and partial failures', {
      timeout: CDK_TIMEOUT,
    }, () => {
      // Prepare
      const [senderId] = functionByDescription(template, 'gift-batch sender');

      // Act
      const mappings = resourcesOf(template, 'AWS::Lambda::EventSourceMapping').filter(
        ([, mapping]) => logicalIdOf(mapping.Properties?.FunctionName) === senderId,
      );

      // Assess
      expect(mappings).toHaveLength(1);
      expect(mappings[0]?.[1].Properties).toMatchObject({
        FunctionName: { Ref: senderId },
        BatchSize: PIPELINE.sender.batchSize,
        ScalingConfig: { MaximumConcurrency: PIPELINE.sender.maxConcurrency },
        FunctionResponseTypes: ['ReportBatchItemFailures'],
      });
      // The fleet is bounded by the mapping, not by reserved concurrency (which would also fail
      // to deploy on an account still on a new account's small concurrency quota).
      for (const [id, fn] of pipelineFunctions(template)) {
        expect(fn.Properties?.ReservedConcurrentExecutions, id).toBeUndefined();
      }
    });

    it('gives the queue a visibility timeout of at least six sender timeouts', {
      timeout: CDK_TIMEOUT,
    }, () => {
      // Prepare
      const [senderFnId] = functionByDescription(template, 'gift-batch sender');
      const [, mapping] =
        resourcesOf(template, 'AWS::Lambda::EventSourceMapping').find(
          ([, m]) => logicalIdOf(m.Properties?.FunctionName) === senderFnId,
        ) ?? [];
      const queueId = logicalIdOf(mapping?.Properties?.EventSourceArn) as string;
      const resources = template.toJSON().Resources as Record<string, Resource>;

      // Act
      const visibility = resources[queueId]?.Properties?.VisibilityTimeout as number;
      const timeout = resources[senderFnId]?.Properties?.Timeout as number;

      // Assess
      expect(timeout).toBe(PIPELINE.sender.timeoutSeconds);
      expect(visibility).toBeGreaterThanOrEqual(6 * timeout);
    });

    it('redrives poison messages to a dead-letter queue after maxReceiveCount', {
      timeout: CDK_TIMEOUT,
    }, () => {
      // Prepare
      const queues = resourcesOf(template, 'AWS::SQS::Queue');

      // Act
      const withRedrive = queues.filter(([, queue]) => queue.Properties?.RedrivePolicy);

      // Assess: the send queue, the event intake queue and the split continuation queue.
      expect(withRedrive).toHaveLength(3);
      const sendQueue = withRedrive.find(([id]) => id.startsWith('Send'));
      const redrive = sendQueue?.[1].Properties?.RedrivePolicy;
      expect(redrive.maxReceiveCount).toBe(PIPELINE.sendQueue.maxReceiveCount);
      const dlq = queues.find(([id]) => id === logicalIdOf(redrive.deadLetterTargetArn));
      expect(dlq?.[1].Properties?.MessageRetentionPeriod).toBe(
        PIPELINE.sendQueue.dlqRetentionDays * 86_400,
      );
      for (const [, queue] of queues) {
        expect(queue.Properties?.SqsManagedSseEnabled).toBe(true);
      }
    });
  });

  describe('split continuation queue', () => {
    it("is the splitter's second event source, one continuation per invocation", {
      timeout: CDK_TIMEOUT,
    }, () => {
      // Prepare
      const [splitterId, splitter] = functionByDescription(template, 'gift-batch splitter');
      const [pollerId] = functionByDescription(template, 'gift-batch poller');
      const resources = template.toJSON().Resources as Record<string, Resource>;

      // Act
      const mappings = resourcesOf(template, 'AWS::Lambda::EventSourceMapping').filter(
        ([, mapping]) => logicalIdOf(mapping.Properties?.FunctionName) === splitterId,
      );
      const queueId = logicalIdOf(mappings[0]?.[1].Properties?.EventSourceArn) as string;
      const queue = resources[queueId]?.Properties;

      // Assess
      expect(mappings).toHaveLength(1);
      expect(mappings[0]?.[1].Properties?.BatchSize).toBe(1);
      expect(queue?.VisibilityTimeout).toBeGreaterThanOrEqual(PIPELINE.splitter.timeoutSeconds);
      expect(queue?.RedrivePolicy.maxReceiveCount).toBe(PIPELINE.splitQueue.maxReceiveCount);
      expect(splitter.Properties?.Environment.Variables.SPLIT_QUEUE_URL).toEqual({ Ref: queueId });
      const poller = resources[pollerId]?.Properties;
      expect(poller?.Environment.Variables.SPLIT_QUEUE_URL).toEqual({ Ref: queueId });
      expect(Number(poller?.Environment.Variables.SPLIT_STALLED_AFTER_MS)).toBeGreaterThan(
        PIPELINE.splitter.timeoutSeconds * 1000,
      );
    });
  });

  describe('ledger', () => {
    it('builds the table from LEDGER_KEYS and LEDGER_INDEXES, on demand, recoverable, retained', {
      timeout: CDK_TIMEOUT,
    }, () => {
      // Prepare
      const tables = resourcesOf(template, 'AWS::DynamoDB::Table');

      // Act
      const table = tables[0]?.[1];

      // Assess
      expect(tables).toHaveLength(1);
      expect(table?.DeletionPolicy).toBe('Retain');
      expect(table?.Properties).toMatchObject({
        BillingMode: 'PAY_PER_REQUEST',
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
        KeySchema: [
          { AttributeName: LEDGER_KEYS.partitionKey, KeyType: 'HASH' },
          { AttributeName: LEDGER_KEYS.sortKey, KeyType: 'RANGE' },
        ],
      });
      const indexes = Object.values(LEDGER_INDEXES) as LedgerIndex[];
      const gsis = table?.Properties?.GlobalSecondaryIndexes as Json[];
      expect(gsis.map((gsi) => gsi.IndexName).sort()).toEqual(indexes.map((i) => i.name).sort());
      for (const index of indexes) {
        const gsi = gsis.find((candidate) => candidate.IndexName === index.name);
        expect(gsi.KeySchema).toEqual([
          { AttributeName: index.partitionKey, KeyType: 'HASH' },
          ...(index.sortKey === null ? [] : [{ AttributeName: index.sortKey, KeyType: 'RANGE' }]),
        ]);
        expect(gsi.Projection).toEqual(
          index.projection
            ? { ProjectionType: 'INCLUDE', NonKeyAttributes: [...index.projection] }
            : { ProjectionType: 'ALL' },
        );
        if (index.sortKey !== null) {
          expect(table?.Properties?.AttributeDefinitions).toContainEqual({
            AttributeName: index.sortKey,
            AttributeType: index.sortKeyType,
          });
        }
      }
      expect(gsis.find((gsi) => gsi.IndexName === 'byGiftRequest')?.KeySchema).toEqual([
        { AttributeName: 'giftRequestId', KeyType: 'HASH' },
      ]);
    });
  });

  describe('functions', () => {
    it('runs every handler on arm64, Node.js 22 or newer, traced, with a retained log group', {
      timeout: CDK_TIMEOUT,
    }, () => {
      // Prepare
      const functions = pipelineFunctions(template);
      const logGroups = template.toJSON().Resources as Record<string, Resource>;

      // Act
      const nodeMajor = (runtime: string) => Number(/^nodejs(\d+)\.x$/.exec(runtime)?.[1] ?? 0);

      // Assess
      expect(functions).toHaveLength(5); // splitter, sender, poller, intake, exporter
      for (const [id, fn] of functions) {
        expect(fn.Properties?.Architectures, id).toEqual(['arm64']);
        expect(nodeMajor(fn.Properties?.Runtime), id).toBeGreaterThanOrEqual(22);
        expect(fn.Properties?.TracingConfig, id).toEqual({ Mode: 'Active' });
        expect(fn.Properties?.Handler, id).toBe('index.handler');
        const logGroupId = logicalIdOf(fn.Properties?.LoggingConfig?.LogGroup) as string;
        expect(logGroups[logGroupId]?.Properties?.RetentionInDays, id).toBeGreaterThan(0);
        expect(fn.Properties?.Environment.Variables).toMatchObject({
          POWERTOOLS_SERVICE_NAME: 'gift-batch',
          POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
          POWERTOOLS_LOG_LEVEL: 'INFO',
        });
        // Each function's own role: no AWS managed policy granting every log group.
        const role = logGroups[logicalIdOf(fn.Properties?.Role) as string];
        expect(role?.Properties?.ManagedPolicyArns, id).toBeUndefined();
      }
    });

    it('gives each handler the configuration its config.ts requires', {
      timeout: CDK_TIMEOUT,
    }, () => {
      // Prepare
      const required = ['LEDGER_TABLE', 'SEND_QUEUE_URL', 'RESULTS_BUCKET'];

      // Act
      const variables = (start: string) =>
        Object.keys(functionByDescription(template, start)[1].Properties?.Environment.Variables);

      // Assess
      for (const start of ['gift-batch splitter', 'gift-batch sender', 'gift-batch poller']) {
        expect(variables(start)).toEqual(expect.arrayContaining(required));
      }
      // The splitter preflights each file against &Open's campaigns, so it reads the key too.
      for (const start of ['gift-batch sender', 'gift-batch poller', 'gift-batch splitter']) {
        expect(variables(start)).toEqual(
          expect.arrayContaining(['ANDOPEN_BASE_URL', 'ANDOPEN_API_KEY_SECRET_ID']),
        );
      }
      expect(
        functionByDescription(template, 'gift-batch splitter')[1].Properties?.Environment.Variables,
      ).toMatchObject({
        SPLITTER_PREFLIGHT: 'true',
        APPROVAL_ROWS_OVER: '1000',
      });
    });

    it('without the splitter preflight, the splitter gets no key; approvalRowsOver sets the limit', {
      timeout: CDK_TIMEOUT,
    }, () => {
      // Act
      const { template: plain } = synthesize('GiftBatchTest', {
        splitterPreflight: 'false',
        approvalRowsOver: 'off',
      });
      const { template: strict } = synthesize('GiftBatchTest', { approvalRowsOver: '50' });

      // Assess
      const splitterEnv = (t: Template) =>
        functionByDescription(t, 'gift-batch splitter')[1].Properties?.Environment.Variables;
      expect(Object.keys(splitterEnv(plain))).not.toContain('ANDOPEN_API_KEY_SECRET_ID');
      expect(Object.keys(splitterEnv(plain))).not.toContain('SPLITTER_PREFLIGHT');
      expect(Object.keys(splitterEnv(plain))).not.toContain('APPROVAL_ROWS_OVER');
      expect(splitterEnv(strict).APPROVAL_ROWS_OVER).toBe('50');
      expect(() => synthesize('GiftBatchTest', { approvalRowsOver: 'lots' })).toThrow(
        /approvalRowsOver/,
      );
    });

    it('re-drives a quiet batch only after a live message can no longer be out of sight', {
      timeout: CDK_TIMEOUT,
    }, () => {
      // Prepare
      const longestOutOfSightMs =
        (PIPELINE.sendQueue.visibilityTimeoutSeconds + MAX_DELAY_SECONDS) * 1000;

      // Act
      const variables = functionByDescription(template, 'gift-batch poller')[1].Properties
        ?.Environment.Variables as Record<string, string>;

      // Assess
      expect(Number(variables.RECONCILE_QUIET_AFTER_MS)).toBeGreaterThan(longestOutOfSightMs);
      expect(Number(variables.RECONCILE_SENDING_STALE_AFTER_MS)).toBeGreaterThan(
        PIPELINE.sender.timeoutSeconds * 1000,
      );
    });

    it('runs the poller every minute', { timeout: CDK_TIMEOUT }, () => {
      // Prepare
      const [pollerId] = functionByDescription(template, 'gift-batch poller');

      // Act
      const rules = resourcesOf(template, 'AWS::Events::Rule').filter(
        ([, rule]) => rule.Properties?.ScheduleExpression,
      );

      // Assess
      expect(rules).toHaveLength(1);
      expect(rules[0]?.[1].Properties).toMatchObject({
        ScheduleExpression: `rate(${PIPELINE.poller.everyMinutes} minute)`,
        State: 'ENABLED',
        Targets: [expect.objectContaining({ Arn: { 'Fn::GetAtt': [pollerId, 'Arn'] } })],
      });
    });

    it('runs one poller at a time, by a lease in the ledger rather than reserved concurrency', {
      timeout: CDK_TIMEOUT,
    }, () => {
      // Prepare: a run may outlast its schedule (a big results file), which is what makes overlap
      // possible at all.
      const [, poller] = functionByDescription(template, 'gift-batch poller');
      const everySeconds = PIPELINE.poller.everyMinutes * 60;

      // Act
      const variables = poller.Properties?.Environment?.Variables ?? {};

      // Assess
      expect(poller.Properties?.Timeout).toBeGreaterThan(everySeconds);
      expect(variables.POLLER_SINGLE_RUN).toBe('true');
      expect(poller.Properties?.ReservedConcurrentExecutions).toBeUndefined();
    });
  });

  describe('the API key', () => {
    it('creates an empty secret and hands the functions only its ARN', {
      timeout: CDK_TIMEOUT,
    }, () => {
      // Prepare
      const secrets = resourcesOf(template, 'AWS::SecretsManager::Secret');
      const secretId = secrets[0]?.[0];

      // Act
      const variables = pipelineFunctions(template).flatMap(([, fn]) =>
        Object.entries(fn.Properties?.Environment.Variables as Record<string, unknown>),
      );

      // Assess
      expect(secrets).toHaveLength(1);
      expect(secrets[0]?.[1].Properties?.SecretString).toBeUndefined();
      expect(secrets[0]?.[1].Properties?.GenerateSecretString).toBeUndefined();
      const keyVariables = variables.filter(([name]) => name.includes('KEY'));
      expect(keyVariables.length).toBeGreaterThan(0);
      for (const [name, value] of keyVariables) {
        expect(name).toBe('ANDOPEN_API_KEY_SECRET_ID');
        expect(value).toEqual({ Ref: secretId });
      }
      expect(JSON.stringify(template.toJSON())).not.toMatch(/ao-v1-(staging|production)-/);
    });

    it('uses an existing secret by name when apiKeySecretName is given', {
      timeout: CDK_TIMEOUT,
    }, () => {
      // Prepare
      const name = 'gift-batch/andopen-api-key';

      // Act
      const imported = synthesize('GiftBatchTest', { apiKeySecretName: name }).template;

      // Assess
      imported.resourceCountIs('AWS::SecretsManager::Secret', 0);
      for (const [, fn] of pipelineFunctions(imported)) {
        const value = fn.Properties?.Environment.Variables.ANDOPEN_API_KEY_SECRET_ID;
        if (value !== undefined) expect(value).toBe(name);
      }
      imported.hasResourceProperties('AWS::IAM::Policy', {
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({
              Action: ['secretsmanager:DescribeSecret', 'secretsmanager:GetSecretValue'],
              Resource: {
                'Fn::Join': ['', Match.arrayWith([`:secret:${name}-??????`])],
              },
            }),
          ]),
        },
      });
    });

    it('takes the &Open base URL from context and refuses a malformed one', {
      timeout: CDK_TIMEOUT,
    }, () => {
      // Prepare
      const eu = synthesize('GiftBatchTest', { andopenBaseUrl: 'eu' }).template;

      // Act
      const baseUrls = pipelineFunctions(eu)
        .map(([, fn]) => fn.Properties?.Environment.Variables.ANDOPEN_BASE_URL)
        .filter((value) => value !== undefined);

      // Assess
      expect(baseUrls).toEqual(['eu', 'eu', 'eu']); // splitter (preflight), sender, poller
      expect(() => synthesize('GiftBatchTest', { andopenBaseUrl: 'ftp://example.com' })).toThrow(
        /andopenBaseUrl/,
      );
    });
  });

  describe('observability', () => {
    it('alarms on dead letters, unknown outcomes, configuration stops, queue age and function errors', {
      timeout: CDK_TIMEOUT,
    }, () => {
      // Prepare
      const alarms = resourcesOf(template, 'AWS::CloudWatch::Alarm').map(([, a]) => a.Properties);

      // Act
      const watching = (metricName: string, namespace: string) =>
        alarms.filter((a) => a?.MetricName === metricName && a?.Namespace === namespace);

      // Assess
      expect(watching(METRIC.RowsUnknown, METRICS_NAMESPACE)).toHaveLength(1);
      expect(watching(METRIC.ConfigurationStops, METRICS_NAMESPACE)).toHaveLength(1);
      expect(watching(METRIC.RowsUnknown, METRICS_NAMESPACE)[0]?.Dimensions).toEqual([
        { Name: 'service', Value: 'gift-batch' },
      ]);
      expect(watching(METRIC.EventKeyConflicts, METRICS_NAMESPACE)).toHaveLength(1);
      expect(watching(METRIC.GiftsNotFound, METRICS_NAMESPACE)).toHaveLength(1);
      // The send DLQ, the splitter's failed uploads and failed continuations, the exporter's failed
      // requests, the intake DLQ and the event rule's DLQ.
      expect(watching('ApproximateNumberOfMessagesVisible', 'AWS/SQS')).toHaveLength(6);
      expect(watching('ApproximateAgeOfOldestMessage', 'AWS/SQS')).toHaveLength(1);
      expect(watching('Errors', 'AWS/Lambda')).toHaveLength(5);
      for (const alarm of alarms) {
        expect(alarm?.AlarmDescription).toBeTruthy();
        expect(alarm?.TreatMissingData).toBe('notBreaching');
      }
    });

    it('alarms on every dead-letter queue: of a queue, of a function, of an event rule', {
      timeout: CDK_TIMEOUT,
    }, () => {
      // Prepare
      const queueTargets = resourcesOf(template, 'AWS::SQS::Queue').map(
        ([, queue]) => queue.Properties?.RedrivePolicy?.deadLetterTargetArn,
      );
      const functionTargets = resourcesOf(template, 'AWS::Lambda::Function').map(
        ([, fn]) => fn.Properties?.DeadLetterConfig?.TargetArn,
      );
      const ruleTargets = resourcesOf(template, 'AWS::Events::Rule').flatMap(([, rule]) =>
        (rule.Properties?.Targets ?? []).map((target: Json) => target.DeadLetterConfig?.Arn),
      );
      const deadLetterQueues = new Set(
        [...queueTargets, ...functionTargets, ...ruleTargets]
          .map(logicalIdOf)
          .filter((id) => id !== undefined),
      );

      // Act
      const watched = new Set(
        resourcesOf(template, 'AWS::CloudWatch::Alarm')
          .map(([, alarm]) => alarm.Properties)
          .filter((alarm) => alarm?.MetricName === 'ApproximateNumberOfMessagesVisible')
          .flatMap((alarm) => alarm?.Dimensions ?? [])
          .filter((dimension: Json) => dimension.Name === 'QueueName')
          .map((dimension: Json) => logicalIdOf(dimension.Value)),
      );

      // Assess
      expect(deadLetterQueues.size).toBe(6);
      for (const queue of deadLetterQueues) expect(watched, queue).toContain(queue);
    });

    it('has a dashboard with the pipeline metrics', { timeout: CDK_TIMEOUT }, () => {
      // Prepare
      const dashboards = resourcesOf(template, 'AWS::CloudWatch::Dashboard');

      // Act
      const body = JSON.stringify(synthesized.stack.resolve(dashboards[0]?.[1].Properties));

      // Assess
      expect(dashboards).toHaveLength(1);
      for (const name of Object.values(METRIC)) expect(body).toContain(name);
    });
  });

  describe('least privilege', () => {
    it('has no wildcard resource that is not acknowledged with a reason', {
      timeout: CDK_TIMEOUT,
    }, () => {
      // Prepare
      const statements = resourcesOf(template, 'AWS::IAM::Policy').flatMap(([id, policy]) =>
        statementsOf(policy).map((statement) => ({ id, ...statement })),
      );
      const acknowledged = acknowledgements(synthesized.stack)
        .filter(([, rule]) => rule.includes('AwsSolutions-IAM5'))
        .map(([, rule]) => rule);

      // Act
      const wildcards = statements.flatMap((statement) =>
        [statement.Resource]
          .flat()
          .map((resource) => JSON.stringify(resource))
          .filter((resource) => resource.includes('*'))
          .map((resource) => ({ id: statement.id, actions: statement.Action, resource })),
      );

      // Assess
      expect(wildcards.length).toBeGreaterThan(0);
      for (const wildcard of wildcards) {
        if (wildcard.resource === '"*"') {
          // X-Ray only; acknowledged on each role.
          expect(wildcard.actions).toEqual(['xray:PutTelemetryRecords', 'xray:PutTraceSegments']);
          expect(acknowledged.some((rule) => rule.endsWith('AwsSolutions-IAM5[Resource::*]'))).toBe(
            true,
          );
        } else {
          // Object prefixes of one bucket, each acknowledged by its exact finding id.
          const prefix = /"\/(uploads|results|exports\/requests|exports)\/\*"/.exec(
            wildcard.resource,
          )?.[1];
          expect(prefix, wildcard.resource).toBeDefined();
          expect(acknowledged.some((rule) => rule.endsWith(`/${prefix}/*]`))).toBe(true);
        }
      }
    });

    it('the sender cannot query the indexes and the splitter cannot read the results', {
      timeout: CDK_TIMEOUT,
    }, () => {
      // Prepare
      const [senderId] = functionByDescription(template, 'gift-batch sender');
      const [splitterId] = functionByDescription(template, 'gift-batch splitter');
      const resources = template.toJSON().Resources as Record<string, Resource>;
      const actionsOf = (fnId: string) => {
        const roleId = logicalIdOf(resources[fnId]?.Properties?.Role);
        return resourcesOf(template, 'AWS::IAM::Policy')
          .filter(([, p]) => p.Properties?.Roles.some((r: unknown) => logicalIdOf(r) === roleId))
          .flatMap(([, p]) => statementsOf(p).flatMap((statement) => statement.Action));
      };

      // Act
      const sender = actionsOf(senderId);
      const splitter = actionsOf(splitterId);

      // Assess
      expect(sender).toContain('dynamodb:UpdateItem');
      expect(sender).not.toContain('dynamodb:Query');
      expect(sender).not.toContain('dynamodb:Scan');
      expect(splitter).toContain('s3:GetObject');
      expect(splitter).not.toContain('s3:PutObject');
    });
  });

  describe('cdk-nag', () => {
    it('reports no unacknowledged AwsSolutions finding', { timeout: CDK_TIMEOUT }, () => {
      // Prepare
      const checks = new AwsSolutionsChecks(synthesized.app);

      // Act
      const report = checks.validateScope(synthesized.stack);

      // Assess
      expect(report.violations).toEqual([]);
      expect(report.success).toBe(true);
    });

    it('reports no finding with an existing secret and an alarm topic either', {
      timeout: CDK_TIMEOUT,
    }, () => {
      // Prepare
      const variant = synthesize('GiftBatchTest', {
        apiKeySecretName: 'gift-batch/andopen-api-key',
        alarmTopicArn: 'arn:aws:sns:us-east-1:123456789012:alarms',
        andopenMaxRps: '20',
        defaultCampaignId: '11111111-1111-4111-8111-111111111111',
      });

      // Act
      const report = new AwsSolutionsChecks(variant.app).validateScope(variant.stack);

      // Assess
      expect(report.violations).toEqual([]);
      variant.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        AlarmActions: ['arn:aws:sns:us-east-1:123456789012:alarms'],
      });
    });

    it('gives every acknowledgement a reason', { timeout: CDK_TIMEOUT }, () => {
      // Prepare
      const all = acknowledgements(synthesized.stack);

      // Act
      const withoutReason = all.filter(([, , reason]) => reason.trim().length < 40);

      // Assess
      expect(all.length).toBeGreaterThan(0);
      expect(withoutReason).toEqual([]);
    });
  });
});
