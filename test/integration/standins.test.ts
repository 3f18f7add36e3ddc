import { execFileSync, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect, createServer } from 'node:net';
import { networkInterfaces, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import {
  ConditionalCheckFailedException,
  CreateTableCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
} from '@aws-sdk/client-dynamodb';
import { CreateBucketCommand, GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import {
  CreateQueueCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { Upload } from '@aws-sdk/lib-storage';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  DynamoDbLocalStartError,
  findJava,
  LOCAL_CREDENTIALS,
  LOCAL_REGION,
  localClientConfig,
  type RunningDynamoDbLocal,
  type RunningStandIn,
  startDynamoDbLocal,
  startFauxqs,
} from '../../local/standins/index.ts';
import { parseJavaVersion } from '../../local/standins/java.ts';

/** Resolves true when something accepts a TCP connection at host:port. */
function accepts(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    socket.setTimeout(2_000);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Local addresses of the TCP listeners on `port`, as `ss` prints them (e.g. `127.0.0.1`, `*`). */
function listenersOn(port: number): string[] {
  const out = execFileSync('ss', ['-ltnH', `sport = :${port}`], { encoding: 'utf8' });
  return out
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => {
      const local = line.trim().split(/\s+/)[3] ?? '';
      return local.slice(0, local.lastIndexOf(':'));
    });
}

function nonLoopbackIPv4Addresses(): string[] {
  return Object.values(networkInterfaces())
    .flatMap((entries) => entries ?? [])
    .filter((entry) => entry.family === 'IPv4' && !entry.internal)
    .map((entry) => entry.address);
}

function portOf(endpoint: string): number {
  return Number(new URL(endpoint).port);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Polls until `pid` is gone or `deadlineMs` has passed; says whether it went. */
async function waitUntilGone(pid: number, deadlineMs: number): Promise<boolean> {
  const deadline = Date.now() + deadlineMs;
  while (isAlive(pid)) {
    if (Date.now() > deadline) return false;
    await new Promise((resolveWait) => setTimeout(resolveWait, 100));
  }
  return true;
}

/**
 * Starts DynamoDB Local in a separate Node.js process that then ends as `ending` says, without
 * calling stop(). Resolves with the JVM's PID once the child has ended.
 */
async function startInChildThatEnds(ending: 'process.exit' | 'SIGKILL'): Promise<number> {
  const repoRoot = resolve(import.meta.dirname, '../..');
  const script = [
    `import { startDynamoDbLocal } from ${JSON.stringify(join(repoRoot, 'local/standins/dynamodb-local.ts'))};`,
    "const dynamo = await startDynamoDbLocal({ storage: 'memory' });",
    "console.log('pid=' + dynamo.pid);",
    ending === 'process.exit' ? 'process.exit(0);' : 'setInterval(() => {}, 1000);',
  ].join('\n');
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    cwd: repoRoot,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const ended = new Promise((resolveEnd) => child.once('exit', resolveEnd));
  let output = '';
  const pid = await new Promise<number>((resolvePid, rejectPid) => {
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      output += chunk;
      const match = /pid=(\d+)/.exec(output);
      if (match?.[1] !== undefined) resolvePid(Number(match[1]));
    });
    child.once('exit', (code) => rejectPid(new Error(`child exited (${code}): ${output}`)));
  });
  if (ending === 'SIGKILL') child.kill('SIGKILL');
  await ended;
  return pid;
}

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

describe('localClientConfig', () => {
  it('gives explicit throwaway credentials, the local region and path-style S3', () => {
    // Act
    const config = localClientConfig('http://127.0.0.1:1234');

    // Assess
    expect(config).toEqual({
      endpoint: 'http://127.0.0.1:1234',
      region: 'us-east-1',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
      forcePathStyle: true,
    });
    expect(LOCAL_CREDENTIALS.accessKeyId).toMatch(/^[A-Za-z0-9]+$/);
    expect(LOCAL_CREDENTIALS.secretAccessKey).toMatch(/^[A-Za-z0-9]+$/);
    expect(LOCAL_REGION).toBe('us-east-1');
  });
});

describe('fauxqs', () => {
  let fauxqs: RunningStandIn;
  let s3: S3Client;
  let sqs: SQSClient;

  beforeAll(async () => {
    fauxqs = await startFauxqs();
    s3 = new S3Client(localClientConfig(fauxqs.endpoint));
    sqs = new SQSClient(localClientConfig(fauxqs.endpoint));
  });

  afterAll(async () => {
    s3?.destroy();
    sqs?.destroy();
    await fauxqs?.stop();
  });

  it('listens on 127.0.0.1 only', () => {
    // Assess
    expect(fauxqs.endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(listenersOn(portOf(fauxqs.endpoint))).toEqual(['127.0.0.1']);
  });

  it('stores a 12 MiB object uploaded in parts and gives it back byte for byte', async () => {
    // Prepare
    await s3.send(new CreateBucketCommand({ Bucket: 'uploads' }));
    const body = randomBytes(12 * 1024 * 1024);
    let partsSent = 0;
    const upload = new Upload({
      client: s3,
      params: { Bucket: 'uploads', Key: 'big/recipients.csv', Body: body },
    });
    upload.on('httpUploadProgress', (progress) => {
      partsSent = Math.max(partsSent, progress.part ?? 0);
    });

    // Act
    await upload.done();
    const got = await s3.send(
      new GetObjectCommand({ Bucket: 'uploads', Key: 'big/recipients.csv' }),
    );
    const bytes = await got.Body?.transformToByteArray();

    // Assess
    expect(partsSent).toBe(3); // 5 + 5 + 2 MiB: a single PutObject would be refused above 11 MiB
    expect(bytes?.length).toBe(body.length);
    expect(sha256(bytes ?? new Uint8Array())).toBe(sha256(body));
  });

  it('sends, receives and deletes, and moves a message that keeps failing to the DLQ', async () => {
    // Prepare
    const dlq = await sqs.send(new CreateQueueCommand({ QueueName: 'send-dlq' }));
    const dlqArn = await sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: dlq.QueueUrl, AttributeNames: ['QueueArn'] }),
    );
    const queue = await sqs.send(
      new CreateQueueCommand({
        QueueName: 'send',
        Attributes: {
          RedrivePolicy: JSON.stringify({
            deadLetterTargetArn: dlqArn.Attributes?.QueueArn,
            maxReceiveCount: 1,
          }),
        },
      }),
    );

    // Act
    await sqs.send(new SendMessageCommand({ QueueUrl: queue.QueueUrl, MessageBody: 'row-1' }));
    const received = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queue.QueueUrl, WaitTimeSeconds: 1 }),
    );
    const message = received.Messages?.[0];
    await sqs.send(
      new DeleteMessageCommand({ QueueUrl: queue.QueueUrl, ReceiptHandle: message?.ReceiptHandle }),
    );
    await sqs.send(new SendMessageCommand({ QueueUrl: queue.QueueUrl, MessageBody: 'poison' }));
    // Received once and made visible again at once: the next receive exceeds maxReceiveCount.
    await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: queue.QueueUrl,
        VisibilityTimeout: 0,
        WaitTimeSeconds: 1,
      }),
    );
    const afterRedrive = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queue.QueueUrl, WaitTimeSeconds: 0 }),
    );
    const dead = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: dlq.QueueUrl, WaitTimeSeconds: 1 }),
    );
    const left = await sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: queue.QueueUrl,
        AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
      }),
    );

    // Assess
    expect(queue.QueueUrl).toBe(`${fauxqs.endpoint}/000000000000/send`);
    expect(dlq.QueueUrl?.startsWith('http://127.0.0.1:')).toBe(true);
    expect(message?.Body).toBe('row-1');
    expect(afterRedrive.Messages ?? []).toEqual([]);
    expect(dead.Messages?.map((m) => m.Body)).toEqual(['poison']);
    expect(left.Attributes).toEqual({
      ApproximateNumberOfMessages: '0',
      ApproximateNumberOfMessagesNotVisible: '0',
    });
  });

  it('stops listening when stopped', async () => {
    // Prepare
    const other = await startFauxqs({ region: 'eu-west-1' });
    const port = portOf(other.endpoint);
    const acceptedBefore = await accepts('127.0.0.1', port);

    // Act
    await other.stop();

    // Assess
    expect(acceptedBefore).toBe(true);
    expect(await accepts('127.0.0.1', port)).toBe(false);
  });
});

describe('findJava', () => {
  it('finds the Java 17+ this machine has', async () => {
    // Act
    const java = await findJava();

    // Assess
    expect(java).toEqual({ ok: true, version: expect.stringMatching(/^\d+/) });
  });

  it('says in one line what to install when the command does not exist', async () => {
    // Act
    const java = await findJava('/nonexistent/bin/java-bogus');

    // Assess
    expect(java.ok).toBe(false);
    const message = java.ok ? '' : java.message;
    expect(message).not.toContain('\n');
    expect(message).toContain('/nonexistent/bin/java-bogus');
    expect(message).toContain('Java 17 or newer');
    expect(message).toContain('sudo apt-get install openjdk-17-jre-headless');
    expect(message).toContain('https://adoptium.net');
  });

  it('reads old and new version strings', () => {
    // Assess
    expect(parseJavaVersion('openjdk version "17.0.15" 2025-04-15')).toEqual({
      text: '17.0.15',
      major: 17,
    });
    expect(parseJavaVersion('java version "1.8.0_292"')).toEqual({ text: '1.8.0_292', major: 8 });
    expect(parseJavaVersion('openjdk version "21" 2023-09-19')).toEqual({ text: '21', major: 21 });
    expect(parseJavaVersion('openjdk version "11.0.2-ea"')?.major).toBe(11);
    expect(parseJavaVersion('command not found')).toBeUndefined();
  });
});

// Each test here starts a JVM or two (~1.2 s each when idle); leave room for a loaded machine.
describe('DynamoDB Local', { timeout: 60_000 }, () => {
  const startedHere: RunningStandIn[] = [];
  const scratchDirs: string[] = [];

  afterEach(async () => {
    await Promise.all(startedHere.splice(0).map((standIn) => standIn.stop()));
    await Promise.all(
      scratchDirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })),
    );
  });

  async function start(storage: 'memory' | { dataDir: string }): Promise<RunningDynamoDbLocal> {
    const dynamo = await startDynamoDbLocal({ storage });
    startedHere.push(dynamo);
    return dynamo;
  }

  function clientFor(endpoint: string): DynamoDBClient {
    return new DynamoDBClient({ ...localClientConfig(endpoint), maxAttempts: 1 });
  }

  const ledgerTable = (name: string) =>
    new CreateTableCommand({
      TableName: name,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
    });

  describe('in memory', () => {
    let dynamo: RunningDynamoDbLocal;

    beforeAll(async () => {
      dynamo = await startDynamoDbLocal({ storage: 'memory' });
    });

    afterAll(async () => {
      await dynamo?.stop();
    });

    it('fails a second conditional put with ConditionalCheckFailedException', async () => {
      // Prepare
      const client = clientFor(dynamo.endpoint);
      await client.send(ledgerTable('ledger'));
      const claim = () =>
        client.send(
          new PutItemCommand({
            TableName: 'ledger',
            Item: { pk: { S: 'BATCH#1#ROW#1' }, state: { S: 'sending' } },
            ConditionExpression: 'attribute_not_exists(pk)',
          }),
        );

      // Act
      const first = await claim();
      const second = await claim().catch((error: unknown) => error);
      client.destroy();

      // Assess
      expect(first.$metadata.httpStatusCode).toBe(200);
      expect(second).toBeInstanceOf(ConditionalCheckFailedException);
    });

    it('listens on 127.0.0.1 and, with the loopback launcher, on no other interface', async () => {
      // Prepare
      const port = portOf(dynamo.endpoint);

      // Act
      const listeners = listenersOn(port);
      const reachableElsewhere = await Promise.all(
        nonLoopbackIPv4Addresses().map((address) => accepts(address, port)),
      );

      // Assess
      expect(dynamo.endpoint).toBe(`http://127.0.0.1:${port}`);
      expect(await accepts('127.0.0.1', port)).toBe(true);
      expect(listeners).toHaveLength(1);
      if (dynamo.loopbackOnly) {
        // Java reports an IPv4 bind on a dual-stack socket as an IPv4-mapped IPv6 address.
        expect(listeners[0]).toMatch(/^(127\.0\.0\.1|\[::ffff:127\.0\.0\.1\])$/);
        expect(reachableElsewhere.every((reachable) => !reachable)).toBe(true);
      }
    });
  });

  it('with a data directory: data survives a stop and a restart', async () => {
    // Prepare
    const dataDir = await mkdtemp(join(tmpdir(), 'standins-test-ledger-'));
    scratchDirs.push(dataDir);
    const first = await start({ dataDir });
    const writer = clientFor(first.endpoint);
    await writer.send(ledgerTable('ledger'));
    await writer.send(
      new PutItemCommand({ TableName: 'ledger', Item: { pk: { S: 'BATCH#7' }, rows: { N: '3' } } }),
    );
    writer.destroy();
    await first.stop();

    // Act
    const second = await start({ dataDir });
    const reader = clientFor(second.endpoint);
    const got = await reader.send(
      new GetItemCommand({ TableName: 'ledger', Key: { pk: { S: 'BATCH#7' } } }),
    );
    reader.destroy();

    // Assess
    expect(got.Item).toEqual({ pk: { S: 'BATCH#7' }, rows: { N: '3' } });
    // Its working directory is the data directory, so nothing lands in the repository.
    expect(existsSync(join(dataDir, 'shared-local-instance.db'))).toBe(true);
  });

  it("reports a port taken by another server, in the server's own words", async () => {
    // Prepare
    const squatter = createServer((socket) => socket.destroy());
    await new Promise<void>((resolveListen) => squatter.listen(0, '127.0.0.1', resolveListen));
    const address = squatter.address();
    const port = typeof address === 'object' && address !== null ? address.port : 0;

    // Act
    const failure = await startDynamoDbLocal({ storage: 'memory', port }).catch(
      (error: unknown) => error,
    );
    await new Promise((resolveClose) => squatter.close(resolveClose));

    // Assess
    expect(failure).toBeInstanceOf(DynamoDbLocalStartError);
    expect(failure).toMatchObject({ name: 'DynamoDbLocalStartError', portInUse: true });
    expect(String((failure as Error).message)).toMatch(/exited with code 1 before answering/);
    expect(String((failure as Error).message)).toMatch(/Address already in use|Failed to bind/);
  });

  it('falls back to the plain jar, with a one-line warning, when Java has no compiler', async () => {
    // Prepare: a JRE without jdk.compiler fails `java -m jdk.compiler/...` exactly like this.
    const realJava = execFileSync('sh', ['-c', 'command -v java'], { encoding: 'utf8' }).trim();
    const jreDir = await mkdtemp(join(tmpdir(), 'standins-test-jre-'));
    scratchDirs.push(jreDir);
    const fakeJre = join(jreDir, 'java');
    await writeFile(
      fakeJre,
      [
        '#!/bin/sh',
        'case "$*" in *jdk.compiler/*)',
        '  echo "Error occurred during initialization of boot layer" >&2',
        '  echo "java.lang.module.FindException: Module jdk.compiler not found" >&2',
        '  exit 1;;',
        'esac',
        `exec ${JSON.stringify(realJava)} "$@"`,
        '',
      ].join('\n'),
    );
    await chmod(fakeJre, 0o755);
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});

    // Act
    const dynamo = await startDynamoDbLocal({ storage: 'memory', javaCommand: fakeJre });
    startedHere.push(dynamo);
    const client = clientFor(dynamo.endpoint);
    const created = await client.send(ledgerTable('ledger'));
    client.destroy();
    const warnings = warn.mock.calls.map((call) => String(call[0]));
    warn.mockRestore();

    // Assess
    expect(dynamo.loopbackOnly).toBe(false);
    expect(created.TableDescription?.TableName).toBe('ledger');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).not.toContain('\n');
    expect(warnings[0]).toContain('all network interfaces');
    expect(warnings[0]).toContain('Module jdk.compiler not found');
  });

  it('does not outlive a parent that exits or is killed without stopping it', async () => {
    // Act: both at once, to keep the file fast.
    const [afterExit, afterKill] = await Promise.all([
      startInChildThatEnds('process.exit'),
      startInChildThatEnds('SIGKILL'),
    ]);

    // Assess
    expect(await waitUntilGone(afterExit, 10_000)).toBe(true);
    expect(await waitUntilGone(afterKill, 10_000)).toBe(true);
  });

  it('stop() ends the process and leaves nothing listening', async () => {
    // Prepare
    const dynamo = await startDynamoDbLocal({ storage: 'memory' });
    const port = portOf(dynamo.endpoint);
    const aliveBefore = isAlive(dynamo.pid);

    // Act
    await dynamo.stop();

    // Assess
    expect(aliveBefore).toBe(true);
    expect(isAlive(dynamo.pid)).toBe(false);
    expect(listenersOn(port)).toEqual([]);
    expect(await accepts('127.0.0.1', port)).toBe(false);
  });
});
