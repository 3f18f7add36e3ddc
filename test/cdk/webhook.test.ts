import type { Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  CDK_TIMEOUT,
  type Json,
  type Resource,
  resourcesOf,
  synthesize,
} from '../support/synthesized-stack.ts';

function functionByDescription(template: Template, start: string): [string, Resource] {
  const found = resourcesOf(template, 'AWS::Lambda::Function').find(([, fn]) =>
    String(fn.Properties?.Description).startsWith(start),
  );
  if (!found) throw new Error(`no function described "${start}…"`);
  return found;
}

const statementsOfRole = (template: Template, roleId: string) =>
  resourcesOf(template, 'AWS::IAM::Policy')
    .filter(([, policy]) =>
      ((policy.Properties?.Roles ?? []) as Json[]).some((role) => role.Ref === roleId),
    )
    .flatMap(([, policy]) => policy.Properties?.PolicyDocument?.Statement as Json[]);

describe('webhooks in the stack (-c webhooks=true)', () => {
  let synthesized: ReturnType<typeof synthesize>;
  let template: Template;

  beforeAll(() => {
    synthesized = synthesize('GiftBatchWebhookTest', { webhooks: 'true' });
    template = synthesized.template;
  }, CDK_TIMEOUT);

  it('are off by default: no Function URL, and the sender polls within seconds', {
    timeout: CDK_TIMEOUT,
  }, () => {
    // Act
    const plain = synthesize('GiftBatchWebhookTest').template;

    // Assess
    plain.resourceCountIs('AWS::Lambda::Url', 0);
    const [, sender] = functionByDescription(plain, 'gift-batch sender');
    expect(sender.Properties?.Environment.Variables.WEBHOOKS_ENABLED).toBeUndefined();
  });

  it('put the webhook function behind a Function URL with no IAM auth, and output the URL', {
    timeout: CDK_TIMEOUT,
  }, () => {
    // Prepare
    const [receiverId] = functionByDescription(template, 'gift-batch webhook');

    // Act
    const urls = resourcesOf(template, 'AWS::Lambda::Url');
    const outputs = template.toJSON().Outputs as Record<string, { Value: Json }>;

    // Assess
    expect(urls).toHaveLength(1);
    expect(urls[0]?.[1].Properties).toMatchObject({
      AuthType: 'NONE',
      InvokeMode: 'BUFFERED',
      TargetFunctionArn: { 'Fn::GetAtt': [receiverId, 'Arn'] },
    });
    expect(outputs.WebhookUrl?.Value).toEqual({ 'Fn::GetAtt': [urls[0]?.[0], 'FunctionUrl'] });
    expect(outputs.WebhookSecretId).toBeDefined();
    // Public Function URLs need both permissions since October 2025, or every call gets a 403.
    const publicActions = resourcesOf(template, 'AWS::Lambda::Permission')
      .filter(([, permission]) => permission.Properties?.Principal === '*')
      .filter(([, p]) => p.Properties?.FunctionName?.['Fn::GetAtt']?.[0] === receiverId)
      .map(([, p]) => p.Properties?.Action)
      .sort();
    expect(publicActions).toEqual(['lambda:InvokeFunction', 'lambda:InvokeFunctionUrl']);
  });

  it('give the webhook function only the ledger and the signing secret, never the API key', {
    timeout: CDK_TIMEOUT,
  }, () => {
    // Prepare
    const [, receiver] = functionByDescription(template, 'gift-batch webhook');
    const variables = receiver.Properties?.Environment.Variables as Record<string, Json>;
    const roleId = receiver.Properties?.Role['Fn::GetAtt'][0] as string;

    // Act
    const statements = statementsOfRole(template, roleId);
    const secretIds = resourcesOf(template, 'AWS::SecretsManager::Secret').map(([id]) => id);
    const webhookSecretId = variables.WEBHOOK_SECRET_ID.Ref as string;

    // Assess
    expect(Object.keys(variables)).toEqual(
      expect.arrayContaining(['LEDGER_TABLE', 'WEBHOOK_SECRET_ID']),
    );
    expect(Object.keys(variables)).not.toContain('ANDOPEN_API_KEY_SECRET_ID');
    expect(Object.keys(variables)).not.toContain('SEND_QUEUE_URL');
    expect(secretIds).toContain(webhookSecretId);
    const secretReads = statements.filter((s) =>
      [s.Action].flat().includes('secretsmanager:GetSecretValue'),
    );
    expect(secretReads.map((s) => s.Resource)).toEqual([{ Ref: webhookSecretId }]);
    const ledger = statements.find((s) => [s.Action].flat().includes('dynamodb:Query'));
    expect(JSON.stringify(ledger?.Resource)).toContain('/index/byGiftRequest');
    expect(JSON.stringify(ledger?.Resource)).not.toContain('byPollDue');
  });

  it('let the webhook function tell producers on the stack bus when a link arrives by webhook', {
    timeout: CDK_TIMEOUT,
  }, () => {
    // Prepare
    const [, receiver] = functionByDescription(template, 'gift-batch webhook');
    const variables = receiver.Properties?.Environment.Variables as Record<string, Json>;
    const roleId = receiver.Properties?.Role['Fn::GetAtt'][0] as string;

    // Act
    const statements = statementsOfRole(template, roleId);
    const putEvents = statements.filter((s) => [s.Action].flat().includes('events:PutEvents'));

    // Assess
    expect(Object.keys(variables)).toContain('OUTCOME_EVENT_BUS_NAME');
    expect(putEvents).toHaveLength(1);
    expect(JSON.stringify(putEvents[0]?.Resource)).toContain('EventIntakeBus');
  });

  it('create the signing secret empty', { timeout: CDK_TIMEOUT }, () => {
    // Prepare
    const [, receiver] = functionByDescription(template, 'gift-batch webhook');
    const secretId = receiver.Properties?.Environment.Variables.WEBHOOK_SECRET_ID.Ref as string;

    // Act
    const secret = template.toJSON().Resources[secretId] as Resource;

    // Assess
    expect(secret.Properties?.SecretString).toBeUndefined();
    expect(secret.Properties?.GenerateSecretString).toBeUndefined();
  });

  it('turn the poller into a safety net: WEBHOOKS_ENABLED on the sender and the poller', {
    timeout: CDK_TIMEOUT,
  }, () => {
    // Act
    const enabled = ['gift-batch sender', 'gift-batch poller'].map(
      (start) =>
        functionByDescription(template, start)[1].Properties?.Environment.Variables
          .WEBHOOKS_ENABLED,
    );

    // Assess
    expect(enabled).toEqual(['true', 'true']);
  });

  it('alarm on the webhook function failing', { timeout: CDK_TIMEOUT }, () => {
    // Act
    const alarms = resourcesOf(template, 'AWS::CloudWatch::Alarm').map(
      ([, alarm]) => alarm.Properties?.AlarmName ?? alarm.Properties?.AlarmDescription,
    );

    // Assess
    expect(JSON.stringify(alarms)).toMatch(/webhook/i);
  });

  it('use an existing signing secret by name when webhookSecretName is given', {
    timeout: CDK_TIMEOUT,
  }, () => {
    // Act
    const imported = synthesize('GiftBatchWebhookTest', {
      webhooks: 'true',
      webhookSecretName: 'prod/andopen-webhook',
    });

    // Assess
    const [, receiver] = functionByDescription(imported.template, 'gift-batch webhook');
    expect(receiver.Properties?.Environment.Variables.WEBHOOK_SECRET_ID).toBe(
      'prod/andopen-webhook',
    );
  });

  it('refuse a webhooks context that is not true or false', { timeout: CDK_TIMEOUT }, () => {
    // Act
    const act = () => synthesize('GiftBatchWebhookTest', { webhooks: 'yes please' });

    // Assess
    expect(act).toThrow(/context webhooks must be true or false/);
  });

  it('leave no unacknowledged cdk-nag finding', { timeout: CDK_TIMEOUT }, () => {
    // Act
    const report = new AwsSolutionsChecks(synthesized.app).validateScope(synthesized.stack);

    // Assess
    expect(report.violations).toEqual([]);
  });
});
