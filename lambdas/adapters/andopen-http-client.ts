/**
 * The &Open 2026-05 HTTP client: the `GiftingApi` port over node:http / node:https.
 *
 * Not global fetch: the ledger must know whether a failed POST was WRITTEN (it may have created a
 * gift, so it is never re-sent automatically) or never left this machine (safe to retry). With
 * node:http we watch the socket: `requestSent` is true once the request was handed to a connected
 * socket (bytes written after connect, or the request's 'finish'), false for refused connections,
 * DNS failures and connect timeouts.
 *
 * Calls never throw for an answer or a network failure (see the port). The API key lives in a
 * `#private` field and only ever goes into the Authorization header: error messages are built from
 * the error code and host, never from headers, and `inspect`/`JSON.stringify` show no key.
 */

import diagnosticsChannel from 'node:diagnostics_channel';
import http from 'node:http';
import https from 'node:https';
import type { Socket } from 'node:net';
import { inspect } from 'node:util';
import { InvalidBaseUrlError, resolveBaseUrl } from '../core/andopen-hosts.ts';
import { parseRetryAfter } from '../core/retry-after.ts';
import type {
  ApiError,
  ApiResponse,
  Campaign,
  GiftingApi,
  GiftRequest,
  GiftRequestBody,
  HttpCall,
  ListCampaignsParams,
  Page,
  TransportFailure,
} from '../ports/gifting-api.ts';
import {
  parseCampaign,
  parseCampaignPage,
  parseErrors,
  parseGiftRequest,
  parseJson,
} from './andopen-parse.ts';

export const ANDOPEN_API_VERSION = '2026-05';

/**
 * Published on `node:diagnostics_channel` when a request's bytes are handed to a connected socket
 * (a pooled one at once, a new one once it has connected): what left, and when by the wall clock.
 * Nothing is built or sent when nobody subscribes (the send benchmark does, to count on the client's
 * side the requests written while a Retry-After it had heard was still running).
 */
export interface AndOpenRequestWritten {
  /** Numbers this client's calls, to pair a request with its answer. */
  call: number;
  method: 'GET' | 'POST';
  /** The path without the base URL's own path and without the query (ids are kept). */
  path: string;
  /** Wall clock, ms. */
  at: number;
  /** Whether the socket had to be opened for it (the write then waited for the connection). */
  newConnection: boolean;
}

/** Published when an answer's status line and headers arrive (before its body is read). */
export interface AndOpenAnswerReceived {
  call: number;
  method: 'GET' | 'POST';
  path: string;
  status: number;
  /** Wall clock, ms. */
  at: number;
  /** The instant the answer's Retry-After names (ms), or null without a usable one. */
  retryAfterUntil: number | null;
  requestId: string | null;
}

export const ANDOPEN_REQUEST_WRITTEN_CHANNEL = 'gift-batch:andopen:request-written';
export const ANDOPEN_ANSWER_RECEIVED_CHANNEL = 'gift-batch:andopen:answer-received';
const requestWritten = diagnosticsChannel.channel(ANDOPEN_REQUEST_WRITTEN_CHANNEL);
const answerReceived = diagnosticsChannel.channel(ANDOPEN_ANSWER_RECEIVED_CHANNEL);
let callsPublished = 0;

export interface AndOpenHttpClientOptions {
  /** `us` | `eu` | `staging` or an http(s) URL (see resolveBaseUrl). */
  baseUrl: string;
  /** The bearer token (`ao-v1-…`). Surrounding whitespace (a newline from a secret file) is trimmed. */
  apiKey: string;
  /** The whole exchange: connect, request, response headers and body. Default 10 s. */
  timeoutMs?: number;
  /** From socket assignment to a connected (for https: TLS-established) socket. Default 3 s. */
  connectTimeoutMs?: number;
  userAgent?: string;
  /** Wall clock for HTTP-date `Retry-After` values. */
  now?: () => number;
  /** Concurrent sockets to &Open from this client. Default 64. */
  maxSockets?: number;
  /** Larger answers are abandoned (a campaign page carries whole catalogues, but not gigabytes). */
  maxResponseBytes?: number;
  /**
   * A pooled keep-alive socket idle longer than this, by the wall clock (`now`), never carries a
   * POST. Default 2 s.
   */
  postSocketMaxIdleMs?: number;
  /**
   * Until when (ms, by `now`) the caller's fleet is paused for a Retry-After (its rate limiter's
   * view, which may come from another container): a request is not written before it. The client
   * also holds back on the Retry-After answers it heard itself.
   */
  pausedUntil?: () => number;
}

export class AndOpenClientConfigError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'AndOpenClientConfigError';
  }
}

/** listAllCampaigns could not read a page. `call` is what that page's request returned. */
export class CampaignListError extends Error {
  readonly call: HttpCall<Page<Campaign>>;

  constructor(message: string, call: HttpCall<Page<Campaign>>) {
    super(message);
    this.name = 'CampaignListError';
    this.call = call;
  }
}

const DEFAULT_TIMEOUT_MS = 10_000;
const DEFAULT_CONNECT_TIMEOUT_MS = 3_000;
const DEFAULT_MAX_SOCKETS = 64;
const DEFAULT_MAX_RESPONSE_BYTES = 16 * 1024 * 1024;
// Servers close idle keep-alive connections after a few seconds (Node's default: 5 s). A POST sent on
// a socket the server has just closed resets after it was written: an `unknown` row for nothing.
const DEFAULT_POST_SOCKET_MAX_IDLE_MS = 2_000;
const DEFAULT_USER_AGENT = 'gift-batch/0.1.0';
// Visible ASCII only: anything else is a paste error and would be rejected in a header anyway.
const VALID_API_KEY = /^[\x21-\x7e]+$/;

type Method = 'GET' | 'POST';

export class AndOpenHttpClient implements GiftingApi {
  readonly #apiKey: string;
  readonly #baseUrl: URL;
  readonly #transport: typeof http | typeof https;
  readonly #pool: IdleStampedPool;
  readonly #timeoutMs: number;
  readonly #connectTimeoutMs: number;
  readonly #userAgent: string;
  readonly #now: () => number;
  readonly #maxResponseBytes: number;
  readonly #postSocketMaxIdleMs: number;
  readonly #fleetPausedUntil: () => number;
  /** The latest instant a Retry-After this client heard names (ms): nothing is written before it. */
  #heardPauseUntil = 0;

  constructor(options: AndOpenHttpClientOptions) {
    const apiKey = typeof options.apiKey === 'string' ? options.apiKey.trim() : '';
    if (apiKey === '') throw new AndOpenClientConfigError('The &Open API key is empty.');
    if (!VALID_API_KEY.test(apiKey)) {
      throw new AndOpenClientConfigError(
        'The &Open API key contains spaces or control characters: check how it was copied.',
      );
    }
    this.#apiKey = apiKey;
    this.#baseUrl = new URL(resolveBaseUrlWithoutKey(options.baseUrl, apiKey));
    this.#transport = this.#baseUrl.protocol === 'https:' ? https : http;
    this.#timeoutMs = positive('timeoutMs', options.timeoutMs, DEFAULT_TIMEOUT_MS);
    this.#connectTimeoutMs = positive(
      'connectTimeoutMs',
      options.connectTimeoutMs,
      DEFAULT_CONNECT_TIMEOUT_MS,
    );
    this.#userAgent = options.userAgent ?? DEFAULT_USER_AGENT;
    this.#now = options.now ?? Date.now;
    this.#maxResponseBytes = positive(
      'maxResponseBytes',
      options.maxResponseBytes,
      DEFAULT_MAX_RESPONSE_BYTES,
    );
    this.#postSocketMaxIdleMs = positive(
      'postSocketMaxIdleMs',
      options.postSocketMaxIdleMs,
      DEFAULT_POST_SOCKET_MAX_IDLE_MS,
    );
    this.#fleetPausedUntil = options.pausedUntil ?? (() => 0);
    const maxSockets = positive('maxSockets', options.maxSockets, DEFAULT_MAX_SOCKETS);
    this.#pool = new IdleStampedPool(
      new this.#transport.Agent({ keepAlive: true, maxSockets }),
      this.#now,
    );
  }

  /** The resolved base URL, without a trailing slash. */
  get baseUrl(): string {
    return this.#baseUrl.href.replace(/\/+$/, '');
  }

  createGiftRequest(body: GiftRequestBody): Promise<HttpCall<GiftRequest>> {
    return this.#call('POST', '/gift_requests', body, parseGiftRequest);
  }

  getGiftRequest(id: string): Promise<HttpCall<GiftRequest>> {
    return this.#call(
      'GET',
      `/gift_requests/${encodeURIComponent(id)}`,
      undefined,
      parseGiftRequest,
    );
  }

  getCampaign(id: string): Promise<HttpCall<Campaign>> {
    return this.#call('GET', `/campaigns/${encodeURIComponent(id)}`, undefined, parseCampaign);
  }

  listCampaigns(params: ListCampaignsParams = {}): Promise<HttpCall<Page<Campaign>>> {
    const query = new URLSearchParams();
    if (params.limit !== undefined) query.set('limit', String(params.limit));
    if (params.after !== undefined) query.set('after', params.after);
    if (params.status !== undefined) query.set('status', params.status);
    if (params.sort !== undefined) query.set('sort', params.sort);
    const search = query.toString() === '' ? '' : `?${query}`;
    return this.#call('GET', `/campaigns${search}`, undefined, parseCampaignPage);
  }

  /**
   * Every campaign, page after page (`after` = id of the last item while `has_more`). Throws
   * CampaignListError when a page cannot be read (the caller decides whether to retry the walk).
   */
  async *listAllCampaigns(params: ListCampaignsParams = {}): AsyncGenerator<Campaign, void> {
    let after = params.after;
    const cursors = new Set<string>();
    for (;;) {
      const call = await this.listCampaigns({ ...params, after });
      if (call.kind === 'transport-failure') {
        throw new CampaignListError(`Listing campaigns failed: ${call.message}`, call);
      }
      if (call.body === null) {
        throw new CampaignListError(
          `Listing campaigns failed: HTTP ${call.status}${describeErrors(call.errors)} (Request-Id ${call.requestId ?? 'none'})`,
          call,
        );
      }
      yield* call.body.data;
      const last = call.body.data.at(-1);
      if (!call.body.has_more || last === undefined) return;
      // A cursor that does not move would loop forever.
      if (cursors.has(last.id)) {
        throw new CampaignListError(
          `Listing campaigns failed: the cursor ${last.id} repeated`,
          call,
        );
      }
      cursors.add(last.id);
      after = last.id;
    }
  }

  /** Closes the pooled keep-alive sockets. Calls made afterwards open new ones. */
  close(): void {
    this.#pool.agent.destroy();
  }

  toJSON(): Record<string, unknown> {
    return {
      baseUrl: this.baseUrl,
      apiVersion: ANDOPEN_API_VERSION,
      timeoutMs: this.#timeoutMs,
      connectTimeoutMs: this.#connectTimeoutMs,
    };
  }

  [inspect.custom](): string {
    return `AndOpenHttpClient ${inspect(this.toJSON())}`;
  }

  async #call<T>(
    method: Method,
    path: string,
    body: unknown,
    parseBody: (json: unknown) => T | null,
  ): Promise<HttpCall<T>> {
    // Timers do not run while Lambda is frozen: a pooled socket may look alive after a thaw though
    // the server closed it long ago. A POST must not be the request that finds out.
    if (method === 'POST') this.#pool.dropIdleSince(this.#now() - this.#postSocketMaxIdleMs);
    const first = await this.#callOnce(method, path, body, parseBody);
    const { call } = first;
    // A reused socket that resets was most likely closed by the server while idle; a GET creates
    // nothing, so it is safe to ask again, once, on a fresh socket.
    if (
      method === 'GET' &&
      first.reusedSocket &&
      call.kind === 'transport-failure' &&
      call.reason === 'reset'
    ) {
      return (await this.#callOnce(method, path, body, parseBody)).call;
    }
    return call;
  }

  #callOnce<T>(
    method: Method,
    path: string,
    body: unknown,
    parseBody: (json: unknown) => T | null,
  ): Promise<{ call: HttpCall<T>; reusedSocket: boolean }> {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body), 'utf8');
    const headers: http.OutgoingHttpHeaders = {
      'AndOpen-API-Version': ANDOPEN_API_VERSION,
      Authorization: `Bearer ${this.#apiKey}`,
      Accept: 'application/json',
      'User-Agent': this.#userAgent,
    };
    if (payload !== undefined) {
      headers['Content-Type'] = 'application/json';
      headers['Content-Length'] = payload.byteLength;
    }
    const base = this.#baseUrl;
    const host = base.host;
    const basePath = base.pathname.replace(/\/+$/, '');

    return new Promise<{ call: HttpCall<T>; reusedSocket: boolean }>((resolve) => {
      let settled = false;
      let connected = false;
      let finished = false;
      let bytesBeforeUs = 0;
      let socket: Socket | undefined;
      let isTls = false;
      let connectTimer: NodeJS.Timeout | undefined;
      let writtenAt: number | undefined;

      const settle = (call: HttpCall<T>): void => {
        if (settled) return;
        settled = true;
        clearTimeout(overallTimer);
        clearTimeout(connectTimer);
        resolve({ call, reusedSocket: request.reusedSocket });
      };
      // Written = handed to a connected socket. Over TLS, node writes the request as soon as the
      // handshake is done, so anything after it counts as sent (the safe side: ambiguous).
      const requestSent = (): boolean =>
        finished ||
        (connected && (isTls || socket === undefined || socket.bytesWritten > bytesBeforeUs));
      const fail = (reason: TransportFailure['reason'], detail: string, sent = requestSent()) => {
        settle({
          kind: 'transport-failure',
          requestSent: sent,
          reason,
          message: `${method} ${host}: ${detail}`,
        });
        request.destroy();
      };

      const request = this.#transport.request({
        protocol: base.protocol,
        hostname: base.hostname.replace(/^\[|\]$/g, ''),
        port: base.port === '' ? undefined : Number(base.port),
        path: `${basePath}${path}`,
        method,
        headers,
        agent: this.#pool.agent,
      });

      const overallTimer = setTimeout(
        () => fail('timeout', `no complete answer within ${this.#timeoutMs} ms (timeout)`),
        this.#timeoutMs,
      );

      const published = {
        call: requestWritten.hasSubscribers || answerReceived.hasSubscribers ? ++callsPublished : 0,
        method,
        path: path.replace(/\?.*$/, ''),
      };
      // The request is written only once its socket is connected, right after a last look at the
      // pause in the same synchronous run: checked before, a request could wait for a connection
      // (or a free socket) while a 429 arrives, and then leave inside its Retry-After.
      const write = (newConnection: boolean): void => {
        const pausedUntil = this.#pausedUntil();
        if (pausedUntil > this.#now()) {
          fail(
            'other',
            `not written: &Open's Retry-After runs until ${new Date(pausedUntil).toISOString()}`,
            false,
          );
          return;
        }
        writtenAt = this.#now();
        publishWritten(published, newConnection, writtenAt);
        request.end(payload);
      };
      request.on('socket', (assigned) => {
        socket = assigned;
        bytesBeforeUs = assigned.bytesWritten;
        isTls = 'encrypted' in assigned && assigned.encrypted === true;
        if (!assigned.connecting) {
          connected = true; // a pooled keep-alive socket
          write(false);
          return;
        }
        assigned.once(isTls ? 'secureConnect' : 'connect', () => {
          connected = true;
          clearTimeout(connectTimer);
          write(true);
        });
        connectTimer = setTimeout(
          () =>
            fail(
              'timeout',
              `could not connect within ${this.#connectTimeoutMs} ms (connect timeout)`,
              false,
            ),
          this.#connectTimeoutMs,
        );
      });
      request.on('finish', () => {
        finished = true;
      });
      request.on('error', (error: NodeJS.ErrnoException) => {
        const code = error.code ?? 'unknown error';
        fail(transportReason(code), `${describeCode(code)} (${code})`);
      });
      // A socket closed before an answer completed, without an 'error' (belt and braces).
      request.on('close', () => {
        if (!settled) fail('reset', 'connection closed before the answer completed');
      });

      request.on('response', (response) => {
        const heardAt = this.#now();
        const status = response.statusCode ?? 0;
        const retryAfterMs = parseRetryAfter(headerValue(response.headers['retry-after']), heardAt);
        // Only a refusal's Retry-After pauses (429, 503): elsewhere it says nothing about sending.
        if (retryAfterMs !== null && (status === 429 || status === 503)) {
          this.#heardPauseUntil = Math.max(this.#heardPauseUntil, heardAt + retryAfterMs);
        }
        if (answerReceived.hasSubscribers) {
          const at = heardAt;
          answerReceived.publish({
            ...published,
            status,
            at,
            retryAfterUntil: retryAfterMs === null ? null : at + retryAfterMs,
            requestId: headerValue(response.headers['request-id']),
          } satisfies AndOpenAnswerReceived);
        }
        const chunks: Buffer[] = [];
        let size = 0;
        response.on('data', (chunk: Buffer) => {
          size += chunk.byteLength;
          if (size > this.#maxResponseBytes) {
            fail('other', `answer larger than ${this.#maxResponseBytes} bytes`, true);
            return;
          }
          chunks.push(chunk);
        });
        response.on('error', (error: NodeJS.ErrnoException) => {
          const code = error.code ?? 'ECONNRESET';
          fail(transportReason(code), `answer interrupted: ${describeCode(code)} (${code})`, true);
        });
        response.on('end', () => {
          const status = response.statusCode ?? 0;
          const text = new TextDecoder().decode(Buffer.concat(chunks));
          const answer = this.#answer(status, response.headers, text, parseBody);
          settle(writtenAt === undefined ? answer : { ...answer, writtenAt });
        });
      });
    });
  }

  /** The latest Retry-After instant known here: heard by this client, or the fleet's pause. */
  #pausedUntil(): number {
    return Math.max(this.#heardPauseUntil, this.#fleetPausedUntil());
  }

  #answer<T>(
    status: number,
    headers: http.IncomingHttpHeaders,
    text: string,
    parseBody: (json: unknown) => T | null,
  ): ApiResponse<T> {
    const json = parseJson(text);
    const success = status >= 200 && status <= 299;
    return {
      kind: 'response',
      status,
      requestId: headerValue(headers['request-id']),
      // A 2xx whose body cannot be read stays a 2xx with body null: on a POST something was created.
      body: success ? parseBody(json) : null,
      errors: success ? [] : parseErrors(json, status).map((error) => this.#redact(error)),
      retryAfterMs: parseRetryAfter(headerValue(headers['retry-after']), this.#now()),
    };
  }

  /** A server that quotes the token back in an error must not put it in our ledger or logs. */
  #redact(error: ApiError): ApiError {
    if (!error.message.includes(this.#apiKey)) return error;
    return { ...error, message: error.message.replaceAll(this.#apiKey, '[redacted]') };
  }
}

/**
 * A keep-alive agent that remembers since when, by the wall clock, each pooled socket has been idle
 * (timers do not run while Lambda is frozen, timestamps still tell), so that stale ones can be
 * dropped before a request that must not land on a dead connection.
 */
class IdleStampedPool {
  readonly agent: http.Agent;
  readonly #idleSince = new WeakMap<object, number>();

  constructor(agent: http.Agent, now: () => number) {
    this.agent = agent;
    // Node calls keepSocketAlive whenever a socket goes back to the pool; it returns whether it kept it.
    const keepSocketAlive = agent.keepSocketAlive.bind(agent) as unknown as (
      socket: Socket,
    ) => boolean;
    const stamped = (socket: Socket): boolean => {
      const kept = keepSocketAlive(socket);
      if (kept) this.#idleSince.set(socket, now());
      return kept;
    };
    agent.keepSocketAlive = stamped as unknown as http.Agent['keepSocketAlive'];
  }

  /** Destroys, and takes out of the pool at once, every free socket idle since before `instant`. */
  dropIdleSince(instant: number): void {
    const pools = this.agent.freeSockets as Record<string, Socket[] | undefined>;
    for (const [name, sockets] of Object.entries(pools)) {
      if (!sockets) continue;
      for (let index = sockets.length - 1; index >= 0; index -= 1) {
        const socket = sockets[index];
        if (!socket || (this.#idleSince.get(socket) ?? Number.NEGATIVE_INFINITY) >= instant) {
          continue;
        }
        // Out of the list now: the agent only forgets a destroyed socket on its 'close' event, a
        // tick later, and would otherwise hand it to the request about to be made.
        sockets.splice(index, 1);
        socket.destroy();
      }
      if (sockets.length === 0) delete pools[name];
    }
  }
}

function publishWritten(
  request: { call: number; method: Method; path: string },
  newConnection: boolean,
  at: number,
): void {
  if (!requestWritten.hasSubscribers) return;
  requestWritten.publish({ ...request, at, newConnection } satisfies AndOpenRequestWritten);
}

/** resolveBaseUrl, with the key removed from the error should someone paste it as the URL. */
function resolveBaseUrlWithoutKey(baseUrl: string, apiKey: string): string {
  try {
    return resolveBaseUrl(baseUrl);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    if (!message.includes(apiKey)) {
      throw new AndOpenClientConfigError(message, { cause: error });
    }
    // No cause: its message holds the key.
    throw new AndOpenClientConfigError(
      new InvalidBaseUrlError(message.replaceAll(apiKey, '[redacted]')).message,
    );
  }
}

function positive(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value <= 0) {
    throw new AndOpenClientConfigError(`${name} must be a positive number (got ${value}).`);
  }
  return value;
}

function transportReason(code: string): TransportFailure['reason'] {
  switch (code) {
    case 'ECONNREFUSED':
      return 'connection-refused';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EAI_FAIL':
    case 'EAI_NODATA':
    case 'EAI_NONAME':
      return 'dns';
    case 'ETIMEDOUT':
      return 'timeout';
    case 'ECONNRESET':
    case 'EPIPE':
    case 'ECONNABORTED':
      return 'reset';
    default:
      return 'other';
  }
}

function describeCode(code: string): string {
  switch (transportReason(code)) {
    case 'connection-refused':
      return 'connection refused';
    case 'dns':
      return 'host name not resolved';
    case 'timeout':
      return 'timed out';
    case 'reset':
      return 'connection reset';
    default:
      return 'request failed';
  }
}

function describeErrors(errors: ApiError[]): string {
  const codes = errors.map((error) => error.code).filter((code) => code !== '');
  return codes.length === 0 ? '' : ` ${codes.join(', ')}`;
}

function headerValue(value: string | string[] | undefined): string | null {
  const first = Array.isArray(value) ? value[0] : value;
  return first === undefined || first === '' ? null : first;
}
