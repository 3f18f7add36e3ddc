import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import { Bucket, type IBucket } from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { PRIVATE_BUCKET_DEFAULTS } from './private-bucket.ts';

export interface ResultsProps {
  accessLogs: IBucket;
}

/**
 * The results bucket: `results/<batch>.csv` and `.json`. Treated as cash, because every redemption
 * URL in it is a bearer link to a gift: private, encrypted, TLS only, every read logged (server
 * access logs), versioned so that an overwrite or a deletion can be undone, and kept when the stack
 * is deleted.
 */
export class ResultsConstruct extends Construct {
  readonly bucket: Bucket;

  constructor(scope: Construct, id: string, props: ResultsProps) {
    super(scope, id);
    this.bucket = new Bucket(this, 'Bucket', {
      ...PRIVATE_BUCKET_DEFAULTS,
      versioned: true,
      serverAccessLogsBucket: props.accessLogs,
      serverAccessLogsPrefix: 'results-bucket/',
      removalPolicy: RemovalPolicy.RETAIN,
      lifecycleRules: [
        {
          id: 'expire-replaced-results',
          // A results file is rewritten when a late URL arrives; the old copies go after a month.
          noncurrentVersionExpiration: Duration.days(30),
          abortIncompleteMultipartUploadAfter: Duration.days(1),
        },
      ],
    });
  }
}
