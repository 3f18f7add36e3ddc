import type { Clock } from '../ports/clock.ts';
import type { Ledger } from '../ports/ledger.ts';
import type { SplitContinuations } from '../ports/split-continuations.ts';
import { firstCheckpoint } from './split-service.ts';

/**
 * A splitter that died (a crash, not a timeout: a timeout hands over on its own) leaves its batch
 * `splitting` with a checkpoint that no longer moves. Once it has been still for longer than any
 * invocation can run, nobody is working on it: take the checkpoint over (compare-and-set, so two
 * pollers cannot both do it) and hand the split to a new invocation, asking it to queue the last
 * recorded chunk again, since the dead one may have saved the checkpoint without queueing it.
 *
 * Primary course:
 * 1. Take the batches still splitting whose checkpoint (or creation, before the first one) is older
 *    than `stalledAfterMs`.
 * 2. Claim each: the same position under the next sequence, saved now.
 * 3. Let the caller act on the batch before the split moves on (`beforeHandOver`).
 * 4. Hand it over with `requeueLastChunk`.
 * Returns the batches handed over.
 */
export async function resumeStalledSplits(
  deps: {
    ledger: Ledger;
    continuations: SplitContinuations;
    clock: Clock;
    /**
     * Whether the batch's file can still be read. Locally the uploads die with the run that made
     * them: a split resumed before its file is back would find it gone and end the batch short.
     */
    fileIsThere?: (source: { bucket: string; key: string }) => Promise<boolean>;
    /**
     * Called once the batch is claimed and before its split moves on. Locally: the rows the dead
     * run recorded are queued again (its queue died with it), and the counts it never added are
     * recounted from them, which only works while no row of the batch has moved in this run.
     */
    beforeHandOver?: (batchId: string) => Promise<void>;
  },
  stalledAfterMs: number,
): Promise<string[]> {
  const now = deps.clock.now();
  const resumed: string[] = [];
  for (const batch of await deps.ledger.listBatches({ active: true, limit: 1_000 })) {
    if (batch.phase !== 'splitting' || batch.source.key === null) continue;
    const checkpoint = batch.splitCheckpoint ?? null;
    const savedAt = checkpoint?.savedAt ?? Date.parse(batch.updatedAt);
    if (now - savedAt < stalledAfterMs) continue;
    const { bucket, key } = batch.source;
    if (deps.fileIsThere && !(bucket !== null && (await deps.fileIsThere({ bucket, key })))) {
      continue;
    }
    const sequence = checkpoint?.sequence ?? 0;
    const claimed = { ...(checkpoint ?? firstCheckpoint()), sequence: sequence + 1, savedAt: now };
    if (!(await deps.ledger.saveSplitCheckpoint(batch.batchId, sequence, claimed))) continue;
    await deps.beforeHandOver?.(batch.batchId);
    await deps.continuations.handOver({
      batchId: batch.batchId,
      sequence: claimed.sequence,
      requeueLastChunk: true,
    });
    resumed.push(batch.batchId);
  }
  return resumed;
}
