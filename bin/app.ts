import { App } from 'aws-cdk-lib';
import { GiftBatchStack } from '../lib/gift-batch-stack.ts';

const app = new App();
new GiftBatchStack(app, app.node.tryGetContext('stackName') ?? 'GiftBatch', {
  description: 'gift-batch: batch gifting pipeline for the &Open API 2026-05',
});
