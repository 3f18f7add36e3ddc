/**
 * The pipeline's own side of "early", for `npm run bench:send`: the benchmark owns the pipeline's
 * process, so it hears, through `node:diagnostics_channel`, every request the &Open client wrote and
 * every answer it received (see andopen-http-client.ts). The sandbox counts a request early when it
 * ARRIVES after a Retry-After answer left the sandbox; some of those were already on their way (written
 * before any part of the fleet could have read that answer). Only the others are the pipeline's fault.
 */
import diagnosticsChannel from 'node:diagnostics_channel';
import {
  ANDOPEN_ANSWER_RECEIVED_CHANNEL,
  ANDOPEN_REQUEST_WRITTEN_CHANNEL,
  type AndOpenAnswerReceived,
  type AndOpenRequestWritten,
} from '../lambdas/adapters/andopen-http-client.ts';

/** A request the sandbox counted early, as the benchmark needs it. */
export interface SandboxEarly {
  at: number;
  method: string;
  path: string;
  requestId: string;
  notBefore: number;
  /** When the first Retry-After answer that made it early left the sandbox. */
  heardFrom: number;
}

export interface ClientEarly {
  method: string;
  path: string;
  writtenAt: number;
  /** When the fleet first heard the Retry-After it was written under, and that instant. */
  heardAt: number;
  until: number;
  newConnection: boolean;
}

/**
 * What the client published, each message numbered in the order it was published (`seq`): within
 * one millisecond the clock cannot say whether a request was written before or after an answer was
 * heard, the order can.
 */
export interface ClientView {
  written: (AndOpenRequestWritten & { seq: number })[];
  answers: (AndOpenAnswerReceived & { seq: number })[];
}

/** Listens until the returned `stop` is called; the view fills as the client publishes. */
export function listenToClient(): { view: ClientView; stop: () => void } {
  const view: ClientView = { written: [], answers: [] };
  let seq = 0;
  const onWritten = (message: unknown) => {
    view.written.push({ ...(message as AndOpenRequestWritten), seq: seq++ });
  };
  const onAnswer = (message: unknown) => {
    view.answers.push({ ...(message as AndOpenAnswerReceived), seq: seq++ });
  };
  diagnosticsChannel.subscribe(ANDOPEN_REQUEST_WRITTEN_CHANNEL, onWritten);
  diagnosticsChannel.subscribe(ANDOPEN_ANSWER_RECEIVED_CHANNEL, onAnswer);
  return {
    view,
    stop: () => {
      diagnosticsChannel.unsubscribe(ANDOPEN_REQUEST_WRITTEN_CHANNEL, onWritten);
      diagnosticsChannel.unsubscribe(ANDOPEN_ANSWER_RECEIVED_CHANNEL, onAnswer);
    },
  };
}

/**
 * The requests written after the fleet (this whole process) had received a Retry-After answer and
 * before the instant it named had passed. Pure: tested on hand-made views.
 */
export function clientEarly(view: ClientView): ClientEarly[] {
  const pauses = view.answers
    .filter((answer) => answer.retryAfterUntil !== null && answer.retryAfterUntil > answer.at)
    .map((answer) => ({
      heardAt: answer.at,
      until: answer.retryAfterUntil as number,
      seq: answer.seq,
    }))
    .sort((a, b) => a.seq - b.seq);
  const early: ClientEarly[] = [];
  for (const request of view.written) {
    let binding: { heardAt: number; until: number } | null = null;
    for (const pause of pauses) {
      if (pause.seq > request.seq) break;
      if (pause.until > request.at && (binding === null || pause.heardAt < binding.heardAt)) {
        binding = pause;
      }
    }
    if (binding === null) continue;
    early.push({
      method: request.method,
      path: request.path,
      writtenAt: request.at,
      heardAt: binding.heardAt,
      until: binding.until,
      newConnection: request.newConnection,
    });
  }
  return early;
}

/**
 * One line per request the sandbox counted early, with what the client saw of it: when it was
 * written against when the fleet first heard a Retry-After (negative: already on its way).
 */
export function describeSandboxEarly(early: readonly SandboxEarly[], view: ClientView): string[] {
  const answerById = new Map(view.answers.map((answer) => [answer.requestId, answer]));
  const writtenByCall = new Map(view.written.map((request) => [request.call, request]));
  const firstHeard = (request: { at: number; seq: number }): number | null => {
    let first: number | null = null;
    for (const answer of view.answers) {
      const until = answer.retryAfterUntil;
      if (until === null || answer.seq > request.seq || until <= request.at) continue;
      first = first === null ? answer.at : Math.min(first, answer.at);
    }
    return first;
  };
  return early.map((request) => {
    const path = request.path.startsWith('/gift_requests/') ? '/gift_requests/{id}' : request.path;
    const sandboxSide =
      `early ${request.method} ${path}: arrived ${request.at - request.heardFrom} ms after the ` +
      `Retry-After answer left the sandbox, ${request.notBefore - request.at} ms before its instant`;
    const answer = answerById.get(request.requestId);
    const written = answer ? writtenByCall.get(answer.call) : undefined;
    if (!written) return `${sandboxSide}; the client's view of it is missing`;
    const heard = firstHeard(written);
    const connection = written.newConnection ? 'on a new connection' : 'on a pooled connection';
    // Both processes read the same wall clock: written before the answer left (negative), the
    // request was on its way; after it, the answer was on its way to a client that had not read it.
    const sinceLeft = `${written.at - request.heardFrom} ms after that answer left`;
    return heard === null
      ? `${sandboxSide}; written ${connection} ${sinceLeft}, before the fleet heard any Retry-After (on its way)`
      : `${sandboxSide}; written ${connection} ${sinceLeft}, ${written.at - heard} ms AFTER the fleet heard it`;
  });
}
