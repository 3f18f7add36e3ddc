import { randomBytes, randomUUID } from 'node:crypto';
import type { S3Event } from 'aws-lambda';
import { LOCAL_LAMBDA_REGION } from './context.ts';

export type S3ObjectCreatedEventName =
  | 'ObjectCreated:Put'
  | 'ObjectCreated:CompleteMultipartUpload';

export interface S3ObjectCreatedOptions {
  bucket: string;
  /** The object key as stored (not encoded); the record carries it URL-encoded, as S3 does. */
  key: string;
  size: number;
  /** As S3 returns it (quoted or not). A multipart ETag (`…-N`) implies CompleteMultipartUpload. */
  eTag: string;
  versionId?: string;
  /** Defaults to us-east-1. */
  region?: string;
  /** Defaults to now. */
  eventTime?: Date;
  /** Defaults to what the ETag implies. */
  eventName?: S3ObjectCreatedEventName;
}

/** Local stand-in identities: shaped like the real ones, meaning nothing. */
const LOCAL_PRINCIPAL = 'AWS:AIDALOCALGIFTBATCH0000';
const LOCAL_OWNER = 'A000000000000LOCAL';
const LOCAL_SOURCE_IP = '127.0.0.1';

let sequence = 0n;

/**
 * The S3 event notification S3 sends to Lambda for a created object (event version 2.1). The
 * local runtime builds it itself because fauxqs accepts bucket notifications but never fires them.
 */
export function s3ObjectCreatedEvent(options: S3ObjectCreatedOptions): S3Event {
  const eventTime = options.eventTime ?? new Date();
  const eTag = options.eTag.replaceAll('"', '');
  const eventName =
    options.eventName ??
    (/-\d+$/.test(eTag) ? 'ObjectCreated:CompleteMultipartUpload' : 'ObjectCreated:Put');
  return {
    Records: [
      {
        eventVersion: '2.1',
        eventSource: 'aws:s3',
        awsRegion: options.region ?? LOCAL_LAMBDA_REGION,
        eventTime: eventTime.toISOString(),
        eventName,
        userIdentity: { principalId: LOCAL_PRINCIPAL },
        requestParameters: { sourceIPAddress: LOCAL_SOURCE_IP },
        responseElements: {
          'x-amz-request-id': randomBytes(8).toString('hex').toUpperCase(),
          'x-amz-id-2': randomBytes(48).toString('base64'),
        },
        s3: {
          s3SchemaVersion: '1.0',
          configurationId: randomUUID(),
          bucket: {
            name: options.bucket,
            ownerIdentity: { principalId: LOCAL_OWNER },
            arn: `arn:aws:s3:::${options.bucket}`,
          },
          object: {
            key: encodeS3Key(options.key),
            size: options.size,
            eTag,
            ...(options.versionId === undefined ? {} : { versionId: options.versionId }),
            sequencer: nextSequencer(eventTime),
          },
        },
      },
    ],
  };
}

/**
 * How S3 writes an object key into an event: `application/x-www-form-urlencoded` (spaces become
 * `+`, everything but letters, digits and `*-._` percent-encoded as UTF-8), with `/` left as is.
 */
export function encodeS3Key(key: string): string {
  return encodeURIComponent(key)
    .replace(/[!'()~]/g, (char) => `%${char.charCodeAt(0).toString(16).toUpperCase()}`)
    .replaceAll('%20', '+')
    .replaceAll('%2F', '/');
}

/**
 * The object key from an S3 event record: `+` back to a space first, then percent-decoding, so a
 * literal `+` (sent as `%2B`) survives.
 */
export function decodeS3Key(encodedKey: string): string {
  return decodeURIComponent(encodedKey.replaceAll('+', ' '));
}

/**
 * S3's sequencer: hexadecimal, and for one key a later event has a greater value (compared after
 * padding to the same length), which is how consumers order events.
 */
function nextSequencer(at: Date): string {
  sequence = (sequence + 1n) % 1_000_000n;
  const value = BigInt(at.getTime()) * 1_000_000n + sequence;
  return value.toString(16).toUpperCase().padStart(18, '0');
}
