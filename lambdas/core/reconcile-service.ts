import type { Ledger } from '../ports/ledger.ts';
import type { SendMessage, SendQueue } from '../ports/send-queue.ts';

/** Messages queued together when re-driving a batch. */
const REDRIVE_CHUNK = 100;

/**
 * The ledger is the source of truth; the queue is only transport. A row still `pending` (or left in
 * `sending` by a sender that died) whose message is gone — an interrupted local run, an expired or
 * dead-lettered message — is queued again. Queuing a row that still has a message is harmless: the
 * claim lets only one delivery send it, and a row found in `sending` becomes `unknown`, never a
 * second POST.
 *
 * Primary course:
 * 1. Walk the active batch's rows in order.
 * 2. Queue every row not yet decided, in chunks.
 */
export class ReconcileService {
  readonly #ledger: Ledger;
  readonly #queue: SendQueue;

  constructor(deps: { ledger: Ledger; queue: SendQueue }) {
    this.#ledger = deps.ledger;
    this.#queue = deps.queue;
  }

  /** Re-drives the undecided rows of one batch; returns how many were queued. */
  async redriveBatch(batchId: string): Promise<number> {
    let queued = 0;
    let chunk: SendMessage[] = [];
    for await (const row of this.#ledger.listRows(batchId)) {
      if (row.state !== 'pending' && row.state !== 'sending') continue;
      chunk.push({ batchId, row: row.row });
      if (chunk.length >= REDRIVE_CHUNK) {
        await this.#queue.enqueue(chunk);
        queued += chunk.length;
        chunk = [];
      }
    }
    if (chunk.length > 0) await this.#queue.enqueue(chunk);
    return queued + chunk.length;
  }

  /** Re-drives every batch still sending; returns the rows queued per batch. */
  async redriveActiveBatches(): Promise<Map<string, number>> {
    const queued = new Map<string, number>();
    for (const batch of await this.#ledger.listBatches({ active: true, limit: 1_000 })) {
      if (batch.phase !== 'sending') continue;
      queued.set(batch.batchId, await this.redriveBatch(batch.batchId));
    }
    return queued;
  }
}
