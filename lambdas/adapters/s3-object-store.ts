/**
 * The ObjectStore port over Amazon S3 (and fauxqs locally: same SDK code path).
 *
 * Reads stream: an upload of any size is read a chunk at a time, never held whole in memory.
 * Writes go through `@aws-sdk/lib-storage` `Upload`: multipart for anything past one part, so neither
 * S3's 5 GiB PutObject limit nor fauxqs's 11 MiB one is ever reached, and memory stays at a few parts.
 * Encryption is the bucket's default (the stack sets it), so no ServerSideEncryption header here.
 */

import { Readable } from 'node:stream';
import {
  GetObjectCommand,
  type GetObjectCommandOutput,
  type S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import type { ObjectStore, StoredObject } from '../ports/object-store.ts';

export interface S3ObjectStoreOptions {
  client: S3Client;
}

export class S3ObjectStore implements ObjectStore {
  readonly #client: S3Client;

  constructor(options: S3ObjectStoreOptions) {
    this.#client = options.client;
  }

  async open(bucket: string, key: string): Promise<StoredObject | null> {
    let response: GetObjectCommandOutput;
    try {
      response = await this.#client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    } catch (error) {
      // An object deleted between its event and this read: the caller skips it, nothing to retry.
      if (isMissingObject(error)) return null;
      throw error;
    }
    const body = response.Body;
    if (!isAsyncIterable(body)) {
      // In Node the SDK always answers with a Readable; anything else is a broken environment.
      throw new Error(`GetObject s3://${bucket}/${key} returned no readable body`);
    }
    return {
      body,
      size: response.ContentLength ?? 0,
      eTag: unquote(response.ETag),
      versionId: response.VersionId ?? null,
    };
  }

  async write(
    bucket: string,
    key: string,
    body: AsyncIterable<string> | string,
    contentType: string,
  ): Promise<void> {
    const upload = new Upload({
      client: this.#client,
      params: {
        Bucket: bucket,
        Key: key,
        Body: Readable.from(utf8Chunks(body)),
        ContentType: contentType,
      },
    });
    await upload.done();
  }
}

/** Text chunks as UTF-8 bytes; `Upload` cuts them into parts itself. */
async function* utf8Chunks(body: AsyncIterable<string> | string): AsyncGenerator<Buffer> {
  if (typeof body === 'string') {
    yield Buffer.from(body, 'utf8');
    return;
  }
  for await (const text of body) {
    if (text !== '') yield Buffer.from(text, 'utf8');
  }
}

function isMissingObject(error: unknown): boolean {
  if (!(error instanceof S3ServiceException)) return false;
  // NoSuchKey is GetObject's answer; a plain 404 (NotFound) is what S3 sends when the caller may not
  // list the bucket, and what some stand-ins send. NoSuchBucket is a configuration error: not null.
  return (
    error.name === 'NoSuchKey' ||
    (error.$metadata.httpStatusCode === 404 && error.name !== 'NoSuchBucket')
  );
}

function isAsyncIterable(value: unknown): value is AsyncIterable<Uint8Array> {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as Partial<AsyncIterable<unknown>>)[Symbol.asyncIterator] === 'function'
  );
}

/** S3 sends the ETag as a quoted string (`"abc…"`, or `W/"…"` through some proxies). */
function unquote(eTag: string | undefined): string | null {
  if (eTag === undefined || eTag === '') return null;
  return eTag.replace(/^W\//, '').replace(/^"(.*)"$/, '$1');
}
