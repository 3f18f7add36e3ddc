/**
 * The local AWS stand-ins: fauxqs (S3 + SQS, in this process) and DynamoDB Local (a Java child
 * process), both on 127.0.0.1, plus the SDK client config that points at them.
 */
export {
  LOCAL_CREDENTIALS,
  LOCAL_REGION,
  type LocalClientConfig,
  localClientConfig,
} from './client-config.ts';
export {
  type DynamoDbLocalOptions,
  DynamoDbLocalStartError,
  type RunningDynamoDbLocal,
  startDynamoDbLocal,
} from './dynamodb-local.ts';
export { type FauxqsOptions, startFauxqs } from './fauxqs.ts';
export { findJava, type JavaCheck } from './java.ts';
export { freeLoopbackPort } from './ports.ts';
export type { RunningStandIn } from './types.ts';
