/**
 * `npm run bench:split [-- --rows N] [-- --limit-s S] [-- --margin-s M]`: the real splitter handler
 * on a generated N-row file (default 1,000,000), against DynamoDB Local `-inMemory` and fauxqs, with
 * a simulated Lambda time limit, so that a long file is carried on through the split continuation
 * queue exactly as in AWS.
 *
 * 1. Generate the file under bench/.data/ (kept between runs) and start the stand-ins: DynamoDB Local
 *    (Java), and fauxqs in a child process, so this process's peak RSS is the splitter's alone and
 *    not that of a queue holding a million messages.
 * 2. Create the buckets, queues and table as the local runtime does; upload the file (multipart).
 * 3. Invoke the splitter with the upload's S3 event, then with every continuation it hands over,
 *    each with a fresh Lambda context whose time limit is `--limit-s` (default 120 s).
 * 4. Check the batch's totals and print rows/s, invocations used, peak RSS.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createReadStream, createWriteStream, existsSync, mkdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { CreateBucketCommand, HeadObjectCommand, S3Client } from '@aws-sdk/client-s3';
import {
  CreateQueueCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { Upload } from '@aws-sdk/lib-storage';
import type { Context, S3Event, SQSEvent } from 'aws-lambda';
import { DynamoDbLedger } from '../lambdas/adapters/dynamodb-ledger.ts';
import { ensureLedgerTable } from '../local/aws/ledger-table.ts';
import {
  invokeWithTimeout,
  LambdaTimeoutError,
  s3ObjectCreatedEvent,
  toSqsRecord,
} from '../local/lambda/index.ts';
import { batchIdOfUpload } from '../local/runtime/local-pipeline.ts';
import {
  LOCAL_CREDENTIALS,
  LOCAL_REGION,
  localClientConfig,
  startDynamoDbLocal,
  startFauxqs,
} from '../local/standins/index.ts';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
const DATA_DIR = join(dirname(fileURLToPath(import.meta.url)), '.data');
const CAMPAIGN = '11111111-1111-4111-8111-111111111111';

function option(name: string, fallback: number): number {
  const index = process.argv.indexOf(`--${name}`);
  if (index < 0) return fallback;
  const value = Number(process.argv[index + 1]);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`--${name} needs a number > 0`);
  return value;
}

/** The child process: fauxqs alone, its endpoint on stdout, until stdin closes. */
async function serveFauxqs(): Promise<void> {
  const fauxqs = await startFauxqs();
  process.stdout.write(`${fauxqs.endpoint}\n`);
  process.stdin.resume();
  await once(process.stdin, 'end');
  await fauxqs.stop();
}

async function startFauxqsChild(): Promise<{ endpoint: string; child: ChildProcess }> {
  const child = spawn(
    process.execPath,
    [...process.execArgv, fileURLToPath(import.meta.url), '--serve-fauxqs'],
    {
      stdio: ['pipe', 'pipe', 'inherit'],
    },
  );
  const [line] = (await once(child.stdout as NodeJS.ReadableStream, 'data')) as [Buffer];
  return { endpoint: line.toString().trim(), child };
}

async function generate(path: string, rows: number): Promise<void> {
  const out = createWriteStream(path);
  out.write('campaign_id,external_id,first_name,last_name,email\r\n');
  for (let row = 1; row <= rows; row += 1) {
    const line = `${CAMPAIGN},E${row},First${row},Last${row},person${row}@example.com\r\n`;
    if (!out.write(line)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
}

async function main(): Promise<void> {
  const rows = option('rows', 1_000_000);
  const limitMs = option('limit-s', 120) * 1000;
  const marginMs = option('margin-s', 10) * 1000;

  mkdirSync(DATA_DIR, { recursive: true });
  const file = join(DATA_DIR, `split-${rows}.csv`);
  if (!existsSync(file)) {
    process.stdout.write(`generating ${file} … `);
    await generate(file, rows);
    console.log(`${(statSync(file).size / 1e6).toFixed(1)} MB`);
  }

  const dynamoLocal = await startDynamoDbLocal({
    storage: 'memory',
    // Every row, its campaign-index entry and the batch live on DynamoDB Local's heap.
    maxHeapMiB: Math.max(512, Math.ceil(rows / 1000) * 4),
  });
  const fauxqs = await startFauxqsChild();
  const s3 = new S3Client(localClientConfig(fauxqs.endpoint));
  const sqs = new SQSClient(localClientConfig(fauxqs.endpoint));
  const dynamo = new DynamoDBClient(localClientConfig(dynamoLocal.endpoint));
  try {
    await s3.send(new CreateBucketCommand({ Bucket: 'uploads' }));
    await s3.send(new CreateBucketCommand({ Bucket: 'results' }));
    const sendQueue = (await sqs.send(new CreateQueueCommand({ QueueName: 'send' }))).QueueUrl;
    const splitQueue = (await sqs.send(new CreateQueueCommand({ QueueName: 'split' }))).QueueUrl;
    if (!sendQueue || !splitQueue) throw new Error('fauxqs returned no queue URL');
    const splitArn = (
      await sqs.send(
        new GetQueueAttributesCommand({ QueueUrl: splitQueue, AttributeNames: ['QueueArn'] }),
      )
    ).Attributes?.QueueArn as string;
    await ensureLedgerTable(dynamo, 'ledger');

    const key = `uploads/split-${rows}.csv`;
    await new Upload({
      client: s3,
      params: { Bucket: 'uploads', Key: key, Body: createReadStream(file) },
    }).done();
    const head = await s3.send(new HeadObjectCommand({ Bucket: 'uploads', Key: key }));
    const event = s3ObjectCreatedEvent({
      bucket: 'uploads',
      key,
      size: head.ContentLength ?? 0,
      eTag: head.ETag ?? '',
    });
    const batchId = await batchIdOfUpload(event);

    Object.assign(process.env, {
      AWS_REGION: LOCAL_REGION,
      AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
      AWS_ENDPOINT_URL_S3: fauxqs.endpoint,
      AWS_ENDPOINT_URL_SQS: fauxqs.endpoint,
      AWS_ENDPOINT_URL_DYNAMODB: dynamoLocal.endpoint,
      S3_FORCE_PATH_STYLE: 'true',
      LEDGER_TABLE: 'ledger',
      SEND_QUEUE_URL: sendQueue,
      SPLIT_QUEUE_URL: splitQueue,
      RESULTS_BUCKET: 'results',
      MAX_ROWS_PER_FILE: String(rows),
      SPLIT_HAND_OVER_WHEN_REMAINING_MS: String(marginMs),
      POWERTOOLS_LOG_LEVEL: 'ERROR',
      POWERTOOLS_METRICS_DISABLED: 'true',
    });
    const { handler } = await import('../lambdas/handlers/splitter.ts');
    const splitter = handler as (event: S3Event | SQSEvent, context: Context) => Promise<void>;
    const invoke = async (input: S3Event | SQSEvent): Promise<void> => {
      try {
        await invokeWithTimeout(splitter, input, {
          functionName: 'bench-splitter',
          timeoutMs: limitMs,
        });
      } catch (error) {
        if (!(error instanceof LambdaTimeoutError)) throw error;
        // In AWS the poller resumes such a split after 17 quiet minutes; the bench does not wait.
        throw new Error(
          `an invocation ran out of its ${limitMs / 1000} s before it could hand over: each ` +
            'continuation reads the file again from its start (for the duplicate check), which ' +
            'this machine could not do in time. Give it a longer --limit-s (AWS: 900 s).',
        );
      }
    };

    console.log(
      `splitting ${rows.toLocaleString('en')} rows with a simulated limit of ${limitMs / 1000} s ` +
        `per invocation (hand over with ${marginMs / 1000} s left)`,
    );
    const ledger = new DynamoDbLedger({ client: dynamo, tableName: 'ledger' });
    const started = performance.now();
    const durations: number[] = [];
    let invocationStart = performance.now();
    await invoke(event);
    durations.push(performance.now() - invocationStart);
    for (;;) {
      const batch = await ledger.getBatch(batchId);
      if (batch?.phase !== 'splitting') break;
      const { Messages } = await sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: splitQueue,
          MaxNumberOfMessages: 1,
          WaitTimeSeconds: 1,
          MessageSystemAttributeNames: ['All'],
        }),
      );
      const message = Messages?.[0];
      if (!message) continue;
      invocationStart = performance.now();
      await invoke({ Records: [toSqsRecord(message, splitArn, LOCAL_REGION)] });
      durations.push(performance.now() - invocationStart);
      await sqs.send(
        new DeleteMessageCommand({ QueueUrl: splitQueue, ReceiptHandle: message.ReceiptHandle }),
      );
      const done = await ledger.getBatch(batchId);
      const recorded = done?.splitCheckpoint?.totals.rows ?? done?.counts.rows ?? 0;
      const tookSeconds = (durations.at(-1) ?? 0) / 1000;
      console.log(
        `  invocation ${durations.length}: ${tookSeconds.toFixed(1)} s, ` +
          `${recorded.toLocaleString('en')} rows recorded`,
      );
    }
    const seconds = (performance.now() - started) / 1000;
    const batch = await ledger.getBatch(batchId);
    const peakRssMb = process.resourceUsage().maxRSS / 1024;
    // The ledger's totals say every row was recorded; the send queue says every valid row was also
    // handed to the senders (fauxqs counts exactly: nothing has received from it).
    const queued = Number(
      (
        await sqs.send(
          new GetQueueAttributesCommand({
            QueueUrl: sendQueue,
            AttributeNames: ['ApproximateNumberOfMessages'],
          }),
        )
      ).Attributes?.ApproximateNumberOfMessages ?? -1,
    );
    const ok =
      batch?.counts.rows === rows && batch.fileError === null && queued === batch.counts.valid;
    console.log(
      `\n${rows.toLocaleString('en')} rows split in ${seconds.toFixed(1)} s: ` +
        `${Math.round(rows / seconds).toLocaleString('en')} rows/s, ` +
        `${durations.length} invocations (longest ${(Math.max(...durations) / 1000).toFixed(1)} s ` +
        `of ${limitMs / 1000} s), peak RSS ${peakRssMb.toFixed(0)} MB (this process: the splitter)`,
    );
    console.log(
      `ledger: ${batch?.counts.rows.toLocaleString('en')} rows, ${batch?.counts.valid.toLocaleString('en')} valid, phase ${batch?.phase}; ` +
        `send queue: ${queued.toLocaleString('en')} messages` +
        (ok
          ? ''
          : ` — NOT the ${rows} rows recorded and queued as expected (${batch?.fileError ?? 'no file error'})`),
    );
    if (!ok) process.exitCode = 1;
  } finally {
    s3.destroy();
    sqs.destroy();
    dynamo.destroy();
    fauxqs.child.stdin?.end();
    await once(fauxqs.child, 'exit');
    await dynamoLocal.stop();
  }
}

if (process.argv.includes('--serve-fauxqs')) await serveFauxqs();
else await main();
