import type { Clock } from '../ports/clock.ts';
import type { RunLease } from '../ports/run-lease.ts';

export type RunAloneResult<T> = { ran: true; value: T } | { ran: false };

/**
 * Runs `work` only when no other run of the same name is going, holding the lease for as long as
 * this invocation can live (Lambda ends it by then, so a run that dies keeps others out no longer).
 *
 * Primary course:
 * 1. Take the lease until now + the invocation's remaining time; if another run holds it, do
 *    nothing.
 * 2. Do the work, then give the lease back, also when the work failed.
 */
export async function runAlone<T>(
  lease: RunLease,
  run: { name: string; holder: string; clock: Clock; remainingMs: number },
  work: () => Promise<T>,
): Promise<RunAloneResult<T>> {
  const now = run.clock.now();
  if (!(await lease.acquire(run.name, run.holder, now, now + run.remainingMs))) {
    return { ran: false };
  }
  try {
    return { ran: true, value: await work() };
  } finally {
    await lease.release(run.name, run.holder);
  }
}
