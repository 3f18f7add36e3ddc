import { beforeAll, describe, expect, it } from 'vitest';
import { LEDGER_INDEXES } from '../../lambdas/adapters/ledger-table.ts';
import {
  CDK_TIMEOUT,
  type Json,
  logicalIdOf,
  type Resource,
  synthesize,
} from '../support/synthesized-stack.ts';

describe('the exports construct in the stack', () => {
  let resources: Record<string, Resource>;
  let outputs: Record<string, { Value: unknown }>;
  let exporterId: string;
  let exporter: Resource;

  beforeAll(() => {
    const template = synthesize('GiftBatchExports').template.toJSON();
    resources = template.Resources;
    outputs = template.Outputs;
    const found = Object.entries(resources).find(
      ([, resource]) =>
        resource.Type === 'AWS::Lambda::Function' &&
        String(resource.Properties?.Description).startsWith('gift-batch exporter'),
    );
    if (!found) throw new Error('no exporter function');
    [exporterId, exporter] = found;
  }, CDK_TIMEOUT);

  /** Every statement of the exporter's role's policies. */
  const statements = (): { Action: string | string[]; Resource: Json }[] => {
    const roleId = logicalIdOf(exporter.Properties?.Role);
    return Object.values(resources)
      .filter((resource) => resource.Type === 'AWS::IAM::Policy')
      .filter((policy) =>
        policy.Properties?.Roles.some((role: unknown) => logicalIdOf(role) === roleId),
      )
      .flatMap((policy) => policy.Properties?.PolicyDocument.Statement);
  };
  const actions = () => statements().flatMap((statement) => [statement.Action].flat());

  it('runs on requests put under exports/requests/ in the results bucket, and only those', () => {
    // Prepare
    const resultsId = logicalIdOf(outputs.ResultsBucketName?.Value);

    // Act
    const notifications = Object.values(resources).filter(
      (resource) =>
        resource.Type === 'Custom::S3BucketNotifications' &&
        logicalIdOf(resource.Properties?.BucketName) === resultsId,
    );

    // Assess
    expect(notifications).toHaveLength(1);
    expect(
      notifications[0]?.Properties?.NotificationConfiguration.LambdaFunctionConfigurations,
    ).toEqual([
      {
        Events: ['s3:ObjectCreated:*'],
        Filter: {
          Key: {
            FilterRules: [
              { Name: 'suffix', Value: '.json' },
              { Name: 'prefix', Value: 'exports/requests/' },
            ],
          },
        },
        LambdaFunctionArn: { 'Fn::GetAtt': [exporterId, 'Arn'] },
      },
    ]);
  });

  it('alarms when a request is left in its dead-letter queue after Lambda retries', () => {
    // Prepare
    const failedRequestsId = logicalIdOf(exporter.Properties?.DeadLetterConfig?.TargetArn);

    // Act
    const alarms = Object.values(resources).filter(
      (resource) =>
        resource.Type === 'AWS::CloudWatch::Alarm' &&
        resource.Properties?.MetricName === 'ApproximateNumberOfMessagesVisible' &&
        logicalIdOf(resource.Properties?.Dimensions?.[0]?.Value) === failedRequestsId,
    );

    // Assess
    expect(failedRequestsId).toBeDefined();
    expect(alarms).toHaveLength(1);
    expect(alarms[0]?.Properties?.Threshold).toBe(1);
    expect(alarms[0]?.Properties?.AlarmDescription).toMatch(/export request/);
  });

  it('gets the table and bucket it reads, and nothing to send with', () => {
    // Act
    const variables = Object.keys(exporter.Properties?.Environment.Variables);

    // Assess
    expect(variables).toEqual(expect.arrayContaining(['LEDGER_TABLE', 'RESULTS_BUCKET']));
    expect(variables).not.toContain('SEND_QUEUE_URL');
    expect(variables).not.toContain('ANDOPEN_API_KEY_SECRET_ID');
  });

  it('reads the ledger through the campaign index only, and never writes it', () => {
    // Act
    const ledgerStatements = statements().filter((statement) =>
      [statement.Action].flat().some((action) => action.startsWith('dynamodb:')),
    );

    // Assess
    expect(ledgerStatements.flatMap((statement) => [statement.Action].flat()).sort()).toEqual([
      'dynamodb:GetItem',
      'dynamodb:Query',
    ]);
    const indexes = JSON.stringify(ledgerStatements.map((statement) => statement.Resource));
    expect(indexes).toContain(`/index/${LEDGER_INDEXES.byCampaign.name}`);
    expect(indexes).not.toContain(`/index/${LEDGER_INDEXES.byPollDue.name}`);
    expect(actions()).not.toContain('dynamodb:Scan');
  });

  it('reads requests and writes exports under exports/ only, never results/', () => {
    // Act
    const s3 = statements().filter((statement) =>
      [statement.Action].flat().some((action) => action.startsWith('s3:')),
    );

    // Assess
    const resourcesOf = (action: string) =>
      JSON.stringify(
        s3.filter((statement) => [statement.Action].flat().includes(action)).map((s) => s.Resource),
      );
    expect(resourcesOf('s3:GetObject')).toContain('/exports/requests/*');
    expect(resourcesOf('s3:PutObject')).toContain('/exports/*');
    expect(JSON.stringify(s3)).not.toContain('/results/');
  });
});
