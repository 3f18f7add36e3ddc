import { MAX_DELAY_SECONDS } from '../lambdas/core/send-counts.ts';

const SENDER_TIMEOUT_SECONDS = 60;
const VISIBILITY_TIMEOUT_SECONDS = 6 * SENDER_TIMEOUT_SECONDS;

/**
 * The numbers the deployed stack and the local runtime share, so that a local run drives the
 * handlers exactly as Lambda and SQS will in AWS.
 */
export const PIPELINE = {
  splitter: {
    timeoutSeconds: 900,
    memoryMb: 1024,
    /** Hand over to a new invocation with this much time left: a chunk and a hand-over take ~1 s. */
    handOverWhenRemainingSeconds: 60,
    /**
     * A split whose checkpoint has not moved for this long lost its splitter (a crash; a timeout
     * hands over on its own): longer than any invocation runs, so no live splitter is overtaken.
     */
    stalledAfterSeconds: 900 + 120,
  },
  /** Carries a split that one invocation could not finish to the next (the splitter's 2nd source). */
  splitQueue: {
    /** At least the splitter's timeout (SQS event sources require it); six times, as AWS advises. */
    visibilityTimeoutSeconds: 6 * 900,
    /**
     * A continuation is claimed before any work, so a retry after a failure finds it claimed and does
     * nothing; the poller re-sends a stalled split. Three receives cover a transient error first.
     */
    maxReceiveCount: 3,
    dlqRetentionDays: 14,
  },
  sender: {
    timeoutSeconds: SENDER_TIMEOUT_SECONDS,
    memoryMb: 512,
    /** Messages per invocation (SQS allows at most 10 per receive). */
    batchSize: 10,
    /** The event source mapping's MaximumConcurrency: the fleet's bound, not reserved concurrency. */
    maxConcurrency: 5,
    /**
     * POSTs in flight per invocation (p-limit): the whole batch, since the shared rate limiter, not
     * this bound, paces the calls; 5 invocations × 10 keep ~50 requests in flight, enough for about
     * 250 requests/s at &Open's ~200 ms latency.
     */
    concurrencyPerInvocation: 10,
  },
  sendQueue: {
    /** AWS's advice for SQS event sources: at least six times the function timeout. */
    visibilityTimeoutSeconds: VISIBILITY_TIMEOUT_SECONDS,
    /**
     * Receives before a message is dead-lettered. Waiting (429, 503, a stopped batch) re-queues a new
     * message instead of failing, so only real failures count here: five covers a crashed container or
     * two and a transient ledger error, while a poison message still lands in the DLQ within minutes.
     */
    maxReceiveCount: 5,
    dlqRetentionDays: 14,
  },
  /** Long enough to write a big batch's results file; one run at a time (a lease, see poller.ts). */
  poller: { timeoutSeconds: 300, memoryMb: 512, everyMinutes: 1 },
  intake: {
    timeoutSeconds: 30,
    memoryMb: 256,
    batchSize: 10,
    /** Events are single gifts; the senders, not the intake, set the pace. */
    maxConcurrency: 2,
    /**
     * Receives before an intake message is dead-lettered: an unreadable event (no idempotency key)
     * fails every time, so three tries are enough to ride out a transient ledger error.
     */
    maxReceiveCount: 3,
    dlqRetentionDays: 14,
    archiveRetentionDays: 30,
  },
  /** The poller's reconcile: re-driving rows whose message was lost (reconcile-service.ts). */
  reconcile: {
    /**
     * A batch is re-driven only after this long without ledger progress: longer than a live message
     * can be out of sight (a re-queue delayed by the longest delay, then received and held for the
     * visibility timeout: 21 minutes), with a few minutes' margin.
     */
    quietAfterSeconds: VISIBILITY_TIMEOUT_SECONDS + MAX_DELAY_SECONDS + 4 * 60,
    /** A `sending` row is re-driven only once its sender must have ended: its time limit + margin. */
    sendingStaleAfterSeconds: 2 * SENDER_TIMEOUT_SECONDS,
  },
  webhook: {
    /** One index lookup and one conditional write: well under a second; &Open retries a timeout. */
    timeoutSeconds: 10,
    memoryMb: 256,
  },
  /**
   * A campaign export streams page by page (flat memory): at the ~1,700 rows/s bench:export
   * measured against DynamoDB Local on a loaded 2-core machine, 15 minutes is ~1.5 million rows.
   */
  exporter: { timeoutSeconds: 900, memoryMb: 1024 },
} as const;
