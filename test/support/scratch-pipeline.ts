/**
 * The whole local pipeline (stand-ins, handlers, the built-in sandbox) on a fresh state directory in
 * a scratch folder, as the pipeline integration tests start it in their beforeAll.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalPipeline, type LocalPipelineOptions } from '../../local/runtime/local-pipeline.ts';

export type ScratchPipelineOptions = Omit<LocalPipelineOptions, 'stateDir' | 'fresh'>;

export interface ScratchPipeline {
  /** The scratch folder: the state directory is `state/` in it; tests write their files beside. */
  dir: string;
  pipeline: LocalPipeline;
  /** Stops the pipeline and removes the scratch folder. */
  stop(): Promise<void>;
}

/** `name` tells the scratch folders apart in the temp directory (gift-batch-NAME-XXXXXX). */
export async function startScratchPipeline(
  name: string,
  options: ScratchPipelineOptions,
): Promise<ScratchPipeline> {
  const dir = await mkdtemp(join(tmpdir(), `gift-batch-${name}-`));
  try {
    const pipeline = await LocalPipeline.start({
      ...options,
      stateDir: join(dir, 'state'),
      fresh: true,
    });
    return {
      dir,
      pipeline,
      stop: async () => {
        await pipeline.stop();
        await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}

/**
 * A tight rate limit &Open does not announce (15 requests a second, bursts of 3) and answers slow
 * enough that requests overlap, so senders meet 429s and must share the limit; the poller looks
 * early and often so links arrive within the test.
 */
export const TIGHT_UNANNOUNCED_LIMIT: ScratchPipelineOptions = {
  sandbox: {
    rateLimit: { rps: 15, burst: 3 },
    latencyMs: { min: 20, max: 60 },
    redemptionUrlDelayMs: 200,
  },
  pollEveryMs: 200,
  environment: { POLL_FIRST_AFTER_MS: '300', POLL_MIN_INTERVAL_MS: '300' },
};
