import { describe, expect, it } from 'vitest';
import { uploadedObjectOf } from '../../../lambdas/handlers/s3-records.ts';
import { s3ObjectCreatedEvent } from '../../../local/lambda/index.ts';

describe('uploadedObjectOf', () => {
  it.each([
    'uploads/Staff List 2026.csv',
    'uploads/a+b=c.csv',
    'uploads/100%/données €.csv',
    'uploads/11111111-1111-4111-8111-111111111111/x.jsonl',
  ])('reads back the key %s exactly as the local runtime (and S3) encodes it', (key) => {
    // Prepare
    const event = s3ObjectCreatedEvent({
      bucket: 'b',
      key,
      size: 1,
      eTag: '"abc"',
      versionId: 'v1',
    });
    const record = event.Records[0];
    if (!record) throw new Error('no record');

    // Act
    const object = uploadedObjectOf(record);

    // Assess
    expect(object).toEqual({ bucket: 'b', key, versionId: 'v1', eTag: 'abc' });
  });
});
