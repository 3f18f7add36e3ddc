import { describe, expect, it } from 'vitest';
import { correctCounts, RowTally } from '../../../lambdas/core/batch-recount.ts';
import type { NewRow, SendRecord } from '../../../lambdas/ports/ledger.ts';
import { InMemoryLedger } from '../../support/in-memory-ledger.ts';

const T0 = Date.parse('2026-11-22T10:00:00.000Z');
const iso = (ms: number) => new Date(ms).toISOString();
const SOURCE = { description: 't', bucket: null, key: null, versionOrEtag: null };

function row(number: number, state: NewRow['state'] = 'pending'): NewRow {
  return {
    batchId: 'b',
    row: number,
    line: number + 1,
    state,
    echo: { externalId: null, campaignId: 'c', firstName: 'A', lastName: 'B', email: null },
    body:
      state === 'pending'
        ? { campaign_id: 'c', recipient: { first_name: 'A', last_name: 'B' } }
        : null,
    errors: [],
  };
}

const created = (url: string | null): SendRecord => ({
  state: 'created',
  requestId: 'req',
  giftRequestId: 'g',
  giftStatus: 'submitted',
  redemptionUrl: url,
  giftCreatedAt: null,
  giftUpdatedAt: null,
  pollDueAt: url === null ? T0 + 60_000 : null,
  pollDeadlineAt: T0 + 600_000,
});

/**
 * A batch of 6 rows whose moves ended at T0: created with its URL, created still waiting for one,
 * rejected, unknown, pending, invalid. Its counters say nothing of them (the deltas were lost).
 */
async function batchWithLostCounts(): Promise<InMemoryLedger> {
  const ledger = new InMemoryLedger({ clock: { now: () => T0 - 60_000 } });
  await ledger.createBatch({ batchId: 'b', source: SOURCE, createdAt: iso(T0 - 60_000) });
  await ledger.putRows([row(1), row(2), row(3), row(4), row(5), row(6, 'invalid')]);
  await ledger.completeSplit('b', { rows: 6, valid: 5, invalid: 1 }, null);
  for (const number of [1, 2, 3, 4]) await ledger.claimRow('b', number, iso(T0 - 1_000));
  await ledger.recordSend('b', 1, created('https://gift/r/1'), iso(T0));
  await ledger.recordSend('b', 2, created(null), iso(T0));
  await ledger.recordSend('b', 3, { state: 'rejected', requestId: 'r', errors: [] }, iso(T0));
  await ledger.markUnknown('b', 4, 'a sender stopped mid-request', iso(T0));
  return ledger;
}

async function tally(ledger: InMemoryLedger): Promise<RowTally> {
  const rows = new RowTally();
  for await (const record of ledger.listRows('b')) rows.add(record);
  return rows;
}

describe('RowTally', () => {
  it('counts each decided row once by its state, and created rows settled once followed no more', async () => {
    // Prepare
    const ledger = await batchWithLostCounts();

    // Act
    const rows = await tally(ledger);

    // Assess
    expect(rows.counts).toEqual({ created: 2, rejected: 1, unknown: 1, settled: 1 });
    expect(rows.newestMoveMs).toBe(T0);
  });
});

describe('correctCounts', () => {
  it('sets the counters the rows say once every row moved before the instant given', async () => {
    // Prepare
    const ledger = await batchWithLostCounts();
    const seen = (await ledger.getBatch('b'))?.counts;
    if (!seen) throw new Error('no batch');
    const rows = await tally(ledger);

    // Act
    const outcome = await correctCounts(ledger, 'b', seen, rows, T0 + 1);

    // Assess
    expect(outcome).toBe('corrected');
    expect((await ledger.getBatch('b'))?.counts).toEqual({
      rows: 6,
      valid: 5,
      invalid: 1,
      created: 2,
      rejected: 1,
      unknown: 1,
      settled: 1,
    });
  });

  it('writes nothing while a row moved too recently: its delta may still be on its way', async () => {
    // Prepare
    const ledger = await batchWithLostCounts();
    const seen = (await ledger.getBatch('b'))?.counts;
    if (!seen) throw new Error('no batch');
    const rows = await tally(ledger);

    // Act
    const outcome = await correctCounts(ledger, 'b', seen, rows, T0);

    // Assess
    expect(outcome).toBe('unsettled');
    expect((await ledger.getBatch('b'))?.counts.created).toBe(0);
  });

  it('refuses to overwrite a delta that landed after the counters were read', async () => {
    // Prepare: the counters are read, then a late delta lands before the correction is written.
    const ledger = await batchWithLostCounts();
    const seen = (await ledger.getBatch('b'))?.counts;
    if (!seen) throw new Error('no batch');
    const rows = await tally(ledger);
    await ledger.addToCounts('b', { created: 2, rejected: 1 }, iso(T0 + 10));

    // Act
    const outcome = await correctCounts(ledger, 'b', seen, rows, T0 + 60_000);

    // Assess
    expect(outcome).toBe('raced');
    expect((await ledger.getBatch('b'))?.counts).toMatchObject({ created: 2, rejected: 1 });
  });

  it('leaves counters that agree with the rows alone', async () => {
    // Prepare
    const ledger = await batchWithLostCounts();
    await ledger.addToCounts('b', { created: 2, rejected: 1, unknown: 1, settled: 1 }, iso(T0));
    const seen = (await ledger.getBatch('b'))?.counts;
    if (!seen) throw new Error('no batch');
    let writes = 0;
    ledger.correctCounts = async () => {
      writes += 1;
      return true;
    };

    // Act
    const outcome = await correctCounts(ledger, 'b', seen, await tally(ledger), T0 + 60_000);

    // Assess
    expect(outcome).toBe('agreed');
    expect(writes).toBe(0);
  });
});
