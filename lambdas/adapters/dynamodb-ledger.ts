import {
  ConditionalCheckFailedException,
  type DynamoDBClient,
  TransactionCanceledException,
} from '@aws-sdk/client-dynamodb';
import {
  BatchWriteCommand,
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  TransactWriteCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { mapWithConcurrency } from '../core/concurrency.ts';
import { type Clock, systemClock } from '../ports/clock.ts';
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
  SplitTotals,
  TrackedGift,
  UnmatchedGiftNews,
} from '../ports/ledger.ts';
import {
  allPollShards,
  BATCH_SK,
  batchPk,
  conflictSk,
  GIFT_NEWS_SK,
  giftNewsPk,
  IDEMPOTENCY_SK,
  idempotencyPk,
  LEDGER_INDEXES,
  LEDGER_TTL_ATTRIBUTE,
  POLL_SHARDS,
  paddedRow,
  pollShardOf,
  ROW_SK_PREFIX,
  rowSk,
  WEBHOOK_EVENT_SK,
  webhookEventPk,
} from './ledger-table.ts';

type Item = Record<string, unknown>;

const COUNT_NAMES: (keyof BatchCounts)[] = [
  'rows',
  'valid',
  'invalid',
  'created',
  'rejected',
  'unknown',
  'settled',
];
const countAttribute = (name: keyof BatchCounts): string => `count_${name}`;
const SEND_COUNT_NAMES: (keyof SendCounts)[] = ['created', 'rejected', 'unknown', 'settled'];

/**
 * A definitive answer may land on a row that a redelivery already marked `unknown` (it took this
 * sender for dead): the answer is the truth, so it replaces the guess — created, rejected, or (an
 * answer that proves nothing was created) back to pending.
 */
const DECIDED_OR_GUESSED: MovedFrom[] = ['sending', 'unknown'];

/** Rows per page of a campaign export: one page in memory at a time. */
const CAMPAIGN_PAGE_SIZE = 500;

/** The split has not ended (createBatch writes splitCompletedAt as null). */
const SPLIT_NOT_COMPLETED =
  '(attribute_not_exists(splitCompletedAt) OR attribute_type(splitCompletedAt, :nullType))';
/**
 * A split goes on while its batch is `splitting`, and also when a sender stopped the batch part-way
 * (a refused key): the rows are recorded all the same, and nothing is sent until a person resumes.
 */
const STILL_SPLITTING = `(phase = :splitting OR (phase = :stopped AND ${SPLIT_NOT_COMPLETED}))`;

/** BatchWriteItem takes at most 25 items. */
const BATCH_WRITE_SIZE = 25;
/** BatchWriteItem requests in flight at once for one putRows (STACK.md: more only adds latency). */
const PUT_ROWS_CONCURRENCY = 4;
/** Conditional PutItems in flight at once for one putRowsIfAbsent (a chunk: a few dozen rows). */
const PUT_IF_ABSENT_CONCURRENCY = 8;

/** The ledger on one DynamoDB table (see ledger-table.ts for its shape). */
export class DynamoDbLedger implements Ledger {
  readonly #documents: DynamoDBDocumentClient;
  readonly #tableName: string;
  readonly #sleep: (ms: number) => Promise<void>;
  readonly #clock: Clock;
  readonly #campaignPageSize: number;

  constructor(options: {
    client: DynamoDBClient;
    tableName: string;
    sleep?: (ms: number) => Promise<void>;
    /** When rows are recorded (their place in the campaign index); tests fix it. */
    clock?: Clock;
    /** Rows per page of a campaign read: one page in memory at a time. */
    campaignPageSize?: number;
  }) {
    this.#documents = DynamoDBDocumentClient.from(options.client, {
      marshallOptions: { removeUndefinedValues: true, convertClassInstanceToMap: false },
    });
    this.#tableName = options.tableName;
    this.#sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
    this.#clock = options.clock ?? systemClock;
    this.#campaignPageSize = options.campaignPageSize ?? CAMPAIGN_PAGE_SIZE;
  }

  /**
   * Sends a conditional write: true when it was made, false when its condition did not hold (the
   * row or batch had already moved on); any other failure is thrown.
   */
  async #sendIf(command: PutCommand | UpdateCommand): Promise<boolean> {
    try {
      // Two calls for the SDK's typing: send() is generic over one command type at a time.
      await (command instanceof PutCommand
        ? this.#documents.send(command)
        : this.#documents.send(command));
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }

  async createBatch(batch: {
    batchId: string;
    source: BatchSource;
    createdAt: string;
  }): Promise<boolean> {
    const counts = Object.fromEntries(COUNT_NAMES.map((name) => [countAttribute(name), 0]));
    return this.#sendIf(
      new PutCommand({
        TableName: this.#tableName,
        Item: {
          pk: batchPk(batch.batchId),
          sk: BATCH_SK,
          kind: 'BATCH',
          batchId: batch.batchId,
          source: batch.source,
          phase: 'splitting' satisfies BatchPhase,
          stopReason: null,
          createdAt: batch.createdAt,
          updatedAt: batch.createdAt,
          splitCompletedAt: null,
          fileError: null,
          completedAt: null,
          resultsKey: null,
          lastReconciledAt: null,
          preflight: null,
          approvalReason: null,
          ...counts,
        },
        ConditionExpression: 'attribute_not_exists(pk)',
      }),
    );
  }

  async getBatch(batchId: string): Promise<BatchRecord | null> {
    const { Item } = await this.#documents.send(
      new GetCommand({
        TableName: this.#tableName,
        Key: { pk: batchPk(batchId), sk: BATCH_SK },
        ConsistentRead: true,
      }),
    );
    return Item ? toBatchRecord(Item) : null;
  }

  async putRows(rows: NewRow[]): Promise<void> {
    const now = new Date(this.#clock.now()).toISOString();
    const items = rows.map((row) => toRowItem(row, now));
    const groups: Item[][] = [];
    for (let start = 0; start < items.length; start += BATCH_WRITE_SIZE) {
      groups.push(items.slice(start, start + BATCH_WRITE_SIZE));
    }
    // A few requests in flight: a chunk of rows costs one round trip, not one per 25 rows.
    await mapWithConcurrency(groups, PUT_ROWS_CONCURRENCY, (group) => this.#batchWrite(group));
  }

  async putRowsIfAbsent(rows: NewRow[]): Promise<void> {
    const now = new Date(this.#clock.now()).toISOString();
    await mapWithConcurrency(rows, PUT_IF_ABSENT_CONCURRENCY, async (row) => {
      // Refused where the invocation that died wrote it: the same row of the same file, maybe
      // claimed or sent since, which is kept as it is.
      await this.#sendIf(
        new PutCommand({
          TableName: this.#tableName,
          Item: toRowItem(row, now),
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
    });
  }

  async completeSplit(
    batchId: string,
    totals: SplitTotals,
    fileError: string | null,
    options: { preflight?: BatchPreflight | null; awaitApproval?: string | null } = {},
  ): Promise<void> {
    const now = new Date().toISOString();
    const awaitApproval = options.awaitApproval ?? null;
    const values = {
      ':preflight': options.preflight ?? null,
      ':approvalReason': awaitApproval,
      ':now': now,
      ':rows': totals.rows,
      ':valid': totals.valid,
      ':invalid': totals.invalid,
      ':fileError': fileError,
    };
    const split =
      'splitCompletedAt = :now, updatedAt = :now, fileError = :fileError, count_rows = :rows, count_valid = :valid, count_invalid = :invalid, preflight = :preflight, approvalReason = :approvalReason';
    try {
      await this.#documents.send(
        new UpdateCommand({
          TableName: this.#tableName,
          Key: { pk: batchPk(batchId), sk: BATCH_SK },
          UpdateExpression: `SET phase = :next, ${split}`,
          ConditionExpression: 'phase = :splitting',
          ExpressionAttributeValues: {
            ...values,
            ':next': awaitApproval === null ? 'sending' : 'awaiting-approval',
            ':splitting': 'splitting',
          },
        }),
      );
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      // A sender stopped the batch (a refused key) while it was being split: the split still ends
      // with its totals, and the batch stays stopped until a person resumes it.
      await this.#documents.send(
        new UpdateCommand({
          TableName: this.#tableName,
          Key: { pk: batchPk(batchId), sk: BATCH_SK },
          UpdateExpression: `SET ${split}`,
          ConditionExpression: `phase = :stopped AND ${SPLIT_NOT_COMPLETED}`,
          ExpressionAttributeValues: { ...values, ':stopped': 'stopped', ':nullType': 'NULL' },
        }),
      );
    }
  }

  async saveSplitCheckpoint(
    batchId: string,
    expectedSequence: number,
    checkpoint: SplitCheckpoint,
  ): Promise<boolean> {
    return this.#sendIf(
      new UpdateCommand({
        TableName: this.#tableName,
        Key: { pk: batchPk(batchId), sk: BATCH_SK },
        UpdateExpression: 'SET splitCheckpoint = :checkpoint, updatedAt = :now',
        ConditionExpression:
          expectedSequence === 0
            ? `${STILL_SPLITTING} AND attribute_not_exists(splitCheckpoint)`
            : `${STILL_SPLITTING} AND splitCheckpoint.#sequence = :expected`,
        ...(expectedSequence === 0
          ? {}
          : { ExpressionAttributeNames: { '#sequence': 'sequence' } }),
        ExpressionAttributeValues: {
          ':checkpoint': checkpoint,
          ':now': new Date(checkpoint.savedAt).toISOString(),
          ':splitting': 'splitting',
          ':stopped': 'stopped',
          ':nullType': 'NULL',
          ...(expectedSequence === 0 ? {} : { ':expected': expectedSequence }),
        },
      }),
    );
  }

  async getRow(batchId: string, row: number): Promise<RowRecord | null> {
    const { Item } = await this.#documents.send(
      new GetCommand({
        TableName: this.#tableName,
        Key: { pk: batchPk(batchId), sk: rowSk(row) },
        ConsistentRead: true,
      }),
    );
    return Item ? toRowRecord(Item) : null;
  }

  async *listRows(
    batchId: string,
    options: { fromRow?: number; limit?: number } = {},
  ): AsyncIterable<RowRecord> {
    let startKey: Item | undefined;
    let remaining = options.limit ?? Number.POSITIVE_INFINITY;
    const from = rowSk(options.fromRow ?? 1);
    do {
      const page = await this.#documents.send(
        new QueryCommand({
          TableName: this.#tableName,
          KeyConditionExpression: 'pk = :pk AND sk BETWEEN :from AND :to',
          ExpressionAttributeValues: {
            ':pk': batchPk(batchId),
            ':from': from,
            ':to': `${ROW_SK_PREFIX}\uffff`,
          },
          ExclusiveStartKey: startKey,
          ConsistentRead: true,
          Limit: Number.isFinite(remaining) ? Math.min(remaining, 1000) : 1000,
        }),
      );
      for (const item of page.Items ?? []) {
        yield toRowRecord(item);
        remaining -= 1;
        if (remaining <= 0) return;
      }
      startKey = page.LastEvaluatedKey;
    } while (startKey);
  }

  async claimRow(batchId: string, row: number, now: string): Promise<ClaimResult> {
    try {
      const { Attributes } = await this.#documents.send(
        new UpdateCommand({
          TableName: this.#tableName,
          Key: { pk: batchPk(batchId), sk: rowSk(row) },
          UpdateExpression: 'SET #state = :sending, claimedAt = :now, updatedAt = :now',
          ConditionExpression: '#state = :pending',
          ExpressionAttributeNames: { '#state': 'state' },
          ExpressionAttributeValues: { ':sending': 'sending', ':pending': 'pending', ':now': now },
          ReturnValues: 'ALL_NEW',
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      if (!Attributes) throw new Error(`DynamoDB returned no attributes for claimed row ${row}`);
      return { claimed: true, row: toRowRecord(Attributes) };
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      const old = error.Item ? unmarshall(error.Item) : undefined;
      return { claimed: false, state: old ? (old.state as RowState) : 'missing' };
    }
  }

  async releaseRow(batchId: string, row: number, now: string): Promise<MovedFrom | null> {
    return this.#moveFromSending(
      batchId,
      row,
      'SET #state = :pending, updatedAt = :now',
      { ':pending': 'pending', ':now': now },
      DECIDED_OR_GUESSED,
    );
  }

  async recordSend(
    batchId: string,
    row: number,
    record: SendRecord,
    now: string,
  ): Promise<MovedFrom | null> {
    switch (record.state) {
      case 'created': {
        const following = record.pollDueAt !== null;
        return this.#moveFromSending(
          batchId,
          row,
          [
            'SET #state = :created, requestId = :requestId, sentAt = :now, giftRequestId = :giftRequestId,',
            'giftStatus = :giftStatus, redemptionUrl = :redemptionUrl, giftCreatedAt = :giftCreatedAt,',
            'giftUpdatedAt = :giftUpdatedAt, pollDeadlineAt = :pollDeadlineAt, updatedAt = :now',
            following ? ', pollShard = :pollShard, pollDueAt = :pollDueAt' : '',
          ].join(' '),
          {
            ':created': 'created',
            ':requestId': record.requestId,
            ':giftRequestId': record.giftRequestId,
            ':giftStatus': record.giftStatus,
            ':redemptionUrl': record.redemptionUrl,
            ':giftCreatedAt': record.giftCreatedAt,
            ':giftUpdatedAt': record.giftUpdatedAt,
            ':pollDeadlineAt': record.pollDeadlineAt,
            ':now': now,
            ...(following
              ? { ':pollShard': pollShardOf(row), ':pollDueAt': record.pollDueAt }
              : {}),
          },
          DECIDED_OR_GUESSED,
        );
      }
      case 'rejected':
        return this.#moveFromSending(
          batchId,
          row,
          'SET #state = :rejected, requestId = :requestId, sentAt = :now, #errors = :errors, updatedAt = :now',
          {
            ':rejected': 'rejected',
            ':requestId': record.requestId,
            ':errors': record.errors,
            ':now': now,
          },
          DECIDED_OR_GUESSED,
        );
      case 'unknown':
        return this.#moveFromSending(
          batchId,
          row,
          'SET #state = :unknown, requestId = :requestId, sentAt = :now, unknownReason = :reason, updatedAt = :now',
          {
            ':unknown': 'unknown',
            ':requestId': record.requestId,
            ':reason': record.reason,
            ':now': now,
          },
        );
    }
  }

  async markUnknown(batchId: string, row: number, reason: string, now: string): Promise<boolean> {
    const movedFrom = await this.#moveFromSending(
      batchId,
      row,
      'SET #state = :unknown, unknownReason = :reason, updatedAt = :now',
      { ':unknown': 'unknown', ':reason': reason, ':now': now },
    );
    return movedFrom !== null;
  }

  async releaseUnknown(batchId: string, row: number, now: string): Promise<ReleaseUnknownResult> {
    try {
      await this.#documents.send(
        new UpdateCommand({
          TableName: this.#tableName,
          Key: { pk: batchPk(batchId), sk: rowSk(row) },
          // The earlier guess stays readable beside the new try: results can say what happened.
          UpdateExpression: [
            'SET #state = :pending, updatedAt = :now, releasedFromUnknownAt = :now,',
            'previousUnknownReason = if_not_exists(unknownReason, :null),',
            'previousRequestId = if_not_exists(requestId, :null)',
            'REMOVE unknownReason, requestId',
          ].join(' '),
          ConditionExpression: '#state = :unknown',
          ExpressionAttributeNames: { '#state': 'state' },
          ExpressionAttributeValues: {
            ':pending': 'pending',
            ':unknown': 'unknown',
            ':now': now,
            ':null': null,
          },
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      return { released: true };
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      const old = error.Item ? unmarshall(error.Item) : undefined;
      return { released: false, state: old ? (old.state as RowState) : 'missing' };
    }
  }

  async updateGift(batchId: string, row: number, update: GiftUpdate, now: string): Promise<void> {
    const following = update.pollDueAt !== null;
    try {
      await this.#documents.send(
        new UpdateCommand({
          TableName: this.#tableName,
          Key: { pk: batchPk(batchId), sk: rowSk(row) },
          UpdateExpression: [
            'SET giftStatus = :giftStatus, redemptionUrl = :redemptionUrl, updatedAt = :now,',
            'giftUpdatedAt = :giftUpdatedAt, pollRequestId = :requestId',
            following ? ', pollDueAt = :pollDueAt' : 'REMOVE pollShard, pollDueAt',
          ].join(' '),
          ConditionExpression: '#state = :created',
          ExpressionAttributeNames: { '#state': 'state' },
          ExpressionAttributeValues: {
            ':created': 'created',
            ':giftStatus': update.giftStatus,
            ':redemptionUrl': update.redemptionUrl,
            ':giftUpdatedAt': update.giftUpdatedAt,
            ':requestId': update.requestId,
            ':now': now,
            ...(following ? { ':pollDueAt': update.pollDueAt } : {}),
          },
        }),
      );
    } catch (error) {
      // Only created rows are followed; anything else means the row moved on by another path.
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
    }
  }

  async findGift(giftRequestId: string): Promise<TrackedGift | null> {
    const { Items } = await this.#documents.send(
      new QueryCommand({
        TableName: this.#tableName,
        IndexName: LEDGER_INDEXES.byGiftRequest.name,
        KeyConditionExpression: 'giftRequestId = :id',
        ExpressionAttributeValues: { ':id': giftRequestId },
        Limit: 1,
      }),
    );
    const item = Items?.[0];
    if (!item) return null;
    return {
      batchId: String(item.batchId),
      row: Number(item.row),
      state: item.state as RowState,
      giftStatus: stringOrNull(item.giftStatus),
      redemptionUrl: stringOrNull(item.redemptionUrl),
      giftUpdatedAt: stringOrNull(item.giftUpdatedAt),
      following: typeof item.pollDueAt === 'number',
    };
  }

  /**
   * One TransactWriteItems: the event id (a conditional put, so a repeat is refused), the row's
   * change (conditional on the row still being as seen) and, when the URL arrived, the batch's
   * settled count. All or nothing: a refused row leaves the event unrecorded, to be decided again.
   */
  async recordGiftEvent(event: GiftEventRecord, now: string): Promise<GiftEventResult> {
    const eventPut = {
      Put: {
        TableName: this.#tableName,
        Item: {
          pk: webhookEventPk(event.eventId),
          sk: WEBHOOK_EVENT_SK,
          eventId: event.eventId,
          eventType: event.eventType,
          // Not `giftRequestId`: that would put the event in the gift request index.
          eventBatchId: event.batchId,
          eventRow: event.row,
          receivedAt: now,
          [LEDGER_TTL_ATTRIBUTE]: event.expiresAt,
        },
        ConditionExpression: 'attribute_not_exists(pk)',
      },
    };
    const { change, seen } = event;
    const rowKey = { pk: batchPk(event.batchId), sk: rowSk(event.row) };
    const expected = (name: string, value: string | null) =>
      value === null
        ? `(attribute_not_exists(${name}) OR attribute_type(${name}, :NULL))`
        : `${name} = :seen_${name}`;
    const writes = change
      ? [
          eventPut,
          {
            Update: {
              TableName: this.#tableName,
              Key: rowKey,
              UpdateExpression: [
                'SET giftStatus = :giftStatus, redemptionUrl = :redemptionUrl,',
                'giftUpdatedAt = :giftUpdatedAt, updatedAt = :now',
                change.settles ? 'REMOVE pollShard, pollDueAt' : '',
              ].join(' '),
              ConditionExpression: [
                '#state = :created',
                expected('giftStatus', seen.giftStatus),
                expected('redemptionUrl', seen.redemptionUrl),
                expected('giftUpdatedAt', seen.giftUpdatedAt),
                seen.following ? 'attribute_exists(pollDueAt)' : 'attribute_not_exists(pollDueAt)',
              ].join(' AND '),
              ExpressionAttributeNames: { '#state': 'state' },
              ExpressionAttributeValues: {
                ':created': 'created',
                ':giftStatus': change.giftStatus,
                ':redemptionUrl': change.redemptionUrl,
                ':giftUpdatedAt': change.giftUpdatedAt,
                ':now': now,
                ...nullType(seen),
                ...(seen.giftStatus === null ? {} : { ':seen_giftStatus': seen.giftStatus }),
                ...(seen.redemptionUrl === null
                  ? {}
                  : { ':seen_redemptionUrl': seen.redemptionUrl }),
                ...(seen.giftUpdatedAt === null
                  ? {}
                  : { ':seen_giftUpdatedAt': seen.giftUpdatedAt }),
              },
            },
          },
          ...(change.settles
            ? [
                {
                  Update: {
                    TableName: this.#tableName,
                    Key: { pk: batchPk(event.batchId), sk: BATCH_SK },
                    UpdateExpression: `SET updatedAt = :now ADD ${countAttribute('settled')} :one`,
                    ConditionExpression: 'attribute_exists(pk)',
                    ExpressionAttributeValues: { ':now': now, ':one': 1 },
                  },
                },
              ]
            : []),
        ]
      : [eventPut];
    try {
      await this.#documents.send(new TransactWriteCommand({ TransactItems: writes }));
      return 'recorded';
    } catch (error) {
      if (error instanceof TransactionCanceledException) {
        const [eventReason, rowReason] = (error.CancellationReasons ?? []).map((r) => r.Code);
        if (eventReason === 'ConditionalCheckFailed') return 'duplicate';
        if (rowReason === 'ConditionalCheckFailed') return 'conflict';
      }
      throw error;
    }
  }

  async keepUnmatchedNews(news: UnmatchedGiftNews, now: string): Promise<void> {
    try {
      await this.#documents.send(
        new PutCommand({
          TableName: this.#tableName,
          Item: {
            pk: giftNewsPk(news.giftRequestId),
            sk: GIFT_NEWS_SK,
            // Not `giftRequestId`: that would put the news in the gift request index.
            newsGiftRequestId: news.giftRequestId,
            newsStatus: news.giftStatus,
            newsUrl: news.redemptionUrl,
            newsUpdatedAt: news.giftUpdatedAt ?? '',
            receivedAt: now,
            [LEDGER_TTL_ATTRIBUTE]: news.expiresAt,
          },
          // Out-of-order deliveries: older news never replaces newer.
          ConditionExpression: 'attribute_not_exists(pk) OR newsUpdatedAt < :updatedAt',
          ExpressionAttributeValues: { ':updatedAt': news.giftUpdatedAt ?? '' },
        }),
      );
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
    }
  }

  async unmatchedNews(giftRequestId: string): Promise<UnmatchedGiftNews | null> {
    const { Item } = await this.#documents.send(
      new GetCommand({
        TableName: this.#tableName,
        Key: { pk: giftNewsPk(giftRequestId), sk: GIFT_NEWS_SK },
      }),
    );
    if (!Item) return null;
    return {
      giftRequestId,
      giftStatus: String(Item.newsStatus),
      redemptionUrl: stringOrNull(Item.newsUrl),
      giftUpdatedAt: stringOrNull(Item.newsUpdatedAt) || null,
      expiresAt: Number(Item[LEDGER_TTL_ATTRIBUTE]),
    };
  }

  async rowsDueForPolling(nowMs: number, limit: number): Promise<RowRecord[]> {
    const perShard = Math.max(1, Math.ceil(limit / POLL_SHARDS));
    const pages = await Promise.all(
      allPollShards().map((shard) =>
        this.#documents.send(
          new QueryCommand({
            TableName: this.#tableName,
            IndexName: LEDGER_INDEXES.byPollDue.name,
            KeyConditionExpression: 'pollShard = :shard AND pollDueAt <= :now',
            ExpressionAttributeValues: { ':shard': shard, ':now': nowMs },
            Limit: perShard,
          }),
        ),
      ),
    );
    return pages
      .flatMap((page) => (page.Items ?? []).map(toRowRecord))
      .sort((a, b) => (a.pollDueAt ?? 0) - (b.pollDueAt ?? 0))
      .slice(0, limit);
  }

  async addToCounts(batchId: string, delta: Partial<BatchCounts>, now: string): Promise<void> {
    const changes = COUNT_NAMES.filter((name) => (delta[name] ?? 0) !== 0);
    if (changes.length === 0) return;
    await this.#documents.send(
      new UpdateCommand({
        TableName: this.#tableName,
        Key: { pk: batchPk(batchId), sk: BATCH_SK },
        UpdateExpression: `SET updatedAt = :now ADD ${changes
          .map((name) => `${countAttribute(name)} :${name}`)
          .join(', ')}`,
        ConditionExpression: 'attribute_exists(pk)',
        ExpressionAttributeValues: {
          ':now': now,
          ...Object.fromEntries(changes.map((name) => [`:${name}`, delta[name]])),
        },
      }),
    );
  }

  async correctCounts(batchId: string, seen: BatchCounts, counts: SendCounts): Promise<boolean> {
    // Every counter as read: a delta that landed since, on any of them, refuses this write. A
    // counter never written (an event batch is created without them) reads as 0.
    const unchanged = COUNT_NAMES.map((name) => {
      const attribute = countAttribute(name);
      return seen[name] === 0
        ? `(attribute_not_exists(${attribute}) OR ${attribute} = :seen_${name})`
        : `${attribute} = :seen_${name}`;
    });
    return this.#sendIf(
      new UpdateCommand({
        TableName: this.#tableName,
        Key: { pk: batchPk(batchId), sk: BATCH_SK },
        UpdateExpression: `SET ${SEND_COUNT_NAMES.map(
          (name) => `${countAttribute(name)} = :${name}`,
        ).join(', ')}`,
        ConditionExpression: ['attribute_exists(pk)', ...unchanged].join(' AND '),
        ExpressionAttributeValues: {
          ...Object.fromEntries(COUNT_NAMES.map((name) => [`:seen_${name}`, seen[name]])),
          ...Object.fromEntries(SEND_COUNT_NAMES.map((name) => [`:${name}`, counts[name]])),
        },
      }),
    );
  }

  async noteActivity(batchId: string, now: string): Promise<void> {
    await this.#sendIf(
      new UpdateCommand({
        TableName: this.#tableName,
        Key: { pk: batchPk(batchId), sk: BATCH_SK },
        UpdateExpression: 'SET lastActivityAt = :now',
        ConditionExpression: 'attribute_exists(pk)',
        ExpressionAttributeValues: { ':now': now },
      }),
    );
  }

  async setPhase(
    batchId: string,
    phase: BatchPhase,
    fields: { stopReason?: string | null; completedAt?: string; resultsKey?: string },
    now: string,
  ): Promise<void> {
    const values: Item = { ':phase': phase, ':now': now };
    const sets = ['phase = :phase', 'updatedAt = :now'];
    for (const [name, value] of Object.entries(fields)) {
      if (value === undefined) continue;
      sets.push(`${name} = :${name}`);
      values[`:${name}`] = value;
    }
    await this.#documents.send(
      new UpdateCommand({
        TableName: this.#tableName,
        Key: { pk: batchPk(batchId), sk: BATCH_SK },
        UpdateExpression: `SET ${sets.join(', ')}`,
        ConditionExpression: 'attribute_exists(pk)',
        ExpressionAttributeValues: values,
      }),
    );
  }

  async markReconciled(batchId: string, seen: string | null, now: string): Promise<boolean> {
    return this.#sendIf(
      new UpdateCommand({
        TableName: this.#tableName,
        Key: { pk: batchPk(batchId), sk: BATCH_SK },
        UpdateExpression: 'SET lastReconciledAt = :now',
        ConditionExpression:
          seen === null
            ? 'attribute_exists(pk) AND (attribute_not_exists(lastReconciledAt) OR lastReconciledAt = :null)'
            : 'lastReconciledAt = :seen',
        ExpressionAttributeValues: {
          ':now': now,
          ...(seen === null ? { ':null': null } : { ':seen': seen }),
        },
      }),
    );
  }

  async movePhase(
    batchId: string,
    from: BatchPhase,
    to: BatchPhase,
    now: string,
  ): Promise<boolean> {
    return this.#sendIf(
      new UpdateCommand({
        TableName: this.#tableName,
        Key: { pk: batchPk(batchId), sk: BATCH_SK },
        UpdateExpression: 'SET phase = :to, updatedAt = :now',
        ConditionExpression: 'phase = :from',
        ExpressionAttributeValues: { ':from': from, ':to': to, ':now': now },
      }),
    );
  }

  async *listCampaignRows(
    campaignId: string,
    range: { from?: string; to?: string } = {},
  ): AsyncIterable<RowRecord> {
    // campaignAt is "<recorded ISO>#<batch>#<row>": every key of an instant sorts after the bare
    // instant and before the instant followed by U+FFFF, so both bounds take the whole instant.
    // DynamoDB refuses an empty key value, so an open end is left out of the condition instead.
    const bounds: Item = {};
    if (range.from !== undefined) bounds[':from'] = range.from;
    if (range.to !== undefined) bounds[':to'] = `${range.to}\uffff`;
    const sortCondition =
      range.from !== undefined && range.to !== undefined
        ? ' AND campaignAt BETWEEN :from AND :to'
        : range.from !== undefined
          ? ' AND campaignAt >= :from'
          : range.to !== undefined
            ? ' AND campaignAt <= :to'
            : '';
    let startKey: Item | undefined;
    do {
      const page = await this.#documents.send(
        new QueryCommand({
          TableName: this.#tableName,
          IndexName: LEDGER_INDEXES.byCampaign.name,
          KeyConditionExpression: `campaignId = :campaign${sortCondition}`,
          ExpressionAttributeValues: { ':campaign': campaignId, ...bounds },
          ExclusiveStartKey: startKey,
          Limit: this.#campaignPageSize,
        }),
      );
      for (const item of page.Items ?? []) yield toRowRecord(item);
      startKey = page.LastEvaluatedKey;
    } while (startKey);
  }

  async listBatches(options: { limit?: number; active?: boolean } = {}): Promise<BatchRecord[]> {
    const limit = options.limit ?? 50;
    const batches: BatchRecord[] = [];
    let startKey: Item | undefined;
    do {
      const page = await this.#documents.send(
        new QueryCommand({
          TableName: this.#tableName,
          IndexName: LEDGER_INDEXES.byKind.name,
          KeyConditionExpression: 'kind = :batch',
          ...(options.active
            ? { FilterExpression: 'phase IN (:splitting, :approved, :sending)' }
            : {}),
          ExpressionAttributeValues: {
            ':batch': 'BATCH',
            ...(options.active
              ? { ':splitting': 'splitting', ':approved': 'approved', ':sending': 'sending' }
              : {}),
          },
          ScanIndexForward: false,
          ExclusiveStartKey: startKey,
        }),
      );
      batches.push(...(page.Items ?? []).map(toBatchRecord));
      startKey = page.LastEvaluatedKey;
    } while (startKey && batches.length < limit);
    return batches.slice(0, limit);
  }

  async findIdempotencyKey(key: string): Promise<IdempotencyRecord | null> {
    const { Item } = await this.#documents.send(
      new GetCommand({
        TableName: this.#tableName,
        Key: { pk: idempotencyPk(key), sk: IDEMPOTENCY_SK },
        ConsistentRead: true,
      }),
    );
    if (!Item) return null;
    return {
      key: String(Item.key),
      payloadHash: String(Item.payloadHash),
      batchId: String(Item.batchId),
      row: Number(Item.row),
      createdAt: String(Item.createdAt),
    };
  }

  async nextEventRow(batch: {
    batchId: string;
    source: BatchSource;
    createdAt: string;
  }): Promise<number> {
    // One write: the first event of a day creates its batch (already `sending`: there is no split
    // to wait for) and every event takes the next number of the batch's counter.
    const { Attributes } = await this.#documents.send(
      new UpdateCommand({
        TableName: this.#tableName,
        Key: { pk: batchPk(batch.batchId), sk: BATCH_SK },
        UpdateExpression: [
          'SET kind = if_not_exists(kind, :kind), batchId = if_not_exists(batchId, :batchId),',
          '#source = if_not_exists(#source, :source), phase = if_not_exists(phase, :sending),',
          'createdAt = if_not_exists(createdAt, :createdAt), updatedAt = :createdAt,',
          'splitCompletedAt = if_not_exists(splitCompletedAt, :createdAt)',
          'ADD nextRow :one',
        ].join(' '),
        ExpressionAttributeNames: { '#source': 'source' },
        ExpressionAttributeValues: {
          ':kind': 'BATCH',
          ':batchId': batch.batchId,
          ':source': batch.source,
          ':sending': 'sending' satisfies BatchPhase,
          ':createdAt': batch.createdAt,
          ':one': 1,
        },
        ReturnValues: 'UPDATED_NEW',
      }),
    );
    const row = Number(Attributes?.nextRow);
    if (!Number.isSafeInteger(row) || row < 1) {
      throw new Error(`DynamoDB returned no row number for event batch ${batch.batchId}`);
    }
    return row;
  }

  async putEventRow(row: NewRow, claim: EventRowClaim, now: string): Promise<boolean> {
    try {
      await this.#documents.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              Put: {
                TableName: this.#tableName,
                Item: {
                  pk: idempotencyPk(claim.key),
                  sk: claim.conflict ? conflictSk(claim.payloadHash) : IDEMPOTENCY_SK,
                  // No `kind`: that attribute is the byKind index's key, which lists batches only.
                  key: claim.key,
                  payloadHash: claim.payloadHash,
                  batchId: row.batchId,
                  row: row.row,
                  createdAt: now,
                },
                ConditionExpression: 'attribute_not_exists(pk)',
              },
            },
            {
              Put: {
                TableName: this.#tableName,
                Item: toRowItem(row, now),
                ConditionExpression: 'attribute_not_exists(pk)',
              },
            },
            {
              Update: {
                TableName: this.#tableName,
                Key: { pk: batchPk(row.batchId), sk: BATCH_SK },
                UpdateExpression: `SET updatedAt = :now ADD count_rows :one, ${countAttribute(
                  row.state === 'pending' ? 'valid' : 'invalid',
                )} :one`,
                ConditionExpression: 'attribute_exists(pk)',
                ExpressionAttributeValues: { ':now': now, ':one': 1 },
              },
            },
          ],
        }),
      );
      return true;
    } catch (error) {
      const reasons =
        error instanceof TransactionCanceledException ? error.CancellationReasons : [];
      if (reasons?.[0]?.Code === 'ConditionalCheckFailed') return false;
      throw error;
    }
  }

  /**
   * A conditional move of a row out of `from` (default: `sending`): the state it left (the batch's
   * counters follow the move), or null when it was elsewhere and nothing was written.
   */
  async #moveFromSending(
    batchId: string,
    row: number,
    updateExpression: string,
    values: Item,
    from: MovedFrom[] = ['sending'],
  ): Promise<MovedFrom | null> {
    const fromValues = Object.fromEntries(from.map((state, index) => [`:from${index}`, state]));
    try {
      const { Attributes } = await this.#documents.send(
        new UpdateCommand({
          TableName: this.#tableName,
          Key: { pk: batchPk(batchId), sk: rowSk(row) },
          UpdateExpression: updateExpression,
          ConditionExpression: `#state IN (${Object.keys(fromValues).join(', ')})`,
          ExpressionAttributeNames: {
            '#state': 'state',
            ...(updateExpression.includes('#errors') ? { '#errors': 'errors' } : {}),
          },
          ExpressionAttributeValues: { ...values, ...fromValues },
          // The state before this write, read in the same atomic step: which move was made.
          ReturnValues: 'UPDATED_OLD',
        }),
      );
      const before = Attributes?.state;
      if (before !== 'sending' && before !== 'unknown') {
        throw new Error(`DynamoDB returned no earlier state for row ${row} of ${batchId}`);
      }
      return before;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return null;
      throw error;
    }
  }

  /** Writes up to 25 items, retrying what DynamoDB leaves unprocessed, with a growing pause. */
  async #batchWrite(items: Item[]): Promise<void> {
    let pending = items.map((Item) => ({ PutRequest: { Item } }));
    for (let attempt = 0; pending.length > 0; attempt += 1) {
      if (attempt > 0) await this.#sleep(Math.min(2000, 50 * 2 ** attempt));
      if (attempt > 10)
        throw new Error(`DynamoDB left ${pending.length} rows unwritten after retries`);
      const result = await this.#documents.send(
        new BatchWriteCommand({ RequestItems: { [this.#tableName]: pending } }),
      );
      pending = (result.UnprocessedItems?.[this.#tableName] ?? []).flatMap((request) =>
        request.PutRequest?.Item ? [{ PutRequest: { Item: request.PutRequest.Item } }] : [],
      );
    }
  }
}

function toRowItem(row: NewRow, now: string): Item {
  const campaignId = row.echo.campaignId ?? row.body?.campaign_id ?? null;
  return {
    pk: batchPk(row.batchId),
    sk: rowSk(row.row),
    batchId: row.batchId,
    row: row.row,
    line: row.line,
    state: row.state,
    echo: row.echo,
    body: row.body,
    errors: row.errors,
    ...(row.idempotencyKey ? { idempotencyKey: row.idempotencyKey } : {}),
    ...(row.metadata ? { metadata: row.metadata } : {}),
    createdAt: now,
    updatedAt: now,
    // The campaign index is sparse: rows without a campaign (invalid ones) have no key there.
    ...(campaignId
      ? {
          campaignId,
          campaignAt: `${now}#${row.batchId}#${paddedRow(row.row)}`,
        }
      : {}),
  };
}

function toRowRecord(item: Item): RowRecord {
  const echo = (item.echo ?? {}) as Partial<RowRecord['echo']>;
  return {
    batchId: String(item.batchId),
    row: Number(item.row),
    line: Number(item.line),
    state: item.state as RowState,
    echo: {
      externalId: echo.externalId ?? null,
      campaignId: echo.campaignId ?? null,
      firstName: echo.firstName ?? null,
      lastName: echo.lastName ?? null,
      email: echo.email ?? null,
    },
    body: (item.body as RowRecord['body']) ?? null,
    errors: (item.errors as RowRecord['errors']) ?? [],
    idempotencyKey: stringOrNull(item.idempotencyKey),
    metadata: (item.metadata as RowRecord['metadata']) ?? null,
    giftRequestId: stringOrNull(item.giftRequestId),
    giftStatus: stringOrNull(item.giftStatus),
    redemptionUrl: stringOrNull(item.redemptionUrl),
    requestId: stringOrNull(item.requestId),
    sentAt: stringOrNull(item.sentAt),
    unknownReason: stringOrNull(item.unknownReason),
    releasedFromUnknownAt: stringOrNull(item.releasedFromUnknownAt),
    previousUnknownReason: stringOrNull(item.previousUnknownReason),
    previousRequestId: stringOrNull(item.previousRequestId),
    giftCreatedAt: stringOrNull(item.giftCreatedAt),
    giftUpdatedAt: stringOrNull(item.giftUpdatedAt),
    createdAt: String(item.createdAt),
    updatedAt: String(item.updatedAt),
    pollDueAt: typeof item.pollDueAt === 'number' ? item.pollDueAt : null,
    pollDeadlineAt: typeof item.pollDeadlineAt === 'number' ? item.pollDeadlineAt : null,
  };
}

function toBatchRecord(item: Item): BatchRecord {
  return {
    batchId: String(item.batchId),
    source: item.source as BatchSource,
    phase: item.phase as BatchPhase,
    stopReason: stringOrNull(item.stopReason),
    counts: Object.fromEntries(
      COUNT_NAMES.map((name) => [name, Number(item[countAttribute(name)] ?? 0)]),
    ) as unknown as BatchCounts,
    createdAt: String(item.createdAt),
    updatedAt: String(item.updatedAt),
    splitCompletedAt: stringOrNull(item.splitCompletedAt),
    fileError: stringOrNull(item.fileError),
    completedAt: stringOrNull(item.completedAt),
    resultsKey: stringOrNull(item.resultsKey),
    lastReconciledAt: stringOrNull(item.lastReconciledAt),
    lastActivityAt: stringOrNull(item.lastActivityAt),
    preflight: (item.preflight as BatchPreflight | null | undefined) ?? null,
    approvalReason: stringOrNull(item.approvalReason),
    splitCheckpoint: (item.splitCheckpoint as SplitCheckpoint | undefined) ?? null,
  };
}

const stringOrNull = (value: unknown): string | null => (typeof value === 'string' ? value : null);

/** `:NULL`, the DynamoDB type name, when a seen value is null (attribute_type needs it). */
function nullType(seen: GiftEventRecord['seen']): Item {
  const anyNull =
    seen.giftStatus === null || seen.redemptionUrl === null || seen.giftUpdatedAt === null;
  return anyNull ? { ':NULL': 'NULL' } : {};
}
