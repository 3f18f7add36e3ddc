import { describe, expect, it } from 'vitest';
import { batchIdForObject } from '../../../lambdas/core/batch-id.ts';
import {
  couldExceedRowLimit,
  LOCAL_VALIDATION_ERROR_TYPE,
  SplitService,
} from '../../../lambdas/core/split-service.ts';
import { InMemoryLedger } from '../../support/in-memory-ledger.ts';
import {
  InMemoryObjectStore,
  RecordingContinuations,
  RecordingSendQueue,
} from '../../support/in-memory-ports.ts';

const CAMPAIGN = '11111111-1111-4111-8111-111111111111';
const T0 = Date.parse('2026-11-22T10:00:00.000Z');

function setUp(settings: Partial<{ maxRows: number; chunkSize: number }> = {}) {
  const ledger = new InMemoryLedger();
  const objects = new InMemoryObjectStore();
  const queue = new RecordingSendQueue();
  const continuations = new RecordingContinuations();
  const service = new SplitService({
    ledger,
    objects,
    queue,
    continuations,
    clock: { now: () => T0 },
    settings: {
      defaultCampaignId: null,
      maxRows: 100_000,
      chunkSize: 2,
      handOverWhenRemainingMs: 1_000,
      ...settings,
    },
  });
  return { ledger, objects, queue, continuations, service };
}

const object = (key: string) => ({ bucket: 'uploads', key, versionId: null, eTag: 'e1' });

describe('SplitService', () => {
  it('records every row, queues only the valid ones, and closes the split with totals', async () => {
    // Prepare
    const { ledger, objects, queue, service } = setUp();
    objects.put(
      'uploads',
      'uploads/staff.csv',
      [
        'campaign_id,first_name,last_name,email',
        `${CAMPAIGN},Alice,Smith,alice@example.com`,
        `${CAMPAIGN},Bob,,bob@example.com`,
        `${CAMPAIGN},Chloé,Dubois,`,
      ].join('\r\n'),
    );

    // Act
    const result = await service.split(object('uploads/staff.csv'));

    // Assess
    expect(result).toMatchObject({ kind: 'split', rows: 3, valid: 2, invalid: 1, fileError: null });
    const batchId = result.batchId;
    expect(queue.sent.map((sent) => sent.message)).toEqual([
      { batchId, row: 1 },
      { batchId, row: 3 },
    ]);
    const invalid = await ledger.getRow(batchId, 2);
    expect(invalid).toMatchObject({ state: 'invalid', line: 3, body: null });
    expect(invalid?.errors).toEqual([
      {
        type: LOCAL_VALIDATION_ERROR_TYPE,
        code: 'required',
        param: 'recipient.last_name',
        message: 'line 3, column "last_name": is required',
      },
    ]);
    expect((await ledger.getRow(batchId, 3))?.body).toEqual({
      campaign_id: CAMPAIGN,
      recipient: { first_name: 'Chloé', last_name: 'Dubois' },
    });
    const batch = await ledger.getBatch(batchId);
    expect(batch).toMatchObject({ phase: 'sending', fileError: null });
    expect(batch?.counts).toMatchObject({ rows: 3, valid: 2, invalid: 1 });
  });

  it('does nothing for a duplicate event of the same object', async () => {
    // Prepare
    const { objects, queue, service } = setUp();
    objects.put('uploads', 'uploads/a.csv', `campaign_id,first_name,last_name\n${CAMPAIGN},A,B\n`);
    await service.split(object('uploads/a.csv'));

    // Act
    const again = await service.split(object('uploads/a.csv'));

    // Assess
    expect(again.kind).toBe('duplicate');
    expect(queue.sent).toHaveLength(1);
  });

  it('takes the campaign from the upload key when the file has none', async () => {
    // Prepare
    const { ledger, objects, service } = setUp();
    objects.put('uploads', `uploads/${CAMPAIGN}/team.csv`, 'First Name,Last Name\nAna,Lima\n');

    // Act
    const result = await service.split(object(`uploads/${CAMPAIGN}/team.csv`));

    // Assess
    expect((await ledger.getRow(result.batchId, 1))?.body?.campaign_id).toBe(CAMPAIGN);
  });

  it('keeps and sends the rows read before the file turned unreadable, and says why it stopped', async () => {
    // Prepare
    const { ledger, objects, queue, service } = setUp();
    objects.put(
      'uploads',
      'uploads/broken.csv',
      `campaign_id,first_name,last_name\n${CAMPAIGN},A,B\n${CAMPAIGN},C,D\n${CAMPAIGN},"E,F\n`,
    );

    // Act
    const result = await service.split(object('uploads/broken.csv'));

    // Assess
    expect(result).toMatchObject({ kind: 'split', rows: 2, valid: 2 });
    expect(queue.sent).toHaveLength(2);
    const batch = await ledger.getBatch(result.batchId);
    expect(batch?.fileError).toMatch(/line 4/);
    expect(batch?.phase).toBe('sending');
  });

  it('records a batch for an object deleted before it could be read', async () => {
    // Prepare
    const { ledger, service } = setUp();

    // Act
    const result = await service.split(object('uploads/gone.csv'));

    // Assess
    expect(result.kind).toBe('gone');
    expect((await ledger.getBatch(result.batchId))?.fileError).toMatch(/deleted/);
  });

  describe('the row limit', () => {
    const rows = (count: number) =>
      `campaign_id,first_name,last_name\n${Array.from({ length: count }, (_, i) => `${CAMPAIGN},A${i},B\n`).join('')}`;

    it('refuses a file one row over the limit whole: no row recorded, none queued', async () => {
      // Prepare
      const { ledger, objects, queue, service } = setUp({ maxRows: 3 });
      objects.put('uploads', 'uploads/big.csv', rows(4));

      // Act
      const result = await service.split(object('uploads/big.csv'));

      // Assess
      expect(result).toMatchObject({ kind: 'split', rows: 0, valid: 0, invalid: 0 });
      expect(queue.sent).toEqual([]);
      expect(ledger.rows.size).toBe(0);
      const batch = await ledger.getBatch(result.batchId);
      expect(batch?.fileError).toBe(
        'the file has more than 3 data rows (the limit per file); split it, or raise the limit with --max-rows / MAX_ROWS_PER_FILE',
      );
      expect(batch).toMatchObject({ phase: 'sending', counts: { rows: 0, valid: 0, invalid: 0 } });
    });

    it('takes a file of exactly the limit, and one just under it, whole', async () => {
      // Prepare
      const { ledger, objects, queue, service } = setUp({ maxRows: 3 });
      objects.put('uploads', 'uploads/at.csv', rows(3));
      objects.put('uploads', 'uploads/under.csv', rows(2));

      // Act
      const at = await service.split(object('uploads/at.csv'));
      const under = await service.split(object('uploads/under.csv'));

      // Assess
      expect(at).toMatchObject({ kind: 'split', rows: 3, valid: 3, fileError: null });
      expect(under).toMatchObject({ kind: 'split', rows: 2, valid: 2, fileError: null });
      expect(queue.sent).toHaveLength(5);
      expect((await ledger.getBatch(at.batchId))?.counts.rows).toBe(3);
    });

    it('refuses a huge file after counting only up to the limit', async () => {
      // Prepare
      const { ledger, objects, queue, service } = setUp({ maxRows: 1_000 });
      objects.put('uploads', 'uploads/huge.csv', rows(50_000));

      // Act
      const result = await service.split(object('uploads/huge.csv'));

      // Assess
      expect(result).toMatchObject({ rows: 0, summary: { rows: 1_000, finished: false } });
      expect(queue.sent).toEqual([]);
      expect(ledger.rows.size).toBe(0);
    });

    it('still keeps the rows before a broken line in a file counted first', async () => {
      // Prepare
      const { objects, queue, service } = setUp({ maxRows: 3 });
      objects.put('uploads', 'uploads/broken.csv', `${rows(2)}${CAMPAIGN},"E,F\n`);

      // Act
      const result = await service.split(object('uploads/broken.csv'));

      // Assess
      expect(result).toMatchObject({
        kind: 'split',
        rows: 2,
        fileError: expect.stringMatching(/line 4/),
      });
      expect(queue.sent).toHaveLength(2);
    });

    it('counts only objects big enough to hold more rows than the limit', () => {
      // Assess
      expect(couldExceedRowLimit(200_000, 100_000)).toBe(false);
      expect(couldExceedRowLimit(200_001, 100_000)).toBe(true);
    });
  });
});

describe('batchIdForObject', () => {
  it('is stable for one object and different for another version of it', async () => {
    // Act
    const first = await batchIdForObject(object('uploads/Staff List 2026.csv'));
    const same = await batchIdForObject(object('uploads/Staff List 2026.csv'));
    const changed = await batchIdForObject({
      ...object('uploads/Staff List 2026.csv'),
      eTag: 'e2',
    });

    // Assess
    expect(first).toBe(same);
    expect(first).not.toBe(changed);
    expect(first).toMatch(/^staff-list-2026-[0-9a-f]{12}$/);
  });
});
