import type { Clock } from '../ports/clock.ts';
import type { BatchRecord, Ledger } from '../ports/ledger.ts';
import type { SendQueue } from '../ports/send-queue.ts';
import { ReconcileService } from './reconcile-service.ts';

export type ApproveResult =
  | { kind: 'approved'; batch: BatchRecord }
  | { kind: 'missing' }
  /** Not waiting: already approved, sending, complete or stopped (approving twice is harmless). */
  | { kind: 'not-awaiting'; batch: BatchRecord };

export class ApprovalError extends Error {
  override readonly name = 'ApprovalError';
}

/**
 * The guardrail's second half: a batch the splitter held (over the size limit, or with preflight
 * findings) sends nothing until a person approves it.
 *
 * Primary course:
 * 1. Approve: `awaiting-approval → approved`, a conditional write, so only a held batch moves.
 * 2. Release: `approved → sending` (conditional again: one releaser wins), then queue every pending
 *    row of the batch. The claim before each POST still lets each row be sent once, whatever the
 *    number of messages.
 * A person approves with `gift-batch approve BATCH` (`--stack NAME` in AWS); the poller's next run
 * releases, in AWS and in a local run alike (`gift-batch run --yes` approves and releases at once).
 */
export class ApprovalService {
  readonly #ledger: Ledger;
  readonly #reconcile: ReconcileService | null;
  readonly #clock: Clock;

  /** Without a queue it only approves (`gift-batch approve`): releasing is the poller's. */
  constructor(deps: { ledger: Ledger; queue?: SendQueue | null; clock: Clock }) {
    this.#ledger = deps.ledger;
    this.#reconcile = deps.queue
      ? new ReconcileService({ ledger: deps.ledger, queue: deps.queue })
      : null;
    this.#clock = deps.clock;
  }

  async approve(batchId: string): Promise<ApproveResult> {
    const batch = await this.#ledger.getBatch(batchId);
    if (!batch) return { kind: 'missing' };
    if (!(await this.#ledger.movePhase(batchId, 'awaiting-approval', 'approved', this.#isoNow()))) {
      return { kind: 'not-awaiting', batch };
    }
    return { kind: 'approved', batch: { ...batch, phase: 'approved' } };
  }

  /** Queues the rows of one approved batch; null when it was not (or no longer) approved. */
  async release(batchId: string): Promise<number | null> {
    if (this.#reconcile === null) {
      throw new ApprovalError('this approval service has no send queue: it cannot release');
    }
    if (!(await this.#ledger.movePhase(batchId, 'approved', 'sending', this.#isoNow()))) {
      return null;
    }
    return this.#reconcile.redriveBatch(batchId);
  }

  /** Releases every approved batch (the poller's run); the rows queued per batch. */
  async releaseApproved(): Promise<Map<string, number>> {
    const released = new Map<string, number>();
    for (const batch of await this.#ledger.listBatches({ active: true, limit: 1_000 })) {
      if (batch.phase !== 'approved') continue;
      const queued = await this.release(batch.batchId);
      if (queued !== null) released.set(batch.batchId, queued);
    }
    return released;
  }

  #isoNow(): string {
    return new Date(this.#clock.now()).toISOString();
  }
}
