import type { LimiterState, LimiterStore } from '../../lambdas/ports/rate-limit.ts';

/**
 * The fleet's rate state held in this process only: for a one-off command (`gift-batch preflight`)
 * that is the only caller of &Open, so there is no fleet to share a budget with and no reason to
 * start DynamoDB Local for it. Compare-and-set like the DynamoDB store, so the limiter runs the same.
 */
export class MemoryLimiterStore implements LimiterStore {
  #state: LimiterState | null = null;

  async read(): Promise<LimiterState | null> {
    return this.#state ? { ...this.#state } : null;
  }

  async write(state: LimiterState, expectedVersion: number | null): Promise<boolean> {
    if ((this.#state?.version ?? null) !== expectedVersion) return false;
    this.#state = { ...state };
    return true;
  }
}
