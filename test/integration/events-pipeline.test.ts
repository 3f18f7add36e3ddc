import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { outcomeEventOf } from '../../lambdas/core/events/outcome-events.ts';
import { batchIdOfUpload, type LocalPipeline } from '../../local/runtime/local-pipeline.ts';
import { DEMO_CAMPAIGNS } from '../../sandbox/index.ts';
import { validEvent } from '../support/gift-events.ts';
import {
  type ScratchPipeline,
  startScratchPipeline,
  TIGHT_UNANNOUNCED_LIMIT,
} from '../support/scratch-pipeline.ts';

const EVENTS = 20;

describe('gift events and a file batch through one local pipeline, under one rate limit', () => {
  let scratch: ScratchPipeline;
  let dir: string;
  let pipeline: LocalPipeline;

  beforeAll(async () => {
    // File rows and events must share a limit &Open does not announce.
    scratch = await startScratchPipeline('events', TIGHT_UNANNOUNCED_LIMIT);
    ({ dir, pipeline } = scratch);
  }, 90_000);

  afterAll(async () => {
    await scratch?.stop();
  });

  it('creates every file row and one gift per event key, however often the event is delivered', async () => {
    // Prepare
    const sandbox = pipeline.sandbox;
    if (!sandbox) throw new Error('the sandbox should be running');
    const file = join(dir, 'staff.csv');
    const rows = Array.from({ length: 30 }, (_, i) => `${DEMO_CAMPAIGNS.choice},File,Row${i + 1}`);
    await writeFile(file, ['campaign_id,first_name,last_name', ...rows].join('\n'));
    const events = Array.from({ length: EVENTS }, (_, i) =>
      validEvent({
        idempotency_key: `evt-${i + 1}`,
        campaign_id: DEMO_CAMPAIGNS.choice,
        recipient: { first_name: 'Event', last_name: `Key${i + 1}` },
        external_id: `ext-${i + 1}`,
      }),
    );
    // Every event twice straight on the queue, and once more through EventBridge's envelope.
    const bodies = [
      ...events.map((event) => JSON.stringify(event)),
      ...events.map((event) => JSON.stringify(event)),
      ...events.map((event) =>
        JSON.stringify({ 'detail-type': 'Gift Requested', source: 'crm', detail: event }),
      ),
    ];

    // Act
    const upload = await pipeline.upload(file);
    const batchId = await batchIdOfUpload(upload);
    await Promise.all([pipeline.split(upload), pipeline.putIntakeMessages(bodies)]);
    const batch = await pipeline.waitForBatch(batchId, () => undefined, { everyMs: 250 });
    const eventRows = await waitForOutcomes(
      pipeline,
      events.map((event) => String(event.idempotency_key)),
    );

    // Assess: the file.
    expect(batch.counts).toMatchObject({ rows: 30, created: 30, unknown: 0 });
    // The events: one row and one created gift per key.
    expect(new Set(eventRows.map((row) => `${row.batchId}#${row.row}`)).size).toBe(EVENTS);
    for (const row of eventRows) expect(row.state).toBe('created');
    const giftsOf = (lastName: string) =>
      sandbox.journal.gifts.filter(
        (gift) =>
          (gift.body as { recipient: { last_name: string } }).recipient.last_name === lastName,
      );
    for (let i = 1; i <= EVENTS; i += 1) expect(giftsOf(`Key${i}`), `Key${i}`).toHaveLength(1);
    const posts = sandbox.journal.requests.filter(
      (request) => request.method === 'POST' && request.status === 201,
    );
    expect(posts).toHaveLength(30 + EVENTS);
    // One limit for both: &Open's 429s sent rows back to wait, never to a dead-letter queue.
    // (Requests already in flight when a 429 arrives may land before its Retry-After has passed:
    // the sandbox journal counts them as early; that is the shared limiter's race, not this path's.)
    expect(await pipeline.deadLetterCount()).toBe(0);
    expect(await pipeline.intakeDeadLetterCount()).toBe(0);
    // Producers heard back: a GiftRequestCreated per key, always naming the same gift.
    const published = (await readFile(pipeline.outcomeEventsFile, 'utf8'))
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    for (const row of eventRows) {
      const mine = published.filter((event) => event.detail.idempotency_key === row.idempotencyKey);
      expect(mine.length, String(row.idempotencyKey)).toBeGreaterThanOrEqual(1);
      for (const event of mine) {
        expect(event['detail-type']).toBe('GiftRequestCreated');
        expect(event.detail.gift_request_id).toBe(row.giftRequestId);
      }
    }
  }, 240_000);
});

/** Follows each key's row in the ledger until it has its outcome (as `gift-batch send` does). */
async function waitForOutcomes(pipeline: LocalPipeline, keys: string[]) {
  for (;;) {
    const rows = await Promise.all(
      keys.map(async (key) => {
        const known = await pipeline.ledger.findIdempotencyKey(key);
        return known ? pipeline.ledger.getRow(known.batchId, known.row) : null;
      }),
    );
    const decided = rows.filter((row) => row !== null && outcomeEventOf(row, 'now') !== null);
    if (decided.length === keys.length) return decided.flatMap((row) => (row ? [row] : []));
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}
