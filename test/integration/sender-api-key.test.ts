/**
 * The API key as the deployed sender gets it, from a secret, against the real stand-ins:
 * - the sender handler when its key's secret cannot be read: the invocation no longer fails (its
 *   messages used to go to the DLQ while their rows stayed pending); the rows wait and burn nothing;
 * - a key rotated while containers are warm: after the 401 that stops the batch, the next call reads
 *   the secret again, so a resume works at once (the real HTTP client against the sandbox).
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AndOpenHttpClient } from '../../lambdas/adapters/andopen-http-client.ts';
import { DynamoDbLedger } from '../../lambdas/adapters/dynamodb-ledger.ts';
import { RenewableKeyGiftingApi } from '../../lambdas/adapters/renewable-key-gifting-api.ts';
import { ApiKeySecretError } from '../../lambdas/adapters/secret-api-key.ts';
import { isTransientSecretFailure } from '../../lambdas/adapters/secret-string.ts';
import { SqsSendQueue } from '../../lambdas/adapters/sqs-send-queue.ts';
import { classifyCreate, describeConfigurationStop } from '../../lambdas/core/outcome.ts';
import type { GiftRequestBody } from '../../lambdas/ports/gifting-api.ts';
import { ensureLedgerTable } from '../../local/aws/ledger-table.ts';
import { invokeWithTimeout, toSqsRecord } from '../../local/lambda/index.ts';
import {
  freeLoopbackPort,
  LOCAL_CREDENTIALS,
  LOCAL_REGION,
  localClientConfig,
  type RunningStandIn,
  startDynamoDbLocal,
  startFauxqs,
} from '../../local/standins/index.ts';
import { DEMO_CAMPAIGNS, SANDBOX_API_KEY, startSandbox } from '../../sandbox/index.ts';

const TABLE = 'gift-batch-ledger';
const BODY: GiftRequestBody = {
  campaign_id: DEMO_CAMPAIGNS.choice,
  recipient: { first_name: 'Alice', last_name: 'Smith', email: 'alice@example.com' },
};

describe('the sender handler when the API key secret cannot be read', () => {
  let fauxqs: RunningStandIn;
  let dynamo: RunningStandIn;
  let sqs: SQSClient;
  let dynamoClient: DynamoDBClient;
  let queueUrl: string;
  let ledger: DynamoDbLedger;
  let handler: (event: SQSEvent, context: Context) => Promise<SQSBatchResponse>;

  beforeAll(async () => {
    [fauxqs, dynamo] = await Promise.all([
      startFauxqs(),
      startDynamoDbLocal({ storage: 'memory' }),
    ]);
    sqs = new SQSClient(localClientConfig(fauxqs.endpoint));
    dynamoClient = new DynamoDBClient(localClientConfig(dynamo.endpoint));
    await ensureLedgerTable(dynamoClient, TABLE);
    queueUrl =
      (await sqs.send(new CreateQueueCommand({ QueueName: 'gift-batch-send' }))).QueueUrl ?? '';
    ledger = new DynamoDbLedger({ client: dynamoClient, tableName: TABLE });
    await ledger.createBatch({
      batchId: 'b1',
      source: { description: 'test', bucket: null, key: null, versionOrEtag: null },
      createdAt: new Date().toISOString(),
    });
    await ledger.putRows([
      {
        batchId: 'b1',
        row: 1,
        line: 2,
        state: 'pending',
        echo: {
          externalId: null,
          campaignId: BODY.campaign_id,
          firstName: 'Alice',
          lastName: 'Smith',
          email: 'alice@example.com',
        },
        body: BODY,
        errors: [],
      },
    ]);

    // Nothing listens on this port: Secrets Manager cannot be reached.
    const secretsManager = `http://127.0.0.1:${await freeLoopbackPort()}`;
    Object.assign(process.env, {
      AWS_REGION: LOCAL_REGION,
      AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
      AWS_ENDPOINT_URL_SQS: fauxqs.endpoint,
      AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
      AWS_ENDPOINT_URL_SECRETS_MANAGER: secretsManager,
      AWS_MAX_ATTEMPTS: '1',
      LEDGER_TABLE: TABLE,
      SEND_QUEUE_URL: queueUrl,
      RESULTS_BUCKET: 'gift-batch-results',
      ANDOPEN_BASE_URL: 'http://127.0.0.1:9', // never called: there is no key to call with
      ANDOPEN_API_KEY_SECRET_ID: 'prod/andopen',
      POWERTOOLS_LOG_LEVEL: 'ERROR',
      POWERTOOLS_METRICS_DISABLED: 'true',
    });
    handler = (await import('../../lambdas/handlers/sender.ts')).handler;
  }, 60_000);

  afterAll(async () => {
    sqs?.destroy();
    dynamoClient?.destroy();
    await Promise.all([fauxqs?.stop(), dynamo?.stop()]);
  });

  it('puts the row back to wait, fails no message, and spends nothing', {
    timeout: 60_000,
  }, async () => {
    // Prepare
    await new SqsSendQueue({ client: sqs, queueUrl }).enqueue([{ batchId: 'b1', row: 1 }]);
    const received = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: queueUrl,
        MaxNumberOfMessages: 1,
        WaitTimeSeconds: 1,
        MessageSystemAttributeNames: ['All'],
      }),
    );
    const message = received.Messages?.[0];
    if (!message) throw new Error('the message did not arrive');
    const event: SQSEvent = {
      Records: [toSqsRecord(message, 'arn:aws:sqs:us-east-1:000000000000:send', LOCAL_REGION)],
    };

    // Act
    const response = await invokeWithTimeout(handler, event, {
      functionName: 'gift-batch-sender',
      timeoutMs: 30_000,
    });

    // Assess
    expect(response.batchItemFailures).toEqual([]);
    const row = await ledger.getRow('b1', 1);
    expect(row?.state).toBe('pending');
    expect(row?.requestId ?? null).toBeNull();
    const attributes = await sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: queueUrl,
        AttributeNames: ['ApproximateNumberOfMessagesDelayed'],
      }),
    );
    expect(attributes.Attributes?.ApproximateNumberOfMessagesDelayed).toBe('1');
  });
});

describe('a key rotated while the client is warm', () => {
  it('stops on the revoked key, then sends with the new one without a new client', {
    timeout: 30_000,
  }, async () => {
    // Prepare: &Open accepts both keys until the old one is revoked; the secret holds the old one.
    const newKey = 'ao-v1-staging-rotated-key';
    const sandbox = await startSandbox({ apiKeys: [SANDBOX_API_KEY, newKey] });
    const secret = { value: SANDBOX_API_KEY };
    let reads = 0;
    const clients: AndOpenHttpClient[] = [];
    const api = new RenewableKeyGiftingApi({
      readKey: async () => {
        reads += 1;
        if (!secret.value) throw new ApiKeySecretError('secret prod/andopen is empty');
        return secret.value;
      },
      connect: (apiKey) => {
        const client = new AndOpenHttpClient({ baseUrl: sandbox.url, apiKey, timeoutMs: 5_000 });
        clients.push(client);
        return client;
      },
      isTransient: isTransientSecretFailure,
    });
    try {
      const before = classifyCreate(await api.createGiftRequest(BODY));
      const revoke = await fetch(`${sandbox.url}/_sandbox/keys/revoke`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ key: SANDBOX_API_KEY }),
      });

      // Act
      const refused = classifyCreate(await api.createGiftRequest(BODY));
      secret.value = newKey; // a person puts the new key in the secret, then resumes
      const afterRotation = classifyCreate(await api.createGiftRequest(BODY));

      // Assess
      expect(revoke.status).toBe(200);
      expect(before.kind).toBe('created');
      expect(refused).toMatchObject({
        kind: 'configuration-stop',
        reason: 'authentication',
        code: 'expired_token',
      });
      if (refused.kind === 'configuration-stop') {
        expect(describeConfigurationStop(refused)).toContain('HTTP 401');
      }
      expect(afterRotation.kind).toBe('created');
      expect(reads).toBe(2);
    } finally {
      for (const client of clients) client.close();
      await sandbox.stop();
    }
  });
});
