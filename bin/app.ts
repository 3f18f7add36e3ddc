import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { GiftBatchStack } from '../lib/gift-batch-stack.ts';

const app = new App();
new GiftBatchStack(app, app.node.tryGetContext('stackName') ?? 'GiftBatch', {
  description: 'gift-batch: batch gifting pipeline for the &Open API 2026-05',
});
// Synth fails on any AwsSolutions finding that is not acknowledged with its reason.
Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
