import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.ts';

const EXAMPLE = resolve('examples/gift-event.json');

const outcomeLines = (stdout: string) =>
  stdout
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line));

describe('gift-batch send, as an engineer runs it', () => {
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gift-batch-send-'));
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('sends the example event through the intake queue and prints its GiftRequestCreated', async () => {
    // Act
    const run = await runCli(['send', EXAMPLE, '--state-dir', join(dir, 'state')]);

    // Assess
    expect(run.stderr).not.toMatch(/\n\s+at /);
    expect(run.code).toBe(0);
    const [outcome] = outcomeLines(run.stdout);
    expect(outcome).toMatchObject({
      source: 'gift-batch',
      'detail-type': 'GiftRequestCreated',
      detail: {
        idempotency_key: 'crm-signup-2026-11-22-8842',
        external_id: 'CRM-8842',
        outcome: 'created',
        redemption_url: expect.stringMatching(/^https:\/\//),
        metadata: { trigger: 'signup', account_tier: 'gold' },
      },
    });
    expect(run.stderr).toMatch(/event 1: crm-signup-2026-11-22-8842: created /);
  }, 180_000);

  it('finds the gift by its idempotency key with status --key, and says so for an unknown key', async () => {
    // Prepare
    const state = join(dir, 'state');
    const sent = await runCli(['send', EXAMPLE, '--state-dir', state]);
    const [outcome] = outcomeLines(sent.stdout);

    // Act
    const found = await runCli([
      'status',
      '--key',
      'crm-signup-2026-11-22-8842',
      '--json',
      '--state-dir',
      state,
    ]);
    const text = await runCli([
      'status',
      '--key',
      'crm-signup-2026-11-22-8842',
      '--state-dir',
      state,
    ]);
    const missing = await runCli(['status', '--key', 'never-sent', '--state-dir', state]);

    // Assess
    expect(found.code).toBe(0);
    expect(JSON.parse(found.stdout)).toMatchObject({
      idempotencyKey: 'crm-signup-2026-11-22-8842',
      state: 'created',
      externalId: 'CRM-8842',
      giftRequestId: outcome.detail.gift_request_id,
      redemptionUrl: outcome.detail.redemption_url,
      metadata: { trigger: 'signup', account_tier: 'gold' },
    });
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/state\s+created/);
    expect(text.stdout).toContain(outcome.detail.gift_request_id);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/no gift event with idempotency key "never-sent"/);
  }, 240_000);

  it('sends nothing twice for the same key, from stdin, and reports the same gift', async () => {
    // Prepare
    const first = await runCli(['send', EXAMPLE, '--state-dir', join(dir, 'state')]);
    const example = JSON.parse(await readFile(EXAMPLE, 'utf8'));
    const changed = { ...example, recipient: { ...example.recipient, first_name: 'Mallory' } };
    const fresh = { ...example, idempotency_key: 'crm-signup-other', external_id: 'CRM-1' };
    const stdin = [example, changed, fresh, { campaign_id: 'no key' }]
      .map((event) => JSON.stringify(event))
      .join('\n');

    // Act
    const run = await runCli(['send', '-', '--state-dir', join(dir, 'state')], { stdin });

    // Assess
    expect(run.code).toBe(4); // some events got no gift: the reused key, the event without a key
    const [again, conflict, other] = outcomeLines(run.stdout);
    const [before] = outcomeLines(first.stdout);
    expect(again.detail.gift_request_id).toBe(before.detail.gift_request_id);
    expect(conflict).toMatchObject({
      'detail-type': 'GiftRequestFailed',
      detail: {
        outcome: 'invalid',
        idempotency_key: example.idempotency_key,
        errors: [expect.objectContaining({ code: 'idempotency_conflict' })],
      },
    });
    expect(other).toMatchObject({ detail: { outcome: 'created', external_id: 'CRM-1' } });
    expect(other.detail.gift_request_id).not.toBe(before.detail.gift_request_id);
    expect(run.stderr).toContain('event 4: not sent: the event has no idempotency_key');
    expect(run.stderr).toContain('used before with a different payload');
  }, 240_000);

  it('reports every error of an invalid event without sending it', async () => {
    // Prepare
    const event = {
      version: 1,
      idempotency_key: 'bad-1',
      campaign_id: '11111111-1111-4111-8111-111111111111',
      recipient: { first_name: 'Ada', email: 'not-an-email' },
    };

    // Act
    const run = await runCli(['send', '-', '--state-dir', join(dir, 'state')], {
      stdin: JSON.stringify(event),
    });

    // Assess
    expect(run.code).toBe(4);
    const [outcome] = outcomeLines(run.stdout);
    expect(outcome.detail.outcome).toBe('invalid');
    expect(outcome.detail.errors.map((error: { param: string }) => error.param)).toEqual([
      'recipient.last_name',
      'recipient.email',
    ]);
    expect(run.stderr).toContain('bad-1: invalid, not sent');
  }, 180_000);

  it('exits 2 with one line for input that is not JSON', async () => {
    // Act
    const run = await runCli(['send', '-', '--state-dir', join(dir, 'state')], {
      stdin: 'not json\n',
    });

    // Assess
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('event 1: not sent: the message is not JSON');
    expect(run.stdout).toBe('');
  }, 60_000);
});
