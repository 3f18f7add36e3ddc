/**
 * S3ObjectStore against real fauxqs (S3 on 127.0.0.1, a free port), through the real SDK client.
 */

import { createHash, randomBytes } from 'node:crypto';
import {
  CreateBucketCommand,
  DeleteObjectCommand,
  HeadObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { S3ObjectStore } from '../../lambdas/adapters/s3-object-store.ts';
import { localClientConfig, type RunningStandIn, startFauxqs } from '../../local/standins/index.ts';

const MiB = 1024 * 1024;
const BUCKET = 'gift-batch-objects';

let fauxqs: RunningStandIn;
let client: S3Client;
let store: S3ObjectStore;

beforeAll(async () => {
  fauxqs = await startFauxqs();
  client = new S3Client(localClientConfig(fauxqs.endpoint));
  store = new S3ObjectStore({ client });
  await client.send(new CreateBucketCommand({ Bucket: BUCKET }));
});

afterAll(async () => {
  client?.destroy();
  await fauxqs?.stop();
});

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Puts an object with the SDK directly, so reads are tested independently of `write`. */
async function putObject(key: string, body: Buffer): Promise<void> {
  await new Upload({ client, params: { Bucket: BUCKET, Key: key, Body: body } }).done();
}

describe('S3ObjectStore.open', () => {
  it('streams a 12 MiB object in many chunks, byte-exact, with size and unquoted eTag', async () => {
    // Prepare
    const content = randomBytes(12 * MiB);
    await putObject('uploads/big.bin', content);

    // Act
    const opened = await store.open(BUCKET, 'uploads/big.bin');
    const hash = createHash('sha256');
    let chunks = 0;
    let largestChunk = 0;
    let total = 0;
    for await (const chunk of opened?.body ?? []) {
      chunks += 1;
      largestChunk = Math.max(largestChunk, chunk.byteLength);
      total += chunk.byteLength;
      hash.update(chunk);
    }

    // Assess
    expect(opened).not.toBeNull();
    expect(opened?.size).toBe(12 * MiB);
    expect(total).toBe(12 * MiB);
    expect(hash.digest('hex')).toBe(sha256(content));
    // Streamed: the body arrived in pieces, none of them the whole object.
    expect(chunks).toBeGreaterThan(1);
    expect(largestChunk).toBeLessThan(12 * MiB);
    expect(opened?.eTag).toMatch(/^[0-9a-f]{32}(-\d+)?$/);
    expect(opened?.versionId).toBeNull();
  });

  it('answers null for a key that does not exist', async () => {
    // Prepare
    const key = 'uploads/never-written.csv';

    // Act
    const opened = await store.open(BUCKET, key);

    // Assess
    expect(opened).toBeNull();
  });

  it('answers null for an object deleted between its event and its read', async () => {
    // Prepare
    await putObject('uploads/deleted.csv', Buffer.from('a,b\r\n1,2\r\n'));
    await client.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: 'uploads/deleted.csv' }));

    // Act
    const opened = await store.open(BUCKET, 'uploads/deleted.csv');

    // Assess
    expect(opened).toBeNull();
  });

  it('throws, rather than answering null, when the bucket itself does not exist', async () => {
    // Prepare
    const missingBucket = 'no-such-bucket-here';

    // Act
    const opening = store.open(missingBucket, 'uploads/a.csv');

    // Assess
    await expect(opening).rejects.toMatchObject({ name: 'NoSuchBucket' });
  });
});

describe('S3ObjectStore.write', () => {
  it('writes a 15 MiB AsyncIterable body as a multipart upload, read back byte-exact', async () => {
    // Prepare: lines with multi-byte characters, so UTF-8 encoding across chunk edges is checked.
    const line = 'row,Zoë,Łukasz,naïve café ☕,😀 gift\r\n';
    const lineBytes = Buffer.byteLength(line, 'utf8');
    const lines = Math.ceil((15 * MiB) / lineBytes);
    async function* csv(): AsyncGenerator<string> {
      for (let index = 0; index < lines; index += 1) yield line;
    }
    const expected = Buffer.from(line.repeat(lines), 'utf8');

    // Act
    await store.write(BUCKET, 'results/big.csv', csv(), 'text/csv; charset=utf-8');
    const opened = await store.open(BUCKET, 'results/big.csv');
    const parts: Uint8Array[] = [];
    for await (const chunk of opened?.body ?? []) parts.push(chunk);
    const head = await client.send(
      new HeadObjectCommand({ Bucket: BUCKET, Key: 'results/big.csv' }),
    );

    // Assess
    expect(expected.byteLength).toBeGreaterThanOrEqual(15 * MiB);
    expect(opened?.size).toBe(expected.byteLength);
    expect(sha256(Buffer.concat(parts))).toBe(sha256(expected));
    // A multipart object's ETag ends in -<part count>; more than one part was uploaded.
    expect(opened?.eTag).toMatch(/^[0-9a-f]{32}-([2-9]|\d{2,})$/);
    expect(head.ContentType).toBe('text/csv; charset=utf-8');
  });

  it('writes a string body', async () => {
    // Prepare
    const text = '\uFEFFrow,outcome\r\n1,created\r\n';

    // Act
    await store.write(BUCKET, 'results/small.csv', text, 'text/csv');
    const opened = await store.open(BUCKET, 'results/small.csv');
    const parts: Uint8Array[] = [];
    for await (const chunk of opened?.body ?? []) parts.push(chunk);

    // Assess
    expect(Buffer.concat(parts).toString('utf8')).toBe(text);
    expect(opened?.eTag).toMatch(/^[0-9a-f]{32}$/);
  });

  it('writes an empty iterable as an empty object', async () => {
    // Prepare
    async function* nothing(): AsyncGenerator<string> {}

    // Act
    await store.write(BUCKET, 'results/empty.csv', nothing(), 'text/csv');
    const opened = await store.open(BUCKET, 'results/empty.csv');

    // Assess
    expect(opened?.size).toBe(0);
  });
});
