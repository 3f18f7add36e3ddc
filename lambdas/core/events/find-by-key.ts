import type { Ledger, RowRecord } from '../../ports/ledger.ts';

/**
 * The ledger row an idempotency key created (its first payload), for `status --key` and support:
 * null for a key never seen. A later, different payload under the key has its own `invalid` row in
 * the same day's event batch; this returns the gift the key stands for.
 */
export async function findRowByIdempotencyKey(
  ledger: Ledger,
  key: string,
): Promise<RowRecord | null> {
  const known = await ledger.findIdempotencyKey(key);
  return known ? ledger.getRow(known.batchId, known.row) : null;
}
