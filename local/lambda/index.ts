/**
 * Lambda as the local runtime needs it: the invocation context and timeout, the S3 and EventBridge
 * event shapes, and an SQS event source mapping, so `gift-batch run` drives the deployed handlers
 * the way AWS would.
 */
export {
  assertInvocationRunning,
  HALT_AFTER_TIMEOUT,
  haltAfterTimeout,
  InvocationEndedError,
  invokeWithTimeout,
  type LambdaContextOptions,
  type LambdaHandler,
  LambdaTimeoutError,
  LOCAL_ACCOUNT_ID,
  LOCAL_LAMBDA_REGION,
  lambdaContext,
} from './context.ts';
export {
  type FunctionUrlHandler,
  type FunctionUrlOptions,
  functionUrlEvent,
  type RunningFunctionUrl,
  startFunctionUrl,
} from './function-url.ts';
export { describeError, type LocalLambdaLogger, stderrLogger } from './logger.ts';
export {
  decodeS3Key,
  encodeS3Key,
  type S3ObjectCreatedEventName,
  type S3ObjectCreatedOptions,
  s3ObjectCreatedEvent,
} from './s3-event.ts';
export {
  Schedule,
  type ScheduledEventOptions,
  type ScheduleOptions,
  scheduledEvent,
} from './schedule.ts';
export {
  InvalidBatchResponseError,
  readBatchResponse,
  SqsEventSource,
  type SqsEventSourceOptions,
  type SqsHandler,
  type SqsInvocationOutcome,
  type SqsInvocationReport,
  toSqsRecord,
} from './sqs-event-source.ts';
