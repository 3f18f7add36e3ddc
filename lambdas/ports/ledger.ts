import type { GiftRequestBody } from './gifting-api.ts';

/**
 * The ledger: the source of truth for every batch and every row (the queue is only transport).
 *
 * Row lifecycle (DESIGN.md):
 *   invalid                                  failed local validation; never queued
 *   pending ─► sending ─► created ─► (URL and status updates)
 *                     ├─► rejected           the API said "not created"
 *                     └─► unknown            the request may have reached &Open; never re-sent automatically
 * Every move is a conditional write, so a duplicate delivery finds the row already moved and does nothing.
 */
export type RowState = 'invalid' | 'pending' | 'sending' | 'created' | 'rejected' | 'unknown';

/** What the results file echoes of the input row (DESIGN.md, Files). */
export interface RowEcho {
  externalId: string | null;
  campaignId: string | null;
  firstName: string | null;
  lastName: string | null;
  email: string | null;
}

/** An error that decided a row: one of the API's, or one of local validation. */
export interface RowError {
  /** `validation_error`, `api_error`, … as &Open said, or `local_validation` for our own checks. */
  type: string;
  code: string;
  param: string | null;
  message: string;
}

export interface NewRow {
  batchId: string;
  /** 1-based data row number in the input (the header is not counted). */
  row: number;
  /** Physical line in the input where the row starts. */
  line: number;
  echo: RowEcho;
  /** `pending` rows carry the exact body to send; `invalid` rows carry their errors. */
  state: 'pending' | 'invalid';
  body: GiftRequestBody | null;
  errors: RowError[];
  /** Event-sourced rows: the producer's idempotency key (exports and `status --key` find it). */
  idempotencyKey?: string | null;
  /** Event-sourced rows: the producer's metadata, carried through to outcome events and exports. */
  metadata?: Record<string, string> | null;
}

export interface RowRecord extends Omit<NewRow, 'state' | 'idempotencyKey' | 'metadata'> {
  state: RowState;
  /** Null for file rows. */
  idempotencyKey: string | null;
  metadata: Record<string, string> | null;
  giftRequestId: string | null;
  giftStatus: string | null;
  redemptionUrl: string | null;
  /** The Request-Id of the answer that decided the row. */
  requestId: string | null;
  /**
   * When the send's outcome was recorded (ISO): the instant the fleet spent a request on the row, as
   * the report's sends-over-time chart counts it. Null for rows never sent.
   */
  sentAt: string | null;
  /** Why an `unknown` row is unknown, in words a person can check against. */
  unknownReason: string | null;
  /**
   * Set once a person released the row from `unknown` for another try (retry-unknown): when, and
   * what the row was unknown for and under which Request-Id, so the results can say so.
   */
  releasedFromUnknownAt: string | null;
  previousUnknownReason: string | null;
  previousRequestId: string | null;
  /** &Open's timestamps of the gift request. */
  giftCreatedAt: string | null;
  giftUpdatedAt: string | null;
  /** Our timestamps (ISO). */
  createdAt: string;
  updatedAt: string;
  /** While set, the poller follows this row; ms since epoch. */
  pollDueAt: number | null;
  /** After this instant (ms) the poller stops waiting for a redemption URL. */
  pollDeadlineAt: number | null;
}

/**
 * `awaiting-approval`: the split recorded every row but queued none (a batch over the size limit, or
 * with preflight findings): nothing can be sent until a person approves it. `approved`: a person
 * did; the next reconcile (the poller's run in AWS, `gift-batch approve` locally) moves it to
 * `sending` and queues its rows.
 */
export type BatchPhase =
  | 'splitting'
  | 'awaiting-approval'
  | 'approved'
  | 'sending'
  | 'complete'
  | 'stopped';

/** What the splitter's preflight found, kept on the batch (status, approval). */
export interface BatchPreflight {
  checkedAt: string;
  campaigns: number;
  findings: number;
  /** Findings by kind (`archived-campaign`, `stock-shortfall`, …). */
  byKind: Record<string, number>;
  /** The first findings, one line each, naming rows. */
  messages: string[];
}

export interface BatchSource {
  /** `s3://bucket/key`, `event`, … for people. */
  description: string;
  bucket: string | null;
  key: string | null;
  versionOrEtag: string | null;
}

export interface BatchCounts {
  rows: number;
  valid: number;
  invalid: number;
  created: number;
  rejected: number;
  unknown: number;
  /** Created rows whose redemption URL has arrived (or whose wait ended). */
  settled: number;
}

/** The counters the senders, the poller and webhooks move (the split sets the others once). */
export type SendCounts = Pick<BatchCounts, 'created' | 'rejected' | 'unknown' | 'settled'>;

export interface SplitTotals {
  rows: number;
  valid: number;
  invalid: number;
}

/**
 * How far the splitter got with a file, saved on the batch after every chunk, so that a new
 * invocation can carry on where the last one stopped (a Lambda lives 15 minutes at most).
 */
export interface SplitCheckpoint {
  /** The next data row to record (1-based): every row before it is in the ledger. */
  nextRow: number;
  /**
   * The first row of the chunk recorded last. Rows are queued only after the checkpoint that covers
   * them is saved, so after a crash that chunk may be recorded but not queued: a resume queues it again.
   */
  lastChunkFrom: number;
  /** Rows recorded so far, as completeSplit will record them. */
  totals: SplitTotals;
  /** Grows by one with every save: saves and continuation claims are compare-and-set on it. */
  sequence: number;
  /** When it was last saved (ms since epoch): a splitter that died leaves it unmoved. */
  savedAt: number;
  /** The object's ETag when first read: a continuation that finds another file stops. */
  objectETag: string | null;
  /**
   * The most rows any invocation of this split writes in one chunk: a resume treats that many rows
   * from `nextRow` on as possibly written already. Absent on checkpoints saved before it existed.
   */
  chunkRows?: number;
  /**
   * The first invocation's approval verdict (preflight summary, and why the batch waits; null:
   * it sends), so every later invocation records without queueing when the batch must wait.
   */
  gate?: { preflight: BatchPreflight | null; awaitApproval: string | null };
}

export interface BatchRecord {
  batchId: string;
  source: BatchSource;
  phase: BatchPhase;
  /** Set when the whole batch stopped on a configuration error (bad key, wrong version, …). */
  stopReason: string | null;
  counts: BatchCounts;
  createdAt: string;
  updatedAt: string;
  splitCompletedAt: string | null;
  /** The file could not be read (whole or from some line on); one line a person can act on. */
  fileError: string | null;
  completedAt: string | null;
  /** Where the results file went, once written. */
  resultsKey: string | null;
  /** When a reconcile last re-drove the batch's undecided rows (in AWS: once per quiet period). */
  lastReconciledAt: string | null;
  /**
   * When a sender last worked on the batch's rows without moving a counter (a row re-queued for a
   * 429, a maintenance window, the fleet's pace); at most about once a minute. Reconcile takes it as
   * news, so a long throttle is not mistaken for lost messages. Absent in older records.
   */
  lastActivityAt?: string | null;
  /** The splitter's preflight, when it ran one (in AWS). Absent in records made before it existed. */
  preflight?: BatchPreflight | null;
  /** Why the batch waits (or waited) for approval: over the size limit, preflight findings. */
  approvalReason?: string | null;
  /** The splitter's position in the file; absent until its first chunk is recorded. */
  splitCheckpoint?: SplitCheckpoint | null;
}

/**
 * The state an answer moved a claimed row out of: `sending` (its own claim), or the `unknown` that a
 * redelivery guessed meanwhile (that redelivery counted it: whoever replaces the guess takes it back).
 */
export type MovedFrom = 'sending' | 'unknown';

export type ClaimResult =
  | { claimed: true; row: RowRecord }
  | { claimed: false; state: RowState | 'missing' };

/** The decisive outcome of one send, recorded on a row in `sending`. */
export type SendRecord =
  | {
      state: 'created';
      requestId: string | null;
      giftRequestId: string;
      giftStatus: string;
      redemptionUrl: string | null;
      giftCreatedAt: string | null;
      giftUpdatedAt: string | null;
      /** When to look for the URL first (null when it already came with the answer). */
      pollDueAt: number | null;
      pollDeadlineAt: number | null;
    }
  | { state: 'rejected'; requestId: string | null; errors: RowError[] }
  | { state: 'unknown'; requestId: string | null; reason: string };

/** What became of a request to release an `unknown` row. */
export type ReleaseUnknownResult =
  | { released: true }
  | { released: false; state: RowState | 'missing' };

export interface GiftUpdate {
  giftStatus: string;
  redemptionUrl: string | null;
  giftUpdatedAt: string | null;
  requestId: string | null;
  /** Next poll, or null to stop following the row. */
  pollDueAt: number | null;
}

/**
 * Event-driven sends: the row an idempotency key created. One item per key holds the hash of the
 * first payload sent under it; another payload under the same key is recorded once, as a conflict.
 */
export interface IdempotencyRecord {
  key: string;
  payloadHash: string;
  batchId: string;
  row: number;
  createdAt: string;
}

/** What `putEventRow` records beside the row, in the same transaction. */
export interface EventRowClaim {
  key: string;
  payloadHash: string;
  /**
   * False: the first payload under the key (the key's own item). True: a different payload under a
   * key already used, recorded once per (key, payload) so a redelivered conflict adds no second row.
   */
  conflict: boolean;
}

/** A created row as the webhook index shows it: what a webhook needs to decide, nothing more. */
export interface TrackedGift {
  batchId: string;
  row: number;
  state: RowState;
  giftStatus: string | null;
  redemptionUrl: string | null;
  giftUpdatedAt: string | null;
  /** The poller still follows the row (it waits for its URL). */
  following: boolean;
}

/**
 * One signed &Open webhook event, recorded once: its id is remembered until `expiresAt`, and the
 * change it brings to its row (if any) is written in the same conditional write, so an event is
 * never half-applied and never applied twice.
 */
export interface GiftEventRecord {
  eventId: string;
  eventType: string;
  /** Unix seconds after which DynamoDB may forget the event id (TTL). */
  expiresAt: number;
  batchId: string;
  row: number;
  /** The row as the decision saw it; if it changed since, nothing is written (`conflict`). */
  seen: Pick<TrackedGift, 'giftStatus' | 'redemptionUrl' | 'giftUpdatedAt' | 'following'>;
  /** Null when the event brings nothing new (stale or repeated): only its id is recorded. */
  change: {
    giftStatus: string;
    redemptionUrl: string | null;
    giftUpdatedAt: string | null;
    /** The URL arrived: the poller stops following the row, and the batch counts it settled. */
    settles: boolean;
  } | null;
}

export type GiftEventResult = 'recorded' | 'duplicate' | 'conflict';

/**
 * What a webhook said about a gift request the ledger did not know yet: &Open can announce a gift
 * (and its link) before its create answer has reached the sender and been recorded. Kept until
 * `expiresAt` so that the poller's safety net finds it instead of calling &Open.
 */
export interface UnmatchedGiftNews {
  giftRequestId: string;
  giftStatus: string;
  redemptionUrl: string | null;
  giftUpdatedAt: string | null;
  /** Unix seconds (TTL). */
  expiresAt: number;
}

export interface Ledger {
  /** Creates the batch item; `false` when it exists already (a duplicate event). */
  createBatch(batch: { batchId: string; source: BatchSource; createdAt: string }): Promise<boolean>;
  getBatch(batchId: string): Promise<BatchRecord | null>;
  /**
   * Writes new rows (batched, unconditional: it would overwrite). Only for rows no earlier write can
   * have put there, so no sender can have seen them yet.
   */
  putRows(rows: NewRow[]): Promise<void>;
  /**
   * Writes rows an interrupted splitter may have written already (the chunk it was recording past
   * its last checkpoint when it died), each only where no row is: a row a sender has meanwhile
   * claimed or decided must never go back to `pending`, or it would be sent again. One conditional
   * write per row.
   */
  putRowsIfAbsent(rows: NewRow[]): Promise<void>;
  /**
   * Marks the split as done with the totals it found, and why it ended early when the file turned
   * out unreadable part-way (the rows accepted before it stay, and are sent).
   */
  completeSplit(
    batchId: string,
    totals: SplitTotals,
    fileError: string | null,
    /** `awaitApproval`: the reason the batch goes to `awaiting-approval` instead of `sending`. */
    options?: { preflight?: BatchPreflight | null; awaitApproval?: string | null },
  ): Promise<void>;
  /**
   * Saves the split's checkpoint if the batch is still splitting and its checkpoint is still the one
   * with `expectedSequence` (0: none saved yet); false otherwise (another invocation moved it on, or
   * the split is over). Also claims a continuation: the same position saved with the next sequence.
   */
  saveSplitCheckpoint(
    batchId: string,
    expectedSequence: number,
    checkpoint: SplitCheckpoint,
  ): Promise<boolean>;
  getRow(batchId: string, row: number): Promise<RowRecord | null>;
  /** The rows of a batch in input order, a page at a time. */
  listRows(
    batchId: string,
    options?: { fromRow?: number; limit?: number },
  ): AsyncIterable<RowRecord>;
  /** `pending → sending`, taken before the POST. */
  claimRow(batchId: string, row: number, now: string): Promise<ClaimResult>;
  /**
   * `sending → pending`: the answer proves nothing was created (throttled, unavailable, not sent,
   * stopped). Also replaces an `unknown` that a redelivery guessed while this sender was waiting.
   * Returns the state the row left, or null when it was in neither (nothing written).
   */
  releaseRow(batchId: string, row: number, now: string): Promise<MovedFrom | null>;
  /**
   * `sending → created | rejected | unknown`. A definitive answer (created, rejected) also replaces an
   * `unknown` that a redelivery guessed while this sender was still waiting: the answer is the truth.
   * Returns the state the row left (the batch's counters must follow that move exactly), or null
   * when the row was in neither state (nothing written).
   */
  recordSend(
    batchId: string,
    row: number,
    record: SendRecord,
    now: string,
  ): Promise<MovedFrom | null>;
  /** A row found in `sending` by a later delivery: its sender died mid-request. */
  markUnknown(batchId: string, row: number, reason: string, now: string): Promise<boolean>;
  /**
   * `unknown → pending`, after a person checked with &Open that no gift was created (retry-unknown).
   * Keeps the earlier reason and Request-Id as `previousUnknownReason` / `previousRequestId`, with
   * `releasedFromUnknownAt`. The batch's counters are the caller's to adjust.
   */
  releaseUnknown(batchId: string, row: number, now: string): Promise<ReleaseUnknownResult>;
  /** Status and URL updates of a created row (poller, webhooks). */
  updateGift(batchId: string, row: number, update: GiftUpdate, now: string): Promise<void>;
  /** The row that holds an &Open gift request, or null when this ledger never created it. */
  findGift(giftRequestId: string): Promise<TrackedGift | null>;
  /** Records a webhook event and its change (see GiftEventRecord). */
  recordGiftEvent(event: GiftEventRecord, now: string): Promise<GiftEventResult>;
  /** Keeps the newest news of a gift request no row holds yet (older news never replaces newer). */
  keepUnmatchedNews(news: UnmatchedGiftNews, now: string): Promise<void>;
  unmatchedNews(giftRequestId: string): Promise<UnmatchedGiftNews | null>;
  /** Created rows whose next poll is due. */
  rowsDueForPolling(nowMs: number, limit: number): Promise<RowRecord[]>;
  /** Adds to the batch's counters (aggregated by the caller: one write per invocation, not per row). */
  addToCounts(batchId: string, delta: Partial<BatchCounts>, now: string): Promise<void>;
  /**
   * Sets the batch's send counters to what its rows say, only if every counter is still as `seen`
   * (compare-and-set): false when a write changed them since they were read. Leaves `updatedAt`
   * alone: a recount is not progress. Callers decide when it is safe (see core/batch-recount.ts).
   */
  correctCounts(batchId: string, seen: BatchCounts, counts: SendCounts): Promise<boolean>;
  /** Sets `lastActivityAt` (see BatchRecord); leaves `updatedAt` and the counters alone. */
  noteActivity(batchId: string, now: string): Promise<void>;
  setPhase(
    batchId: string,
    phase: BatchPhase,
    fields: { stopReason?: string | null; completedAt?: string; resultsKey?: string },
    now: string,
  ): Promise<void>;
  /**
   * Records a reconcile of the batch, only if nobody recorded another since `seen` (its
   * `lastReconciledAt` as read): true when this caller won the turn. Leaves `updatedAt` alone, which
   * means progress.
   */
  markReconciled(batchId: string, seen: string | null, now: string): Promise<boolean>;
  /** `from → to` only when the batch is in `from` (approvals): false when it was not. */
  movePhase(batchId: string, from: BatchPhase, to: BatchPhase, now: string): Promise<boolean>;
  /**
   * Every row of a campaign across batches (and events), oldest first by when the ledger recorded it,
   * a page at a time through the campaign index (never a scan). `from`/`to` are ISO instants, both
   * inclusive; rows without a campaign (invalid ones without campaign_id) are not in the index.
   */
  listCampaignRows(
    campaignId: string,
    range?: { from?: string; to?: string },
  ): AsyncIterable<RowRecord>;
  /** Newest first; `active` keeps only the batches still splitting, approved or sending. */
  listBatches(options?: { limit?: number; active?: boolean }): Promise<BatchRecord[]>;
  /** The row an idempotency key created (its first payload), or null for a key never seen. */
  findIdempotencyKey(key: string): Promise<IdempotencyRecord | null>;
  /**
   * The next row number of an event batch (an atomic counter on the batch item), creating the batch
   * in phase `sending` when it is the first event of its day. A number is never handed out twice;
   * one lost to a crash or a lost race leaves a gap, never a collision.
   */
  nextEventRow(batch: { batchId: string; source: BatchSource; createdAt: string }): Promise<number>;
  /**
   * Writes an event's row, its idempotency item and the batch's counters in one transaction; false
   * (and nothing written) when the idempotency item exists already: another delivery won.
   */
  putEventRow(row: NewRow, claim: EventRowClaim, now: string): Promise<boolean>;
}
