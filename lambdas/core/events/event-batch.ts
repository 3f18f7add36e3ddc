import type { BatchSource } from '../../ports/ledger.ts';

/**
 * Event-sourced rows join the ledger in one batch per UTC day, `events-2026-11-22`, numbered by an
 * atomic counter on the batch item in the order they arrive. So status, the poller, completion and
 * the results file, and the finance export (by campaign) see them as they see a file's rows.
 */
const PREFIX = 'events-';
const DAY_MS = 86_400_000;
/**
 * An event batch takes new rows all day; its results are written once the day is over and this
 * long has passed, so an event numbered just before midnight has landed before the results are.
 */
export const EVENT_BATCH_GRACE_MS = 10 * 60_000;

export function eventBatchIdOf(nowMs: number): string {
  return `${PREFIX}${new Date(nowMs).toISOString().slice(0, 10)}`;
}

export function isEventBatch(batchId: string): boolean {
  return /^events-\d{4}-\d{2}-\d{2}$/.test(batchId);
}

export function eventBatchSource(batchId: string): BatchSource {
  return {
    description: `events of ${batchId.slice(PREFIX.length)} (UTC)`,
    bucket: null,
    key: null,
    versionOrEtag: null,
  };
}

/** False while an event batch may still take rows; always true for a file's batch. */
export function mayComplete(batchId: string, nowMs: number): boolean {
  if (!isEventBatch(batchId)) return true;
  const dayStart = Date.parse(`${batchId.slice(PREFIX.length)}T00:00:00.000Z`);
  return nowMs >= dayStart + DAY_MS + EVENT_BATCH_GRACE_MS;
}
