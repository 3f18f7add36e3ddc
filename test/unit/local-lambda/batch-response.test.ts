import type { SQSRecord } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { InvalidBatchResponseError, readBatchResponse } from '../../../local/lambda/index.ts';

/** Only messageId matters to readBatchResponse. */
const records = ['m-1', 'm-2', 'm-3'].map((messageId) => ({ messageId }) as SQSRecord);
const ALL = ['m-1', 'm-2', 'm-3'];

describe('readBatchResponse (how Lambda reads ReportBatchItemFailures)', () => {
  it.each([
    ['nothing', undefined],
    ['null', null],
    ['an empty object', {}],
    ['null batchItemFailures', { batchItemFailures: null }],
    ['empty batchItemFailures', { batchItemFailures: [] }],
  ])('reads %s as complete success', (_label, result) => {
    // Act
    const verdict = readBatchResponse(result, records);

    // Assess
    expect(verdict).toEqual({ failed: [] });
  });

  it('keeps exactly the listed messages, in batch order', () => {
    // Prepare
    const result = { batchItemFailures: [{ itemIdentifier: 'm-3' }, { itemIdentifier: 'm-1' }] };

    // Act
    const verdict = readBatchResponse(result, records);

    // Assess
    expect(verdict).toEqual({ failed: ['m-1', 'm-3'] });
  });

  it.each([
    [
      'an itemIdentifier of no message in the batch',
      { batchItemFailures: [{ itemIdentifier: 'other' }] },
    ],
    ['an empty itemIdentifier', { batchItemFailures: [{ itemIdentifier: '' }] }],
    ['a null itemIdentifier', { batchItemFailures: [{ itemIdentifier: null }] }],
    ['a misnamed key', { batchItemFailures: [{ itemId: 'm-1' }] }],
    ['a null entry', { batchItemFailures: [null] }],
    ['batchItemFailures that is not a list', { batchItemFailures: 'm-1' }],
    ['a result that is not an object', 'ok'],
    ['a list', [{ itemIdentifier: 'm-1' }]],
  ])('reads %s as failure of the whole batch', (_label, result) => {
    // Act
    const verdict = readBatchResponse(result, records);

    // Assess
    expect(verdict.failed).toEqual(ALL);
    expect(verdict.error).toBeInstanceOf(InvalidBatchResponseError);
  });

  it('reads a result that cannot be serialized as failure of the whole batch', () => {
    // Prepare
    const circular: Record<string, unknown> = { batchItemFailures: [] };
    circular.self = circular;

    // Act
    const verdict = readBatchResponse(circular, records);

    // Assess
    expect(verdict.failed).toEqual(ALL);
    expect(verdict.error?.message).toMatch(/serialized/);
  });

  it('reads the result as JSON, as Lambda receives it (toJSON applies)', () => {
    // Prepare
    const result = { toJSON: () => ({ batchItemFailures: [{ itemIdentifier: 'm-2' }] }) };

    // Act
    const verdict = readBatchResponse(result, records);

    // Assess
    expect(verdict).toEqual({ failed: ['m-2'] });
  });
});
