import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import {
  BlockPublicAccess,
  Bucket,
  BucketEncryption,
  type BucketProps,
  ObjectOwnership,
} from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';

/**
 * The one way this stack makes a bucket: no public access in any form, objects owned by the bucket
 * owner (ACLs off), encrypted at rest, reachable over TLS 1.2+ only. The pipeline's buckets hold
 * recipients' addresses and redemption links, which are bearer links to a gift.
 */
export const PRIVATE_BUCKET_DEFAULTS = {
  blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
  objectOwnership: ObjectOwnership.BUCKET_OWNER_ENFORCED,
  encryption: BucketEncryption.S3_MANAGED,
  enforceSSL: true,
  minimumTLSVersion: 1.2,
} as const satisfies BucketProps;

/**
 * Where S3 writes the server access logs of the uploads and results buckets: who read which
 * results file, and when. Kept when the stack is deleted (it is the audit trail of the redemption
 * links) and expired after a year.
 */
export class AccessLogsBucket extends Construct {
  readonly bucket: Bucket;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    this.bucket = new Bucket(this, 'Bucket', {
      // SSE-S3, as the defaults say: server access logs cannot be delivered to SSE-KMS buckets.
      ...PRIVATE_BUCKET_DEFAULTS,
      removalPolicy: RemovalPolicy.RETAIN,
      lifecycleRules: [{ id: 'expire-access-logs', expiration: Duration.days(365) }],
    });
  }
}
