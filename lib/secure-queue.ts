import { QueueEncryption, type QueueProps } from 'aws-cdk-lib/aws-sqs';

/** Every queue here: encrypted at rest with SQS-managed keys and reachable over TLS only. */
export const SECURE_QUEUE_DEFAULTS = {
  encryption: QueueEncryption.SQS_MANAGED,
  enforceSSL: true,
} as const satisfies QueueProps;
