import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventBridgeOutcomePublisher } from '../../lambdas/adapters/eventbridge-outcome-publisher.ts';
import { JsonLinesOutcomePublisher } from '../../lambdas/adapters/jsonl-outcome-publisher.ts';
import type { GiftOutcomeEvent } from '../../lambdas/ports/outcome-events.ts';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../local/standins/index.ts';

const outcome = (row: number): GiftOutcomeEvent => ({
  detailType: row % 2 === 0 ? 'GiftRequestFailed' : 'GiftRequestCreated',
  detail: {
    version: 1,
    idempotency_key: `key-${row}`,
    external_id: null,
    campaign_id: 'cmp',
    outcome: row % 2 === 0 ? 'rejected' : 'created',
    gift_request_id: null,
    status: null,
    redemption_url: null,
    errors: [],
    request_id: null,
    metadata: null,
    batch_id: 'events-2026-11-22',
    row,
    occurred_at: '2026-11-22T10:00:00.000Z',
  },
});

/**
 * EventBridge has no local stand-in: this endpoint answers PutEvents in its JSON protocol, so the
 * adapter runs through the real SDK client (serialisation, batching, per-entry failures).
 */
describe('EventBridgeOutcomePublisher through the SDK', () => {
  let server: Server;
  let endpoint: string;
  const calls: { Entries: Record<string, unknown>[] }[] = [];
  let failEntriesOfDetailRow: Set<number> = new Set();

  beforeAll(async () => {
    server = createServer((request, response) => {
      let body = '';
      request.on('data', (chunk) => {
        body += chunk;
      });
      request.on('end', () => {
        const parsed = JSON.parse(body) as { Entries: { Detail: string }[] };
        calls.push(parsed);
        const entries = parsed.Entries.map((entry) => {
          const row = (JSON.parse(entry.Detail) as { row: number }).row;
          if (failEntriesOfDetailRow.has(row)) {
            failEntriesOfDetailRow.delete(row);
            return { ErrorCode: 'ThrottlingException', ErrorMessage: 'Rate exceeded' };
          }
          return { EventId: `id-${row}` };
        });
        response.writeHead(200, { 'content-type': 'application/x-amz-json-1.1' });
        response.end(
          JSON.stringify({
            FailedEntryCount: entries.filter((e) => 'ErrorCode' in e).length,
            Entries: entries,
          }),
        );
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
  });

  const publisher = (lost: [GiftOutcomeEvent, string][]) =>
    new EventBridgeOutcomePublisher({
      client: new EventBridgeClient({
        endpoint,
        region: LOCAL_REGION,
        credentials: { ...LOCAL_CREDENTIALS },
      }),
      busName: 'gift-batch-bus',
      sleep: async () => undefined,
      onLost: (event, reason) => {
        lost.push([event, reason]);
      },
    });

  it('puts events ten to a call on the bus, retrying only the entries EventBridge failed', async () => {
    // Prepare
    calls.length = 0;
    failEntriesOfDetailRow = new Set([3, 12]);
    const lost: [GiftOutcomeEvent, string][] = [];

    // Act
    await publisher(lost).publish(Array.from({ length: 13 }, (_, i) => outcome(i + 1)));

    // Assess
    expect(calls.map((call) => call.Entries.length)).toEqual([10, 1, 3, 1]);
    expect(calls[0]?.Entries[0]).toMatchObject({
      EventBusName: 'gift-batch-bus',
      Source: 'gift-batch',
      DetailType: 'GiftRequestCreated',
    });
    const rowsOf = (call: number) =>
      calls[call]?.Entries.map((e) => JSON.parse(String(e.Detail)).row);
    expect(rowsOf(1)).toEqual([3]);
    expect(rowsOf(3)).toEqual([12]);
    expect(lost).toEqual([]);
  });

  it('reports an event it still cannot put after its attempts, without throwing', async () => {
    // Prepare
    calls.length = 0;
    const lost: [GiftOutcomeEvent, string][] = [];
    const always = new Set([1]);
    failEntriesOfDetailRow = new Proxy(always, {
      get: (target, name) =>
        name === 'delete' ? () => true : Reflect.get(target, name).bind(target),
    });

    // Act
    await publisher(lost).publish([outcome(1), outcome(2)]);

    // Assess
    expect(calls).toHaveLength(4);
    expect(lost.map(([event, reason]) => [event.detail.row, reason])).toEqual([
      [1, 'Rate exceeded'],
    ]);
  });
});

describe('JsonLinesOutcomePublisher', () => {
  it('appends one EventBridge-shaped JSON line per event', async () => {
    // Prepare
    const dir = await mkdtemp(join(tmpdir(), 'outcomes-'));
    const path = join(dir, 'outcomes.jsonl');
    const publisher = new JsonLinesOutcomePublisher({ path });

    // Act
    await publisher.publish([outcome(1)]);
    await publisher.publish([outcome(2)]);

    // Assess
    const lines = (await readFile(path, 'utf8'))
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    expect(lines).toEqual([
      expect.objectContaining({ source: 'gift-batch', 'detail-type': 'GiftRequestCreated' }),
      expect.objectContaining({ 'detail-type': 'GiftRequestFailed', detail: outcome(2).detail }),
    ]);
    await rm(dir, { recursive: true, force: true });
  });
});
