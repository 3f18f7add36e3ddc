/**
 * The send queue carries only a pointer to a ledger row: the ledger holds the body and the state, so a
 * message that is lost, duplicated or replayed can never change what is sent.
 */
export interface SendMessage {
  batchId: string;
  row: number;
}

export interface EnqueueOptions {
  /** Hold the messages back this long (SQS: 0–900 s; the adapter clamps). Default: the queue's. */
  delaySeconds?: number;
}

export interface SendQueue {
  /** Enqueues messages (the adapter batches them, 10 to a request). */
  enqueue(messages: SendMessage[], options?: EnqueueOptions): Promise<void>;
}
