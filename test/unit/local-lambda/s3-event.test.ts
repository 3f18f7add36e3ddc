import { describe, expect, it } from 'vitest';
import { decodeS3Key, encodeS3Key, s3ObjectCreatedEvent } from '../../../local/lambda/index.ts';

describe('s3ObjectCreatedEvent', () => {
  it('builds the record S3 sends for a PutObject', () => {
    // Prepare
    const eventTime = new Date('2026-05-14T10:11:12.345Z');

    // Act
    const event = s3ObjectCreatedEvent({
      bucket: 'gift-batch-ingest',
      key: 'uploads/camp_1/march list.csv',
      size: 1234,
      eTag: '"0123456789abcdef0123456789abcdef"',
      eventTime,
    });

    // Assess
    expect(event.Records).toHaveLength(1);
    const record = event.Records[0];
    expect(record).toMatchObject({
      eventVersion: '2.1',
      eventSource: 'aws:s3',
      awsRegion: 'us-east-1',
      eventTime: '2026-05-14T10:11:12.345Z',
      eventName: 'ObjectCreated:Put',
      s3: {
        s3SchemaVersion: '1.0',
        bucket: { name: 'gift-batch-ingest', arn: 'arn:aws:s3:::gift-batch-ingest' },
        object: {
          key: 'uploads/camp_1/march+list.csv',
          size: 1234,
          eTag: '0123456789abcdef0123456789abcdef',
        },
      },
    });
    expect(Object.keys(record ?? {})).toEqual([
      'eventVersion',
      'eventSource',
      'awsRegion',
      'eventTime',
      'eventName',
      'userIdentity',
      'requestParameters',
      'responseElements',
      's3',
    ]);
    expect(Object.keys(record?.s3.object ?? {})).toEqual(['key', 'size', 'eTag', 'sequencer']);
    expect(record?.s3.object.sequencer).toMatch(/^[0-9A-F]{18}$/);
    expect(Object.keys(record?.responseElements ?? {})).toEqual(['x-amz-request-id', 'x-amz-id-2']);
  });

  it('names a multipart upload CompleteMultipartUpload and carries the version id', () => {
    // Prepare
    const options = {
      bucket: 'b',
      key: 'k.csv',
      size: 50 * 1024 * 1024,
      eTag: '"d41d8cd98f00b204e9800998ecf8427e-5"',
      versionId: '3HL4kqtJlcpXroDTDmjVBH40Nrjfkd',
      region: 'eu-west-1',
    };

    // Act
    const record = s3ObjectCreatedEvent(options).Records[0];

    // Assess
    expect(record?.eventName).toBe('ObjectCreated:CompleteMultipartUpload');
    expect(record?.awsRegion).toBe('eu-west-1');
    expect(record?.s3.object.versionId).toBe('3HL4kqtJlcpXroDTDmjVBH40Nrjfkd');
    expect(record?.s3.object.eTag).toBe('d41d8cd98f00b204e9800998ecf8427e-5');
  });

  it('gives later events greater sequencers', () => {
    // Prepare
    const options = { bucket: 'b', key: 'k', size: 1, eTag: 'e', eventTime: new Date(0) };

    // Act
    const first = s3ObjectCreatedEvent(options).Records[0]?.s3.object.sequencer ?? '';
    const second = s3ObjectCreatedEvent(options).Records[0]?.s3.object.sequencer ?? '';

    // Assess
    expect(second > first).toBe(true);
  });
});

describe('S3 event keys', () => {
  it.each([
    ['red flower.jpg', 'red+flower.jpg'],
    ['a+b.csv', 'a%2Bb.csv'],
    ['100%.csv', '100%25.csv'],
    ['uploads/camp_1/list.csv', 'uploads/camp_1/list.csv'],
    ['café.csv', 'caf%C3%A9.csv'],
    ['list (1).csv', 'list+%281%29.csv'],
    ['a=b&c.csv', 'a%3Db%26c.csv'],
  ])('encodes %j as S3 does: %j', (key, encoded) => {
    // Act
    const result = encodeS3Key(key);

    // Assess
    expect(result).toBe(encoded);
  });

  it.each([
    'march list.csv',
    'a+b c.csv',
    '100% sure.csv',
    '%2B literally.csv',
    'uploads/camp_1/Grüße 🎁 日本.csv',
    "it's (really) ~*!.csv",
    '  two  spaces  ',
  ])('round-trips %j through the event', (key) => {
    // Prepare
    const event = s3ObjectCreatedEvent({ bucket: 'b', key, size: 1, eTag: 'e' });

    // Act
    const decoded = decodeS3Key(event.Records[0]?.s3.object.key ?? '');

    // Assess
    expect(decoded).toBe(key);
  });
});
