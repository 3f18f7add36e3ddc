import { describe, expect, it } from 'vitest';
import { type ClientView, clientEarly, describeSandboxEarly } from '../../../bench/client-view.ts';
import type {
  AndOpenAnswerReceived,
  AndOpenRequestWritten,
} from '../../../lambdas/adapters/andopen-http-client.ts';

const written = (call: number, at: number, newConnection = false): AndOpenRequestWritten => ({
  call,
  method: 'POST',
  path: '/gift_requests',
  at,
  newConnection,
});

const answer = (
  call: number,
  at: number,
  status: number,
  retryAfterUntil: number | null = null,
): AndOpenAnswerReceived => ({
  call,
  method: 'POST',
  path: '/gift_requests',
  status,
  at,
  retryAfterUntil,
  requestId: `req_${call}`,
});

/** The view the listener builds from messages published in this order. */
function viewOf(messages: (AndOpenRequestWritten | AndOpenAnswerReceived)[]): ClientView {
  const view: ClientView = { written: [], answers: [] };
  messages.forEach((message, seq) => {
    if ('status' in message) view.answers.push({ ...message, seq });
    else view.written.push({ ...message, seq });
  });
  return view;
}

describe("the benchmark's client-side view of early requests", () => {
  it('counts the requests written after a Retry-After was heard and before it passed', () => {
    // Prepare: a 429 heard at 1,000 naming 2,000; requests before, right after, inside, at its end.
    const view = viewOf([
      written(1, 900),
      answer(1, 1_000, 429, 2_000),
      written(2, 1_000),
      answer(2, 1_200, 201),
      written(3, 1_500, true),
      written(4, 2_000),
      answer(4, 2_200, 201),
    ]);

    // Act
    const early = clientEarly(view);

    // Assess: written in the millisecond it was heard but after it counts; at its end does not.
    expect(early).toEqual([
      { ...early[0], writtenAt: 1_000, heardAt: 1_000, until: 2_000, newConnection: false },
      { ...early[1], writtenAt: 1_500, heardAt: 1_000, until: 2_000, newConnection: true },
    ]);
  });

  it('does not count a request written in the same millisecond but before the answer was heard', () => {
    // Prepare
    const view = viewOf([written(1, 900), written(2, 1_000), answer(1, 1_000, 429, 2_000)]);

    // Act, Assess
    expect(clientEarly(view)).toEqual([]);
  });

  it('ignores answers without a Retry-After', () => {
    // Prepare
    const view = viewOf([
      written(1, 900),
      answer(1, 1_000, 500),
      written(2, 1_100),
      answer(2, 1_300, 201),
    ]);

    // Act, Assess
    expect(clientEarly(view)).toEqual([]);
  });

  it('says of each request the sandbox counted early whether it was already on its way', () => {
    // Prepare: call 2 was written before the fleet heard call 1's 429, call 3 after.
    const view = viewOf([
      written(1, 900),
      written(2, 1_050),
      answer(1, 1_100, 429, 2_100),
      answer(2, 1_250, 429, 2_250),
      written(3, 1_300, true),
      answer(3, 1_500, 429),
    ]);
    const sandboxEarly = [
      {
        at: 1_060,
        method: 'POST',
        path: '/gift_requests',
        requestId: 'req_2',
        notBefore: 1_900,
        heardFrom: 1_055,
      },
      {
        at: 1_310,
        method: 'POST',
        path: '/gift_requests',
        requestId: 'req_3',
        notBefore: 1_900,
        heardFrom: 1_055,
      },
    ];

    // Act
    const lines = describeSandboxEarly(sandboxEarly, view);

    // Assess
    expect(lines[0]).toContain('arrived 5 ms after the Retry-After answer left the sandbox');
    expect(lines[0]).toContain(
      '-5 ms after that answer left, before the fleet heard any Retry-After',
    );
    expect(lines[1]).toContain(
      'on a new connection 245 ms after that answer left, 200 ms AFTER the fleet heard it',
    );
  });
});
