/**
 * The sandbox over HTTP (node:http only): request plumbing, the `/_sandbox/` admin endpoints that let
 * another process drive it, latency, dropped sockets, and a stop that leaves nothing behind.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type Answer, SandboxApi } from './api.ts';
import { apiError, errorBody } from './contract.ts';
import { Faults, SandboxConfigError } from './faults.ts';
import { Journal } from './journal.ts';
import { createRandom } from './random.ts';
import { DEMO_TENANT, demoCampaigns, SANDBOX_API_KEY } from './seed.ts';
import { SandboxNotFoundError, Store, type StoredGift } from './store.ts';
import type { ApiKey, FaultOptions, FaultTarget, InjectedFault, SandboxOptions } from './types.ts';
import {
  checkWebhookOptions,
  type WebhookEvent,
  type WebhookOptions,
  WebhookSender,
  type WebhookSummary,
} from './webhooks.ts';

/** Larger bodies are cut there, and so read as malformed JSON. */
const MAX_BODY_BYTES = 1024 * 1024;

export interface Sandbox {
  /** e.g. http://127.0.0.1:43121 (no trailing slash). */
  url: string;
  /** Live: tests read it while the sandbox runs. */
  journal: Journal;
  /** Changes faults while running; throws SandboxConfigError on a bad patch. */
  configure(patch: Partial<FaultOptions>): void;
  /** Queues a one-shot fault for the next `count` matching requests (FIFO); target `post` default. */
  injectNext(fault: InjectedFault, count?: number, target?: FaultTarget): void;
  /** Moves a gift along its lifecycle; throws SandboxNotFoundError for an unknown id. */
  advance(giftId: string, status: string): void;
  /**
   * Stops accepting a key from now on, as &Open does with a rotated or revoked one: its requests
   * get 401 `expired_token`. Throws SandboxConfigError when the key is not an accepted one.
   */
  revokeKey(key: string): void;
  /** Turns webhook deliveries on (or changes them), or off with null. */
  configureWebhooks(options: WebhookOptions | null): void;
  /** Counts of webhook events and attempts (each attempt is in `journal.webhooks`). */
  webhookSummary(): WebhookSummary;
  /** Resolves once no webhook delivery is scheduled or in flight. */
  webhooksIdle(): Promise<void>;
  /** Closes the server and every socket, keep-alive ones included. */
  stop(): Promise<void>;
}

export async function startSandbox(options: SandboxOptions = {}): Promise<Sandbox> {
  const {
    host = '127.0.0.1',
    port = 0,
    apiKeys = [SANDBOX_API_KEY],
    expiredKeys = [],
    forbiddenKeys = [],
    campaigns = demoCampaigns(),
    now = Date.now,
    seed,
    stateFile,
    webhooks: webhookOptions,
    ...faultOptions
  } = options;
  const random = createRandom(seed);
  const journal = new Journal();
  // Fault rolls on a stream of their own, so a seeded sandbox's faults hit the same POSTs however
  // many GETs (each drawing a request id) came between them.
  const faults = new Faults(
    faultOptions,
    now(),
    random,
    createRandom(seed === undefined ? undefined : seed + 2),
  );
  const store = new Store(campaigns, random, stateFile ?? null);
  // Its own random stream, so that turning webhooks on does not change a seeded sandbox's ids.
  const webhooks = new WebhookSender(
    createRandom(seed === undefined ? undefined : seed + 1),
    now,
    journal.webhooks,
  );
  if (webhookOptions !== undefined) webhooks.configure(webhookOptions);
  const snapshot = (gift: StoredGift, type: string, at = now()): WebhookEvent => {
    const view = store.giftView(gift, at);
    return {
      type,
      giftId: gift.id,
      body: JSON.stringify(view),
      status: gift.status,
      withUrl: view.redemption_url !== null,
    };
  };
  store.onGiftChange = (gift, change) => {
    if (change === 'advanced') {
      webhooks.emit(() => snapshot(gift, 'gift_request.updated'));
      return;
    }
    webhooks.emit(() => snapshot(gift, 'gift_request.created'));
    // Generating the link is a change of its own, announced when it happens.
    const linkInMs = gift.redemptionUrlAt - now();
    // The event announces the link, so it shows the gift as of the link's instant at the earliest:
    // a timer may fire a millisecond before the clock reaches it (Node's timers run on a cached
    // monotonic time), and ~10 % of link events then went out without their link.
    if (linkInMs > 0) {
      webhooks.emit(
        () => snapshot(gift, 'gift_request.updated', Math.max(now(), gift.redemptionUrlAt)),
        linkInMs,
      );
    }
  };
  const valid: ApiKey[] = apiKeys.map((key) =>
    typeof key === 'string' ? { key, tenant: DEMO_TENANT } : key,
  );
  // Owned copies: revokeKey moves keys between them while the sandbox runs.
  const expired = [...expiredKeys];
  const api = new SandboxApi(store, faults, journal, {
    valid,
    expired,
    forbidden: forbiddenKeys,
    forbiddenTenant: DEMO_TENANT,
  });

  const configure = (patch: Partial<FaultOptions>) => faults.configure(patch);
  const injectNext = (fault: InjectedFault, count = 1, target: FaultTarget = 'post') =>
    faults.inject(fault, count, target);
  const advance = (giftId: string, status: string) => {
    store.advance(giftId, status, now());
  };
  const revokeKey = (key: string) => {
    const index = valid.findIndex((candidate) => candidate.key === key);
    // The key itself is never echoed: admin answers end up in logs too.
    if (index === -1) throw new SandboxConfigError('that key is not an accepted key');
    valid.splice(index, 1);
    expired.push(key);
  };

  const admin = (method: string, pathname: string, body: Buffer): Answer => {
    const route = `${method} ${pathname}`;
    if (route === 'GET /_sandbox/journal') return json(200, journal.toJSON());
    if (route === 'DELETE /_sandbox/journal') {
      journal.reset();
      return json(200, journal.summary());
    }
    if (route === 'GET /_sandbox/faults') {
      return json(200, { faults: faults.options, pending: faults.pendingInjections() });
    }
    if (route === 'POST /_sandbox/faults') {
      // checkFaultPatch (inside configure) validates every field.
      configure(readJson(body) as Partial<FaultOptions>);
      return json(200, { faults: faults.options, pending: faults.pendingInjections() });
    }
    if (route === 'POST /_sandbox/inject') {
      const { fault, count = 1, target = 'post' } = readJson(body);
      injectNext(fault as InjectedFault, count as number, target as FaultTarget);
      return json(200, { faults: faults.options, pending: faults.pendingInjections() });
    }
    if (route === 'POST /_sandbox/keys/revoke') {
      const { key } = readJson(body);
      if (typeof key !== 'string' || key === '') {
        throw new SandboxConfigError('key must be a non-empty string');
      }
      revokeKey(key);
      return json(200, { revoked: true, acceptedKeys: valid.length });
    }
    if (route === 'GET /_sandbox/webhooks') {
      return json(200, { webhooks: webhooks.settings, summary: webhooks.summary() });
    }
    if (route === 'POST /_sandbox/webhooks') {
      webhooks.configure(checkWebhookOptions(readJson(body)));
      return json(200, { webhooks: webhooks.settings, summary: webhooks.summary() });
    }
    if (route === 'DELETE /_sandbox/webhooks') {
      webhooks.configure(null);
      return json(200, { webhooks: null, summary: webhooks.summary() });
    }
    const statusRoute = pathname.match(/^\/_sandbox\/gift_requests\/([^/]+)\/status$/);
    if (method === 'POST' && statusRoute?.[1] !== undefined) {
      const { status } = readJson(body);
      if (typeof status !== 'string' || status.trim() === '') {
        throw new SandboxConfigError('status must be a non-empty string');
      }
      const gift = store.advance(statusRoute[1], status, now());
      return json(200, store.giftView(gift, now()));
    }
    return json(
      404,
      errorBody(apiError('not_found_error', 'not_found', `no admin endpoint ${route}`)),
    );
  };

  const pendingDelays = new Set<NodeJS.Timeout>();
  const delay = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        pendingDelays.delete(timer);
        resolve();
      }, ms);
      pendingDelays.add(timer);
    });

  const onRequest = async (
    req: IncomingMessage,
    res: ServerResponse,
    requestId: string,
  ): Promise<void> => {
    const at = now();
    const body = await readBody(req);
    const url = new URL(req.url ?? '/', 'http://sandbox.invalid');
    const method = req.method ?? 'GET';

    // Admin endpoints: no auth, no rate limit, no latency, not journaled as API requests.
    if (url.pathname === '/_sandbox' || url.pathname.startsWith('/_sandbox/')) {
      send(
        res,
        requestId,
        adminAnswer(() => admin(method, url.pathname, body)),
      );
      return;
    }

    const { answer } = api.handle({
      method,
      pathname: url.pathname,
      query: url.searchParams,
      version: header(req, 'andopen-api-version'),
      authorization: header(req, 'authorization'),
      body,
      requestId,
      at,
    });
    const latency = faults.latencyMs();
    if (latency > 0) await delay(latency);
    if (answer === null) {
      // The request was read and maybe acted on; the client hears nothing but a closed socket.
      req.socket.destroy();
      return;
    }
    if (answer.retryAfter)
      journal.noteRetryAfter(answer.retryAfter.tenant, answer.retryAfter.notBefore, now());
    send(res, requestId, answer);
  };

  const server = createServer((req, res) => {
    const requestId = `req_${random.token(24)}`;
    onRequest(req, res, requestId).catch((error: unknown) => {
      // A bug in the sandbox: say so on the wire rather than hang the client.
      const message = error instanceof Error ? error.message : String(error);
      if (!res.headersSent) {
        send(
          res,
          requestId,
          json(500, errorBody(apiError('api_error', 'internal_error', `sandbox: ${message}`))),
        );
      } else {
        res.destroy();
      }
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const shownHost = address.address.includes(':') ? `[${address.address}]` : address.address;

  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= new Promise<void>((resolve, reject) => {
      for (const timer of pendingDelays) clearTimeout(timer);
      pendingDelays.clear();
      webhooks.stop();
      server.close((error) => (error === undefined ? resolve() : reject(error)));
      // close() alone waits for keep-alive connections to go idle and time out.
      server.closeAllConnections();
    });
    return stopping;
  };

  return {
    url: `http://${shownHost}:${address.port}`,
    journal,
    configure,
    injectNext,
    advance,
    revokeKey,
    configureWebhooks: (webhookSettings) => webhooks.configure(webhookSettings),
    webhookSummary: () => webhooks.summary(),
    webhooksIdle: () => webhooks.idle(),
    stop,
  };
}

function adminAnswer(run: () => Answer): Answer {
  try {
    return run();
  } catch (error) {
    if (error instanceof SandboxConfigError) {
      return json(400, errorBody(apiError('api_error', 'invalid_sandbox_request', error.message)));
    }
    if (error instanceof SandboxNotFoundError) {
      return json(404, errorBody(apiError('not_found_error', 'not_found', error.message)));
    }
    throw error;
  }
}

function readJson(body: Buffer): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch (error) {
    throw new SandboxConfigError('the body is not valid JSON', { cause: error });
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new SandboxConfigError('the body must be a JSON object');
  }
  return parsed as Record<string, unknown>;
}

function json(status: number, body: unknown): Answer {
  return { status, body, headers: {} };
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value.join(', ') : value;
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_BODY_BYTES) chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function send(res: ServerResponse, requestId: string, answer: Answer): void {
  const payload = JSON.stringify(answer.body);
  res.writeHead(answer.status, {
    ...answer.headers,
    'Request-Id': requestId,
    'Content-Type': 'application/json',
    'Content-Length': Buffer.byteLength(payload),
  });
  res.end(payload);
}
