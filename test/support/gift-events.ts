/** A demo campaign of the sandbox (choice mode). */
export const CAMPAIGN = '11111111-1111-4111-8111-111111111111';

/** A valid gift event (contract version 1), with fields overridden or removed (`undefined`). */
export const validEvent = (overrides: Record<string, unknown> = {}): Record<string, unknown> => ({
  version: 1,
  idempotency_key: 'signup-8842',
  campaign_id: CAMPAIGN,
  recipient: { first_name: 'Alice', last_name: 'Smith', email: 'alice@example.com' },
  external_id: 'crm-8842',
  metadata: { crm_account: 'A-17' },
  ...overrides,
});
