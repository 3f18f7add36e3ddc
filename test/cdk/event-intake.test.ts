import type { Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { beforeAll, describe, expect, it } from 'vitest';
import { GIFT_REQUESTED_DETAIL_TYPE } from '../../lambdas/core/events/gift-event.ts';
import { PIPELINE } from '../../lib/pipeline-settings.ts';
import { StackSettingsError } from '../../lib/stack-settings.ts';
import {
  CDK_TIMEOUT,
  type Json,
  logicalIdOf,
  type Resource,
  resourcesOf,
  synthesize,
} from '../support/synthesized-stack.ts';

const PRODUCERS = ['111122223333', '444455556666'];

function functionId(template: Template, start: string): string {
  const found = resourcesOf(template, 'AWS::Lambda::Function').find(([, fn]) =>
    String(fn.Properties?.Description).startsWith(start),
  );
  if (!found) throw new Error(`no function "${start}…"`);
  return found[0];
}

function actionsOf(template: Template, fnId: string): string[] {
  const resources = template.toJSON().Resources as Record<string, Resource>;
  const roleId = logicalIdOf(resources[fnId]?.Properties?.Role);
  return resourcesOf(template, 'AWS::IAM::Policy')
    .filter(([, p]) => p.Properties?.Roles.some((r: Json) => logicalIdOf(r) === roleId))
    .flatMap(([, p]) => p.Properties?.PolicyDocument.Statement)
    .flatMap((statement: Json) => [statement.Action].flat());
}

describe('event intake (stack)', () => {
  let synthesized: ReturnType<typeof synthesize>;
  let template: Template;

  beforeAll(() => {
    synthesized = synthesize('GiftBatchEvents', { intakeProducerAccounts: PRODUCERS.join(',') });
    template = synthesized.template;
  }, CDK_TIMEOUT);

  it('routes Gift Requested events on the stack’s bus to the intake queue, with a target DLQ', {
    timeout: CDK_TIMEOUT,
  }, () => {
    // Prepare
    const [busId] = resourcesOf(template, 'AWS::Events::EventBus')[0] ?? [];

    // Act
    const rules = resourcesOf(template, 'AWS::Events::Rule').filter(
      ([, rule]) => rule.Properties?.EventPattern,
    );

    // Assess
    expect(rules).toHaveLength(1);
    const rule = rules[0]?.[1].Properties;
    expect(rule?.EventPattern).toEqual({ 'detail-type': [GIFT_REQUESTED_DETAIL_TYPE] });
    expect(logicalIdOf(rule?.EventBusName)).toBe(busId);
    const target = rule?.Targets[0];
    expect(logicalIdOf(target.Arn)).toMatch(/^EventIntakeQueue/);
    expect(logicalIdOf(target.DeadLetterConfig.Arn)).toMatch(/^EventIntakeRuleDeadLetterQueue/);
  });

  it('archives the Gift Requested events of the bus', { timeout: CDK_TIMEOUT }, () => {
    // Act
    const archives = resourcesOf(template, 'AWS::Events::Archive');

    // Assess
    expect(archives).toHaveLength(1);
    expect(archives[0]?.[1].Properties).toMatchObject({
      EventPattern: { 'detail-type': [GIFT_REQUESTED_DETAIL_TYPE] },
      RetentionDays: PIPELINE.intake.archiveRetentionDays,
    });
  });

  it('maps the intake queue to the intake function, and redrives failures to its DLQ', {
    timeout: CDK_TIMEOUT,
  }, () => {
    // Prepare
    const intakeId = functionId(template, 'gift-batch intake');
    const queues = Object.fromEntries(resourcesOf(template, 'AWS::SQS::Queue'));

    // Act
    const mapping = resourcesOf(template, 'AWS::Lambda::EventSourceMapping').find(
      ([, m]) => logicalIdOf(m.Properties?.FunctionName) === intakeId,
    )?.[1];

    // Assess
    expect(mapping?.Properties).toMatchObject({
      BatchSize: PIPELINE.intake.batchSize,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
    });
    const queueId = logicalIdOf(mapping?.Properties?.EventSourceArn) as string;
    const queue = queues[queueId]?.Properties;
    expect(queue?.RedrivePolicy.maxReceiveCount).toBe(PIPELINE.intake.maxReceiveCount);
    expect(logicalIdOf(queue?.RedrivePolicy.deadLetterTargetArn)).toMatch(
      /^EventIntakeDeadLetterQueue/,
    );
    expect(queue?.VisibilityTimeout).toBeGreaterThanOrEqual(6 * PIPELINE.intake.timeoutSeconds);
  });

  it('lets EventBridge and the producer accounts given in context send to the intake queue', {
    timeout: CDK_TIMEOUT,
  }, () => {
    // Act
    const statements = resourcesOf(template, 'AWS::SQS::QueuePolicy')
      .filter(([, policy]) =>
        policy.Properties?.Queues.some((q: Json) =>
          String(logicalIdOf(q)).startsWith('EventIntakeQueue'),
        ),
      )
      .flatMap(([, policy]) => policy.Properties?.PolicyDocument.Statement);
    const json = JSON.stringify(statements);

    // Assess
    expect(json).toContain('events.amazonaws.com');
    const producers = statements.find((statement: Json) => statement.Sid === 'GiftEventProducers');
    expect(producers.Effect).toBe('Allow');
    expect([producers.Action].flat()).toContain('sqs:SendMessage');
    for (const account of PRODUCERS) expect(JSON.stringify(producers.Principal)).toContain(account);
  });

  it('has no producer statement without producer accounts, and refuses a malformed account id', {
    timeout: CDK_TIMEOUT,
  }, () => {
    // Act
    const plain = synthesize('GiftBatchEvents').template;

    // Assess
    expect(JSON.stringify(plain.toJSON())).not.toContain('GiftEventProducers');
    expect(() => synthesize('GiftBatchEvents', { intakeProducerAccounts: '1234' })).toThrow(
      StackSettingsError,
    );
  });

  it('grants the intake the ledger, the send queue and the bus, and nothing of &Open', {
    timeout: CDK_TIMEOUT,
  }, () => {
    // Prepare
    const intakeId = functionId(template, 'gift-batch intake');
    const resources = template.toJSON().Resources as Record<string, Resource>;

    // Act
    const actions = actionsOf(template, intakeId);
    const variables = resources[intakeId]?.Properties?.Environment.Variables;

    // Assess
    expect(actions).toEqual(
      expect.arrayContaining([
        'dynamodb:GetItem',
        'dynamodb:PutItem',
        'dynamodb:UpdateItem',
        'sqs:SendMessage',
        'events:PutEvents',
      ]),
    );
    expect(actions).not.toContain('dynamodb:Query');
    expect(actions).not.toContain('secretsmanager:GetSecretValue');
    expect(Object.keys(variables)).toEqual(
      expect.arrayContaining(['LEDGER_TABLE', 'SEND_QUEUE_URL', 'OUTCOME_EVENT_BUS_NAME']),
    );
  });

  it('lets the sender and the poller publish outcome events on the bus', {
    timeout: CDK_TIMEOUT,
  }, () => {
    for (const start of ['gift-batch sender', 'gift-batch poller']) {
      // Act
      const id = functionId(template, start);
      const variables = (template.toJSON().Resources as Record<string, Resource>)[id]?.Properties
        ?.Environment.Variables;

      // Assess
      expect(actionsOf(template, id)).toContain('events:PutEvents');
      expect(variables.OUTCOME_EVENT_BUS_NAME).toBeDefined();
    }
  });

  it('reports no unacknowledged AwsSolutions finding with producer accounts', {
    timeout: CDK_TIMEOUT,
  }, () => {
    // Act
    const report = new AwsSolutionsChecks(synthesized.app).validateScope(synthesized.stack);

    // Assess
    expect(report.violations).toEqual([]);
  });
});
