/**
 * A split handed to a new splitter invocation: the batch, and the checkpoint sequence it carries on
 * from. The ledger holds the position; a message whose sequence is no longer the batch's (delivered
 * twice, or overtaken) does nothing.
 */
export interface SplitContinuation {
  batchId: string;
  sequence: number;
  /**
   * Queue again the valid rows of the chunk recorded last: set when the previous invocation died
   * (it may have saved the checkpoint and not queued them), not when it handed over in good order.
   */
  requeueLastChunk: boolean;
}

export interface SplitContinuations {
  /** Hands the split to a new invocation (in AWS: the split continuation queue). */
  handOver(continuation: SplitContinuation): Promise<void>;
}
