import { Logger } from '@aws-lambda-powertools/logger';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SQSClient } from '@aws-sdk/client-sqs';
import { AndOpenHttpClient } from '../adapters/andopen-http-client.ts';
import { DynamoDbLedger } from '../adapters/dynamodb-ledger.ts';
import { DynamoDbLimiterStore } from '../adapters/dynamodb-limiter-store.ts';
import { DynamoDbRunLease } from '../adapters/dynamodb-run-lease.ts';
import { RenewableKeyGiftingApi } from '../adapters/renewable-key-gifting-api.ts';
import { S3ObjectStore } from '../adapters/s3-object-store.ts';
import { readApiKeySecret } from '../adapters/secret-api-key.ts';
import { isTransientSecretFailure } from '../adapters/secret-string.ts';
import { SqsSendQueue } from '../adapters/sqs-send-queue.ts';
import { andOpenConfig, rateLimitConfig, storageConfig } from '../config.ts';
import { OutcomeNotifier } from '../core/events/outcome-events.ts';
import { FleetRateLimiter } from '../core/rate-limiter.ts';
import { systemClock } from '../ports/clock.ts';
import type { GiftingApi } from '../ports/gifting-api.ts';
import type { OutcomePublisher } from '../ports/outcome-events.ts';
import { createOutcomePublisher } from './outcome-publisher.ts';

/**
 * What every handler shares, created once per container at module scope (cold start), so warm
 * invocations reuse the clients and their connections. Configuration is read here once: a missing
 * variable fails the cold start with its name.
 */
export const logger = new Logger({ serviceName: 'gift-batch' });

const storage = storageConfig();

export const dynamoDb = new DynamoDBClient({});
export const s3 = new S3Client({ forcePathStyle: storage.s3ForcePathStyle });
export const sqs = new SQSClient({});

export const ledger = new DynamoDbLedger({ client: dynamoDb, tableName: storage.ledgerTable });
export const objects = new S3ObjectStore({ client: s3 });
export const sendQueue = new SqsSendQueue({ client: sqs, queueUrl: storage.sendQueueUrl });
export const resultsBucket = storage.resultsBucket;

/**
 * This container's handle on the fleet's one shared rate for &Open (state in the ledger table).
 * Senders and the poller of one container share it, so a 429 seen by one pauses the others at once.
 */
export const limiterStore = new DynamoDbLimiterStore({
  client: dynamoDb,
  tableName: storage.ledgerTable,
});
/** Named leases in the ledger table: one poller run at a time (see poller.ts). */
export const runLease = new DynamoDbRunLease({ client: dynamoDb, tableName: storage.ledgerTable });

export const limiter = new FleetRateLimiter({
  store: limiterStore,
  clock: systemClock,
  // One turn of the event loop before the last look at the pause: a 429 already received is read
  // first, even when this container is too busy to read it promptly.
  yieldToAnswers: () => new Promise((resolve) => setImmediate(resolve)),
  settings: { ceilingRps: rateLimitConfig().maxRps },
});

/**
 * Outcome events for producers of event-driven sends (GiftRequestCreated / GiftRequestFailed): on
 * the stack's bus in AWS, in a JSON Lines file on one machine, nowhere when neither is configured.
 */
export const outcomePublisher: OutcomePublisher = createOutcomePublisher(logger);
export const outcomes = new OutcomeNotifier({
  ledger,
  publisher: outcomePublisher,
  clock: systemClock,
});

let api: GiftingApi | undefined;

/**
 * The &Open client, built on first use: only the handlers that call &Open read the key, and they read
 * it at their first call, again after &Open refuses it (a rotated key), and never fail an invocation
 * over it: a key that cannot be read is an answer (see RenewableKeyGiftingApi).
 */
export function andOpenApi(): GiftingApi {
  api ??= createAndOpenApi();
  return api;
}

function createAndOpenApi(): GiftingApi {
  const config = andOpenConfig();
  const connect = (apiKey: string) =>
    new AndOpenHttpClient({
      baseUrl: config.baseUrl,
      apiKey,
      timeoutMs: config.timeoutMs,
      // The last look at the fleet's pause, as the request's bytes leave (see the client).
      pausedUntil: () => limiter.pausedUntil,
    });
  if (config.apiKey.kind === 'env') return connect(config.apiKey.value);
  const { secretId } = config.apiKey;
  const secrets = new SecretsManagerClient({});
  return new RenewableKeyGiftingApi({
    readKey: () => readApiKeySecret(secrets, secretId),
    connect,
    isTransient: isTransientSecretFailure,
  });
}
