/**
 * The ledger table's shape, in one place: the CDK stack and the local runtime create the table from
 * it, and the DynamoDB adapter reads and writes by it.
 *
 * One table, single-table design:
 *   batch item  pk = BATCH#<batchId>  sk = META
 *   row item    pk = BATCH#<batchId>  sk = ROW#<row, zero-padded>   → a batch's rows in input order
 *   key item    pk = IDEM#<idempotency key>  sk = KEY   → the row an event's key created (events)
 *   conflict    pk = IDEM#<idempotency key>  sk = PAYLOAD#<hash>  → another payload under a used key
 * Indexes (sparse: an item appears only while it carries the index's key attributes):
 *   byPollDue   pollShard + pollDueAt   created rows still waiting for a URL or status, by due time
 *   byCampaign  campaignId + campaignAt rows of a campaign by date (finance export)
 *   byKind      kind + createdAt        the batches, newest first (status)
 *   byGiftRequest giftRequestId          the row of an &Open gift request (signed webhooks); only
 *                                        the few attributes a webhook needs are copied there
 * Webhook event ids are remembered in items of their own (pk = WEBHOOK#<eventId>, sk = EVENT) that
 * DynamoDB deletes after their `expiresAt` (the table's TTL attribute), and so is the news of a
 * gift request that arrived before its row knew it (pk = GIFTNEWS#<giftRequestId>, sk = NEWS).
 * Two more single items: the fleet's rate limit (pk = LIMITER#andopen, sk = STATE) and the lease
 * that keeps poller runs one at a time (pk = LEASE#poller, sk = LEASE).
 */
export const LEDGER_KEYS = {
  partitionKey: 'pk',
  sortKey: 'sk',
} as const;

export const LEDGER_INDEXES = {
  byPollDue: {
    name: 'byPollDue',
    partitionKey: 'pollShard',
    sortKey: 'pollDueAt',
    sortKeyType: 'N',
  },
  byCampaign: {
    name: 'byCampaign',
    partitionKey: 'campaignId',
    sortKey: 'campaignAt',
    sortKeyType: 'S',
  },
  byKind: { name: 'byKind', partitionKey: 'kind', sortKey: 'createdAt', sortKeyType: 'S' },
  byGiftRequest: {
    name: 'byGiftRequest',
    partitionKey: 'giftRequestId',
    // One row per gift request: the id alone finds it.
    sortKey: null,
    sortKeyType: null,
    // A webhook decides from these alone (one lookup), so the index does not carry whole rows
    // (recipient, request body) a second time.
    projection: [
      'batchId',
      'row',
      'state',
      'giftStatus',
      'redemptionUrl',
      'giftUpdatedAt',
      'pollDueAt',
    ],
  },
} as const satisfies Record<string, LedgerIndex>;

/** A global secondary index of the ledger; `projection` lists the copied attributes (default: all). */
export interface LedgerIndex {
  name: string;
  partitionKey: string;
  sortKey: string | null;
  sortKeyType: 'S' | 'N' | null;
  projection?: readonly string[];
}

/** The attribute whose Unix-seconds value lets DynamoDB expire an item (webhook event ids). */
export const LEDGER_TTL_ATTRIBUTE = 'expiresAt';

export const webhookEventPk = (eventId: string): string => `WEBHOOK#${eventId}`;
export const WEBHOOK_EVENT_SK = 'EVENT';
/** News of a gift request that no row held when its webhook came (see UnmatchedGiftNews). */
export const giftNewsPk = (giftRequestId: string): string => `GIFTNEWS#${giftRequestId}`;
export const GIFT_NEWS_SK = 'NEWS';

/**
 * Rows due for polling spread over this many index partitions, so that a big batch does not make one
 * hot partition of the poll index.
 */
export const POLL_SHARDS = 8;

/** Row numbers are zero-padded in sort keys so that string order is input order. */
const ROW_DIGITS = 10;

export const batchPk = (batchId: string): string => `BATCH#${batchId}`;
export const BATCH_SK = 'META';
export const paddedRow = (row: number): string => String(row).padStart(ROW_DIGITS, '0');
export const rowSk = (row: number): string => `ROW#${paddedRow(row)}`;
export const ROW_SK_PREFIX = 'ROW#';
export const pollShardOf = (row: number): string => `POLL#${row % POLL_SHARDS}`;
export const allPollShards = (): string[] =>
  Array.from({ length: POLL_SHARDS }, (_, shard) => `POLL#${shard}`);

export const idempotencyPk = (key: string): string => `IDEM#${key}`;
export const IDEMPOTENCY_SK = 'KEY';
export const conflictSk = (payloadHash: string): string => `PAYLOAD#${payloadHash}`;
