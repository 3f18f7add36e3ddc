import { RemovalPolicy } from 'aws-cdk-lib';
import { AttributeType, BillingMode, ProjectionType, Table } from 'aws-cdk-lib/aws-dynamodb';
import { Construct } from 'constructs';
import {
  LEDGER_INDEXES,
  LEDGER_KEYS,
  LEDGER_TTL_ATTRIBUTE,
  type LedgerIndex,
} from '../lambdas/adapters/ledger-table.ts';
import type { HandlerName, LedgerAccess } from './gift-batch-function.ts';

const attributeType = { S: AttributeType.STRING, N: AttributeType.NUMBER } as const;

/**
 * The ledger: the pipeline's source of truth (which rows exist, which were sent, what &Open
 * answered). Built from the same constants the adapter and the local runtime use, so the three
 * cannot drift apart. On-demand, because a batch is a burst and the table is idle between batches.
 * Retained when the stack is deleted and point-in-time recoverable: it is the only record of which
 * gifts were sent, and losing it would let a re-upload send them again.
 */
export class LedgerConstruct extends Construct {
  readonly table: Table;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    this.table = new Table(this, 'Table', {
      partitionKey: { name: LEDGER_KEYS.partitionKey, type: AttributeType.STRING },
      sortKey: { name: LEDGER_KEYS.sortKey, type: AttributeType.STRING },
      billingMode: BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      timeToLiveAttribute: LEDGER_TTL_ATTRIBUTE,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    for (const index of Object.values(LEDGER_INDEXES) as LedgerIndex[]) {
      this.table.addGlobalSecondaryIndex({
        indexName: index.name,
        partitionKey: { name: index.partitionKey, type: AttributeType.STRING },
        ...(index.sortKey !== null && index.sortKeyType !== null
          ? { sortKey: { name: index.sortKey, type: attributeType[index.sortKeyType] } }
          : {}),
        // The adapter reads whole rows from most indexes (polling, listing batches, exports).
        ...(index.projection
          ? { projectionType: ProjectionType.INCLUDE, nonKeyAttributes: [...index.projection] }
          : { projectionType: ProjectionType.ALL }),
      });
    }
  }
}

/**
 * What each handler does to the ledger, in one place (update it when a handler's ledger calls
 * change). Only the poller queries indexes: rows due for polling and the list of batches. The
 * campaign index serves the CLI's finance export, which runs with a person's credentials.
 */
export const LEDGER_ACCESS = {
  // createBatch (conditional Put), putRows (BatchWrite), checkpoints and completeSplit
  // (conditional Update), getBatch (Get).
  splitter: { actions: ['GetItem', 'PutItem', 'BatchWriteItem', 'UpdateItem'] },
  // Claim, outcome, release and counters are conditional updates; the fleet's shared rate limit
  // (dynamodb-limiter-store.ts) is a Get and a compare-and-set Put of one item.
  sender: { actions: ['GetItem', 'PutItem', 'UpdateItem'] },
  // Rows due (byPollDue), batches (byKind), a batch's rows (table), URL and phase updates, and the
  // shared rate limit, which the poller's GETs draw from too.
  poller: {
    actions: ['GetItem', 'PutItem', 'UpdateItem', 'Query'],
    indexes: ['byPollDue', 'byKind'],
  },
  // The idempotency item and the row (Get), the day batch's row counter (Update), and the row, its
  // key item and the counters in one TransactWriteItems (authorised as its Put and Update items).
  intake: { actions: ['GetItem', 'PutItem', 'UpdateItem'] },
  // The row of a gift request (byGiftRequest); the event id, the row's change and the batch's
  // settled count in one TransactWriteItems (Put + Update); news of a gift not yet known (Put).
  // The poller reads that news (GetItem) before it calls &Open.
  webhook: {
    actions: ['GetItem', 'PutItem', 'UpdateItem', 'Query'],
    indexes: ['byGiftRequest'],
  },
  // A campaign's rows (byCampaign, read only) and each batch's source (GetItem).
  exporter: { actions: ['GetItem', 'Query'], indexes: ['byCampaign'] },
} as const satisfies Record<HandlerName, LedgerAccess>;
