import type { S3EventRecord } from 'aws-lambda';
import type { UploadedObject } from '../core/split-service.ts';

/** The uploaded object an S3 event record names (its key URL-decoded, as S3 encodes it). */
export function uploadedObjectOf(record: S3EventRecord): UploadedObject {
  return {
    bucket: record.s3.bucket.name,
    key: decodeS3Key(record.s3.object.key),
    versionId: record.s3.object.versionId ?? null,
    eTag: record.s3.object.eTag ?? null,
  };
}

/** S3 event keys are URL-encoded, with spaces as '+'. */
export function decodeS3Key(key: string): string {
  return decodeURIComponent(key.replace(/\+/g, ' '));
}
