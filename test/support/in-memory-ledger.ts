import type { Clock } from '../../lambdas/ports/clock.ts';
import type {
  BatchCounts,
  BatchPhase,
  BatchPreflight,
  BatchRecord,
  BatchSource,
  ClaimResult,
  EventRowClaim,
  GiftEventRecord,
  GiftEventResult,
  GiftUpdate,
  IdempotencyRecord,
  Ledger,
  MovedFrom,
  NewRow,
  ReleaseUnknownResult,
  RowRecord,
  RowState,
  SendCounts,
  SendRecord,
  SplitCheckpoint,
  TrackedGift,
  UnmatchedGiftNews,
} from '../../lambdas/ports/ledger.ts';
import { recordOf } from './ledger-rows.ts';

const ZERO_COUNTS: BatchCounts = {
  rows: 0,
  valid: 0,
  invalid: 0,
  created: 0,
  rejected: 0,
  unknown: 0,
  settled: 0,
};

/**
 * The ledger port in memory, for unit tests of the core. It keeps the same conditional rules as the
 * DynamoDB adapter (which its own integration tests check against DynamoDB Local).
 */
export class InMemoryLedger implements Ledger {
  readonly batches = new Map<string, BatchRecord>();
  readonly rows = new Map<string, RowRecord>();
  /** Idempotency items by `key` (first payload) or `key#hash` (a conflict). */
  readonly idempotency = new Map<string, IdempotencyRecord>();
  readonly #nextRow = new Map<string, number>();
  /** Webhook event ids recorded, with their expiry (Unix seconds). */
  readonly events = new Map<string, number>();
  readonly news = new Map<string, UnmatchedGiftNews>();
  /** When rows are recorded (their createdAt and first updatedAt); tests that reason on time fix it. */
  readonly #clock: Clock;

  constructor(options: { clock?: Clock } = {}) {
    this.#clock = options.clock ?? { now: () => Date.now() };
  }

  async createBatch(batch: {
    batchId: string;
    source: BatchSource;
    createdAt: string;
  }): Promise<boolean> {
    if (this.batches.has(batch.batchId)) return false;
    this.batches.set(batch.batchId, {
      batchId: batch.batchId,
      source: batch.source,
      phase: 'splitting',
      stopReason: null,
      counts: { ...ZERO_COUNTS },
      createdAt: batch.createdAt,
      updatedAt: batch.createdAt,
      splitCompletedAt: null,
      fileError: null,
      completedAt: null,
      resultsKey: null,
      lastReconciledAt: null,
      lastActivityAt: null,
      preflight: null,
      approvalReason: null,
      splitCheckpoint: null,
    });
    return true;
  }

  async getBatch(batchId: string): Promise<BatchRecord | null> {
    return structuredClone(this.batches.get(batchId) ?? null);
  }

  async putRows(rows: NewRow[]): Promise<void> {
    const now = new Date(this.#clock.now()).toISOString();
    for (const row of rows) {
      this.rows.set(key(row.batchId, row.row), recordOf(row, now));
    }
  }

  async putRowsIfAbsent(rows: NewRow[]): Promise<void> {
    const now = new Date(this.#clock.now()).toISOString();
    for (const row of rows) {
      const at = key(row.batchId, row.row);
      if (!this.rows.has(at)) this.rows.set(at, recordOf(row, now));
    }
  }

  async completeSplit(
    batchId: string,
    totals: { rows: number; valid: number; invalid: number },
    fileError: string | null,
    options: { preflight?: BatchPreflight | null; awaitApproval?: string | null } = {},
  ): Promise<void> {
    const batch = this.#batch(batchId);
    batch.fileError = fileError;
    const stoppedWhileSplitting = batch.phase === 'stopped' && batch.splitCompletedAt === null;
    if (batch.phase !== 'splitting' && !stoppedWhileSplitting) {
      throw new Error('split already complete');
    }
    const awaitApproval = options.awaitApproval ?? null;
    // A batch a sender stopped part-way stays stopped: the split only records its totals.
    if (!stoppedWhileSplitting)
      batch.phase = awaitApproval === null ? 'sending' : 'awaiting-approval';
    batch.approvalReason = awaitApproval;
    batch.preflight = structuredClone(options.preflight ?? null);
    batch.splitCompletedAt = new Date().toISOString();
    Object.assign(batch.counts, totals);
  }

  async saveSplitCheckpoint(
    batchId: string,
    expectedSequence: number,
    checkpoint: SplitCheckpoint,
  ): Promise<boolean> {
    const batch = this.#batch(batchId);
    const stoppedWhileSplitting = batch.phase === 'stopped' && batch.splitCompletedAt === null;
    if (batch.phase !== 'splitting' && !stoppedWhileSplitting) return false;
    if ((batch.splitCheckpoint?.sequence ?? 0) !== expectedSequence) return false;
    batch.splitCheckpoint = structuredClone(checkpoint);
    batch.updatedAt = new Date(checkpoint.savedAt).toISOString();
    return true;
  }

  async getRow(batchId: string, row: number): Promise<RowRecord | null> {
    return structuredClone(this.rows.get(key(batchId, row)) ?? null);
  }

  async *listRows(
    batchId: string,
    options: { fromRow?: number; limit?: number } = {},
  ): AsyncIterable<RowRecord> {
    const rows = [...this.rows.values()]
      .filter((row) => row.batchId === batchId && row.row >= (options.fromRow ?? 1))
      .sort((a, b) => a.row - b.row)
      .slice(0, options.limit ?? Number.POSITIVE_INFINITY);
    for (const row of rows) yield structuredClone(row);
  }

  async claimRow(batchId: string, row: number, now: string): Promise<ClaimResult> {
    const record = this.rows.get(key(batchId, row));
    if (!record) return { claimed: false, state: 'missing' };
    if (record.state !== 'pending') return { claimed: false, state: record.state };
    record.state = 'sending';
    record.updatedAt = now;
    return { claimed: true, row: structuredClone(record) };
  }

  async releaseRow(batchId: string, row: number, now: string): Promise<MovedFrom | null> {
    return this.#moveFrom(batchId, row, ['sending', 'unknown'], (record) => {
      record.state = 'pending';
      record.updatedAt = now;
    });
  }

  async recordSend(
    batchId: string,
    row: number,
    sent: SendRecord,
    now: string,
  ): Promise<MovedFrom | null> {
    const from: MovedFrom[] = sent.state === 'unknown' ? ['sending'] : ['sending', 'unknown'];
    return this.#moveFrom(batchId, row, from, (record) => {
      record.state = sent.state;
      record.requestId = sent.requestId;
      record.sentAt = now;
      record.updatedAt = now;
      if (sent.state === 'created') {
        record.giftRequestId = sent.giftRequestId;
        record.giftStatus = sent.giftStatus;
        record.redemptionUrl = sent.redemptionUrl;
        record.giftCreatedAt = sent.giftCreatedAt;
        record.giftUpdatedAt = sent.giftUpdatedAt;
        record.pollDueAt = sent.pollDueAt;
        record.pollDeadlineAt = sent.pollDeadlineAt;
      } else if (sent.state === 'rejected') {
        record.errors = sent.errors;
      } else {
        record.unknownReason = sent.reason;
      }
    });
  }

  async markUnknown(batchId: string, row: number, reason: string, now: string): Promise<boolean> {
    return this.#move(batchId, row, ['sending'], (record) => {
      record.state = 'unknown';
      record.unknownReason = reason;
      record.updatedAt = now;
    });
  }

  async releaseUnknown(batchId: string, row: number, now: string): Promise<ReleaseUnknownResult> {
    const record = this.rows.get(key(batchId, row));
    if (!record) return { released: false, state: 'missing' };
    if (record.state !== 'unknown') return { released: false, state: record.state };
    record.state = 'pending';
    record.previousUnknownReason = record.unknownReason;
    record.previousRequestId = record.requestId;
    record.releasedFromUnknownAt = now;
    record.unknownReason = null;
    record.requestId = null;
    record.updatedAt = now;
    return { released: true };
  }

  async updateGift(batchId: string, row: number, update: GiftUpdate, now: string): Promise<void> {
    this.#move(batchId, row, ['created'], (record) => {
      record.giftStatus = update.giftStatus;
      record.redemptionUrl = update.redemptionUrl;
      record.giftUpdatedAt = update.giftUpdatedAt;
      record.pollDueAt = update.pollDueAt;
      record.updatedAt = now;
    });
  }

  async findGift(giftRequestId: string): Promise<TrackedGift | null> {
    const row = [...this.rows.values()].find((r) => r.giftRequestId === giftRequestId);
    if (!row) return null;
    return {
      batchId: row.batchId,
      row: row.row,
      state: row.state,
      giftStatus: row.giftStatus,
      redemptionUrl: row.redemptionUrl,
      giftUpdatedAt: row.giftUpdatedAt,
      following: row.pollDueAt !== null,
    };
  }

  async recordGiftEvent(event: GiftEventRecord, now: string): Promise<GiftEventResult> {
    if (this.events.has(event.eventId)) return 'duplicate';
    const { change, seen } = event;
    if (change !== null) {
      const record = this.rows.get(key(event.batchId, event.row));
      const unchangedSinceSeen =
        record?.state === 'created' &&
        record.giftStatus === seen.giftStatus &&
        record.redemptionUrl === seen.redemptionUrl &&
        record.giftUpdatedAt === seen.giftUpdatedAt &&
        (record.pollDueAt !== null) === seen.following;
      if (!record || !unchangedSinceSeen) return 'conflict';
      record.giftStatus = change.giftStatus;
      record.redemptionUrl = change.redemptionUrl;
      record.giftUpdatedAt = change.giftUpdatedAt;
      record.updatedAt = now;
      if (change.settles) {
        record.pollDueAt = null;
        this.#batch(event.batchId).counts.settled += 1;
      }
    }
    this.events.set(event.eventId, event.expiresAt);
    return 'recorded';
  }

  async keepUnmatchedNews(news: UnmatchedGiftNews): Promise<void> {
    const kept = this.news.get(news.giftRequestId);
    if (kept && (kept.giftUpdatedAt ?? '') >= (news.giftUpdatedAt ?? '')) return;
    this.news.set(news.giftRequestId, structuredClone(news));
  }

  async unmatchedNews(giftRequestId: string): Promise<UnmatchedGiftNews | null> {
    return structuredClone(this.news.get(giftRequestId) ?? null);
  }

  async rowsDueForPolling(nowMs: number, limit: number): Promise<RowRecord[]> {
    return [...this.rows.values()]
      .filter((row) => row.state === 'created' && row.pollDueAt !== null && row.pollDueAt <= nowMs)
      .sort((a, b) => (a.pollDueAt ?? 0) - (b.pollDueAt ?? 0))
      .slice(0, limit)
      .map((row) => structuredClone(row));
  }

  async addToCounts(batchId: string, delta: Partial<BatchCounts>, now: string): Promise<void> {
    const batch = this.#batch(batchId);
    for (const [name, value] of Object.entries(delta) as [keyof BatchCounts, number][]) {
      batch.counts[name] += value;
    }
    batch.updatedAt = now;
  }

  async correctCounts(batchId: string, seen: BatchCounts, counts: SendCounts): Promise<boolean> {
    const batch = this.#batch(batchId);
    const unchanged = (Object.keys(seen) as (keyof BatchCounts)[]).every(
      (name) => batch.counts[name] === seen[name],
    );
    if (!unchanged) return false;
    Object.assign(batch.counts, counts);
    return true;
  }

  async noteActivity(batchId: string, now: string): Promise<void> {
    this.#batch(batchId).lastActivityAt = now;
  }

  async setPhase(
    batchId: string,
    phase: BatchPhase,
    fields: { stopReason?: string | null; completedAt?: string; resultsKey?: string },
    now: string,
  ): Promise<void> {
    const batch = this.#batch(batchId);
    batch.phase = phase;
    if (fields.stopReason !== undefined) batch.stopReason = fields.stopReason;
    if (fields.completedAt !== undefined) batch.completedAt = fields.completedAt;
    if (fields.resultsKey !== undefined) batch.resultsKey = fields.resultsKey;
    batch.updatedAt = now;
  }

  async markReconciled(batchId: string, seen: string | null, now: string): Promise<boolean> {
    const batch = this.#batch(batchId);
    if (batch.lastReconciledAt !== seen) return false;
    batch.lastReconciledAt = now;
    return true;
  }

  async movePhase(
    batchId: string,
    from: BatchPhase,
    to: BatchPhase,
    now: string,
  ): Promise<boolean> {
    const batch = this.batches.get(batchId);
    if (!batch || batch.phase !== from) return false;
    batch.phase = to;
    batch.updatedAt = now;
    return true;
  }

  async *listCampaignRows(
    campaignId: string,
    range: { from?: string; to?: string } = {},
  ): AsyncIterable<RowRecord> {
    // The same key as the DynamoDB adapter's campaign index: recorded instant, batch, row.
    const sortKey = (row: RowRecord) =>
      `${row.createdAt}#${row.batchId}#${String(row.row).padStart(10, '0')}`;
    const rows = [...this.rows.values()]
      .filter((row) => (row.echo.campaignId ?? row.body?.campaign_id ?? null) === campaignId)
      .filter((row) => range.from === undefined || row.createdAt >= range.from)
      .filter((row) => range.to === undefined || row.createdAt <= range.to)
      .sort((a, b) => sortKey(a).localeCompare(sortKey(b)));
    for (const row of rows) yield structuredClone(row);
  }

  async listBatches(options: { limit?: number; active?: boolean } = {}): Promise<BatchRecord[]> {
    return [...this.batches.values()]
      .filter(
        (batch) => !options.active || ['splitting', 'approved', 'sending'].includes(batch.phase),
      )
      .sort((a, b) => b.createdAt.localeCompare(a.createdAt))
      .slice(0, options.limit ?? 50)
      .map((batch) => structuredClone(batch));
  }

  async findIdempotencyKey(idempotencyKey: string): Promise<IdempotencyRecord | null> {
    return structuredClone(this.idempotency.get(idempotencyKey) ?? null);
  }

  async nextEventRow(batch: {
    batchId: string;
    source: BatchSource;
    createdAt: string;
  }): Promise<number> {
    if (!this.batches.has(batch.batchId)) {
      await this.createBatch(batch);
      this.#batch(batch.batchId).phase = 'sending';
    }
    const row = (this.#nextRow.get(batch.batchId) ?? 0) + 1;
    this.#nextRow.set(batch.batchId, row);
    return row;
  }

  async putEventRow(row: NewRow, claim: EventRowClaim, now: string): Promise<boolean> {
    const claimKey = claim.conflict ? `${claim.key}#${claim.payloadHash}` : claim.key;
    if (this.idempotency.has(claimKey) || this.rows.has(key(row.batchId, row.row))) return false;
    const batch = this.#batch(row.batchId);
    this.idempotency.set(claimKey, {
      key: claim.key,
      payloadHash: claim.payloadHash,
      batchId: row.batchId,
      row: row.row,
      createdAt: now,
    });
    await this.putRows([row]);
    batch.counts.rows += 1;
    batch.counts[row.state === 'pending' ? 'valid' : 'invalid'] += 1;
    batch.updatedAt = now;
    return true;
  }

  #batch(batchId: string): BatchRecord {
    const batch = this.batches.get(batchId);
    if (!batch) throw new Error(`no batch ${batchId}`);
    return batch;
  }

  #move(
    batchId: string,
    row: number,
    from: RowState[],
    change: (record: RowRecord) => void,
  ): boolean {
    const record = this.rows.get(key(batchId, row));
    if (!record || !from.includes(record.state)) return false;
    change(record);
    return true;
  }

  /** A move out of `sending` (or a guessed `unknown`): the state it left, null when none. */
  #moveFrom(
    batchId: string,
    row: number,
    from: MovedFrom[],
    change: (record: RowRecord) => void,
  ): MovedFrom | null {
    const before = this.rows.get(key(batchId, row))?.state;
    if (before !== 'sending' && before !== 'unknown') return null;
    return this.#move(batchId, row, from, change) ? before : null;
  }
}

const key = (batchId: string, row: number): string => `${batchId}#${row}`;
