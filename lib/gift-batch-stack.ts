import { Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';

/**
 * The deployed pipeline. One construct per concern joins here as the pipeline grows (ingest, send
 * queue, ledger, results, event intake, webhook, observability); see ../shared/DESIGN.md.
 */
export class GiftBatchStack extends Stack {
  constructor(scope: Construct, id: string, props?: StackProps) {
    super(scope, id, props);
  }
}
