import { describe, expect, it } from 'vitest';
import { runAlone } from '../../../lambdas/core/run-alone.ts';
import { InMemoryRunLease } from '../../support/in-memory-ports.ts';

function clockAt(start: number) {
  const clock = { ms: start, now: () => clock.ms };
  return clock;
}

describe('runAlone', () => {
  it('does nothing while another run holds the lease, and runs once it was given back', async () => {
    // Prepare: a first run whose work waits until we let it finish.
    const lease = new InMemoryRunLease();
    const clock = clockAt(1_000);
    let finishFirst: () => void = () => {};
    const firstWork = new Promise<string>((resolve) => {
      finishFirst = () => resolve('first');
    });
    const first = runAlone(
      lease,
      { name: 'poller', holder: 'a', clock, remainingMs: 300_000 },
      () => firstWork,
    );

    // Act: a second run comes while the first is going, then a third after it ended.
    clock.ms += 60_000;
    let secondWorked = false;
    const second = await runAlone(
      lease,
      { name: 'poller', holder: 'b', clock, remainingMs: 300_000 },
      async () => {
        secondWorked = true;
      },
    );
    finishFirst();
    const firstResult = await first;
    const third = await runAlone(
      lease,
      { name: 'poller', holder: 'c', clock, remainingMs: 300_000 },
      async () => 'third',
    );

    // Assess
    expect(second).toEqual({ ran: false });
    expect(secondWorked).toBe(false);
    expect(firstResult).toEqual({ ran: true, value: 'first' });
    expect(third).toEqual({ ran: true, value: 'third' });
  });

  it('gives the lease back when the work fails', async () => {
    // Prepare
    const lease = new InMemoryRunLease();
    const clock = clockAt(1_000);

    // Act
    const failed = runAlone(
      lease,
      { name: 'poller', holder: 'a', clock, remainingMs: 300_000 },
      async () => {
        throw new Error('boom');
      },
    );

    // Assess
    await expect(failed).rejects.toThrow('boom');
    const next = await runAlone(
      lease,
      { name: 'poller', holder: 'b', clock, remainingMs: 300_000 },
      async () => 'ran',
    );
    expect(next).toEqual({ ran: true, value: 'ran' });
  });

  it('lets the next run in once a run that died could no longer be alive', async () => {
    // Prepare: a run that took the lease and never gave it back (Lambda ended it at its timeout).
    const lease = new InMemoryRunLease();
    const clock = clockAt(1_000);
    await lease.acquire('poller', 'dead', clock.now(), clock.now() + 300_000);

    // Act: a tick within its time, and one after it.
    clock.ms += 299_000;
    const tooSoon = await runAlone(
      lease,
      { name: 'poller', holder: 'b', clock, remainingMs: 300_000 },
      async () => 'ran',
    );
    clock.ms += 2_000;
    const after = await runAlone(
      lease,
      { name: 'poller', holder: 'c', clock, remainingMs: 300_000 },
      async () => 'ran',
    );

    // Assess
    expect(tooSoon).toEqual({ ran: false });
    expect(after).toEqual({ ran: true, value: 'ran' });
  });
});
