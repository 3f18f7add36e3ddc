import { appendFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startSandbox } from '../../sandbox/index.ts';
import { call, choiceBody, directBody, stockOf } from './helpers.ts';

describe('a sandbox with a state file', () => {
  let dir: string;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sandbox-state-'));
  });

  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('remembers its gifts, their status and the stock they took after a restart', async () => {
    // Prepare
    const stateFile = join(dir, 'sandbox.jsonl');
    const first = await startSandbox({ stateFile, redemptionUrlDelayMs: 0 });
    const choice = await call(first, 'POST', '/gift_requests', choiceBody());
    const direct = await call(first, 'POST', '/gift_requests', directBody());
    first.advance(choice.json.id, 'redeemed');
    const stockBefore = await stockOf(first, 'HOODIE-L-BLK');
    await first.stop();

    // Act
    const second = await startSandbox({ stateFile });
    const again = await call(second, 'GET', `/gift_requests/${choice.json.id}`);
    const directAgain = await call(second, 'GET', `/gift_requests/${direct.json.id}`);
    const stockAfter = await stockOf(second, 'HOODIE-L-BLK');
    await second.stop();

    // Assess
    expect(again.status).toBe(200);
    expect(again.json.status).toBe('redeemed');
    expect(again.json.line_items).not.toBeNull();
    expect(directAgain.json.line_items).toEqual(direct.json.line_items);
    expect(stockAfter).toBe(stockBefore);
  });

  it('keeps every whole record when the last line was cut short by a kill', async () => {
    // Prepare
    const stateFile = join(dir, 'sandbox.jsonl');
    const first = await startSandbox({ stateFile });
    const created = await call(first, 'POST', '/gift_requests', choiceBody());
    await first.stop();
    await appendFile(stateFile, '{"kind":"gift","gift":{"id":"cut');

    // Act
    const second = await startSandbox({ stateFile });
    const again = await call(second, 'GET', `/gift_requests/${created.json.id}`);
    await second.stop();

    // Assess
    expect(again.status).toBe(200);
  });
});
