/**
 * Rows and batches for the core's unit tests, recorded through the Ledger port as the services
 * record them: a split file's batch, its pending rows, and the answers sends got.
 */
import type { Ledger, NewRow, RowRecord, SendRecord } from '../../lambdas/ports/ledger.ts';

/** A valid pending row of batch `b1` (external id E<row>, campaign `c`, recipient A B). */
export function newRow(row: number, overrides: Partial<NewRow> = {}): NewRow {
  return {
    batchId: 'b1',
    row,
    line: row + 1,
    state: 'pending',
    echo: { externalId: `E${row}`, campaignId: 'c', firstName: 'A', lastName: 'B', email: null },
    body: { campaign_id: 'c', recipient: { first_name: 'A', last_name: 'B' } },
    errors: [],
    ...overrides,
  };
}

/** A row as the ledger holds it once recorded at `at`: nothing sent, followed or released yet. */
export function recordOf(row: NewRow, at: string): RowRecord {
  return {
    ...structuredClone(row),
    idempotencyKey: row.idempotencyKey ?? null,
    metadata: row.metadata ? { ...row.metadata } : null,
    giftRequestId: null,
    giftStatus: null,
    redemptionUrl: null,
    requestId: null,
    sentAt: null,
    unknownReason: null,
    releasedFromUnknownAt: null,
    previousUnknownReason: null,
    previousRequestId: null,
    giftCreatedAt: null,
    giftUpdatedAt: null,
    createdAt: at,
    updatedAt: at,
    pollDueAt: null,
    pollDeadlineAt: null,
  };
}

/** Creates batch `batchId` as the splitter does for an uploaded file named by `description`. */
export async function createFileBatch(
  ledger: Ledger,
  batchId: string,
  createdAt: string,
  description = 's3://u/k',
): Promise<void> {
  await ledger.createBatch({
    batchId,
    source: { description, bucket: 'u', key: 'k', versionOrEtag: 'e' },
    createdAt,
  });
}

/** A sender's send of one row: it claims the row, then records the answer, both at `at`. */
export async function recordSent(
  ledger: Ledger,
  batchId: string,
  row: number,
  answer: SendRecord,
  at: string,
): Promise<void> {
  await ledger.claimRow(batchId, row, at);
  await ledger.recordSend(batchId, row, answer, at);
}

/**
 * &Open's answer to a create: the gift (`submitted` unless told) at `at`, with its link, or without
 * one and the poller's times to look for it.
 */
export function createdAnswer(answer: {
  requestId: string;
  giftRequestId: string;
  at: string;
  giftStatus?: string;
  redemptionUrl?: string | null;
  pollDueAt?: number | null;
  pollDeadlineAt?: number | null;
}): SendRecord {
  return {
    state: 'created',
    requestId: answer.requestId,
    giftRequestId: answer.giftRequestId,
    giftStatus: answer.giftStatus ?? 'submitted',
    redemptionUrl: answer.redemptionUrl ?? null,
    giftCreatedAt: answer.at,
    giftUpdatedAt: answer.at,
    pollDueAt: answer.pollDueAt ?? null,
    pollDeadlineAt: answer.pollDeadlineAt ?? null,
  };
}
