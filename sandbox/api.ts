/**
 * One &Open API request, from arrival to answer, without any HTTP plumbing. Synchronous on purpose:
 * the checks and the stock take of a create cannot interleave with another request.
 *
 * Order of checks, as the documents state it: API version (before the token), token, then the
 * tenant's maintenance and rate limit, then the route, then injected faults, then the body.
 */
import { API_VERSION, apiError, checkCreateBody, errorBody } from './contract.ts';
import { type Faults, type RequestKind, retryAfter } from './faults.ts';
import type { Journal } from './journal.ts';
import type { Store } from './store.ts';
import type { ApiKey, ErrorEntry, InjectedFault } from './types.ts';

export interface ApiRequest {
  method: string;
  pathname: string;
  query: URLSearchParams;
  version: string | undefined;
  authorization: string | undefined;
  body: Buffer;
  requestId: string;
  at: number;
}

export interface Answer {
  status: number;
  body: unknown;
  headers: Record<string, string>;
  /**
   * A Retry-After this answer gives: noted in the journal when the answer is sent, not when it is
   * decided, because a client can only honour it once it has heard it. Requests already on their way
   * while the sandbox "thinks" (its latency) are not early.
   */
  retryAfter?: { tenant: string; notBefore: number };
}

/** `answer` null: destroy the socket without a word. */
export interface ApiOutcome {
  answer: Answer | null;
}

export interface Keys {
  valid: ApiKey[];
  expired: string[];
  forbidden: string[];
  forbiddenTenant: string;
}

const CAMPAIGN_PAGE_MAX = 25;

type Route =
  | { kind: 'create-gift' }
  | { kind: 'get-gift'; id: string }
  | { kind: 'list-campaigns' }
  | { kind: 'get-campaign'; id: string };

type Auth = { tenant: string } | { tenant: string | null; status: number; error: ErrorEntry };

/** What one request did, gathered for its journal entry. */
interface Trace {
  tenant: string | null;
  fault?: InjectedFault;
  giftId?: string;
}

export class SandboxApi {
  constructor(
    private readonly store: Store,
    private readonly faults: Faults,
    private readonly journal: Journal,
    private readonly keys: Keys,
  ) {}

  handle(request: ApiRequest): ApiOutcome {
    const trace: Trace = { tenant: null };
    let binding: { notBefore: number; heardFrom: number } | undefined;
    const answer = (() => {
      if (request.version?.trim() !== API_VERSION) {
        const got = request.version === undefined ? 'missing' : `unsupported (${request.version})`;
        return fail(
          400,
          apiError(
            'api_error',
            'unsupported_api_version',
            `AndOpen-API-Version is ${got}; send ${API_VERSION}`,
          ),
        );
      }
      const auth = this.authenticate(request.authorization);
      trace.tenant = auth.tenant;
      if (auth.tenant !== null) binding = this.journal.binding(auth.tenant, request.at);
      if ('error' in auth) return fail(auth.status, auth.error);
      return this.serve(request, auth.tenant, trace);
    })();

    this.journal.recordRequest(
      {
        at: request.at,
        method: request.method,
        path: request.pathname,
        status: answer?.status ?? null,
        requestId: request.requestId,
        tenant: trace.tenant,
        ...(trace.fault === undefined ? {} : { fault: trace.fault }),
        ...(trace.giftId === undefined ? {} : { giftId: trace.giftId }),
        early: binding !== undefined,
      },
      binding,
    );
    return { answer };
  }

  private serve(request: ApiRequest, tenant: string, trace: Trace): Answer | null {
    const { at } = request;
    const maintenanceEnd = this.faults.maintenanceEnd(at);
    if (maintenanceEnd !== undefined) {
      const format = this.faults.settings.retryAfterFormat;
      return this.withRetryAfter(tenant, at, maintenanceEnd - at, format, 503, unavailable());
    }
    const token = this.faults.takeToken(tenant, at);
    if (!token.ok) {
      const format = this.faults.rateLimitFormat();
      return this.withRetryAfter(tenant, at, token.waitMs, format, 429, rateLimited());
    }

    const route = matchRoute(request.method, request.pathname);
    if ('status' in route) return route;

    const kind: RequestKind =
      route.kind === 'create-gift' ? 'post' : route.kind === 'get-gift' ? 'get' : 'other';
    const fault = this.faults.nextFault(kind);
    if (fault !== undefined) trace.fault = fault;
    const injectedWaitMs = this.faults.settings.injectedRetryAfterS * 1000;
    const format = this.faults.settings.retryAfterFormat;
    switch (fault) {
      case 'drop-before-create':
        return null;
      case '500-not-created':
        return fail(500, internalError());
      case '502':
        return fail(502, apiError('api_error', 'bad_gateway', 'bad gateway'));
      case '504':
        return fail(504, apiError('api_error', 'gateway_timeout', 'gateway timeout'));
      case '503':
        return this.withRetryAfter(tenant, at, injectedWaitMs, format, 503, unavailable());
      case '429':
        return this.withRetryAfter(tenant, at, injectedWaitMs, format, 429, rateLimited());
      default:
        break;
    }

    const answer = this.route(route, request, tenant, trace);
    // These faults strike after the work is done: a gift created on the way stays created.
    if (fault === '500-created') return fail(500, internalError());
    if (fault === 'drop-after-create') return null;
    return answer;
  }

  private route(route: Route, request: ApiRequest, tenant: string, trace: Trace): Answer {
    switch (route.kind) {
      case 'create-gift':
        return this.createGift(request, tenant, trace);
      case 'get-gift': {
        const gift = this.store.gift(tenant, route.id);
        if (gift === undefined) return notFound(`no gift request ${route.id}`);
        trace.giftId = gift.id;
        return ok(200, this.store.giftView(gift, request.at));
      }
      case 'list-campaigns':
        return this.listCampaigns(request.query, tenant);
      case 'get-campaign': {
        const campaign = this.store.campaign(tenant, route.id);
        if (campaign === undefined) return notFound(`no campaign ${route.id}`);
        return ok(200, this.store.campaignView(campaign));
      }
    }
  }

  private createGift(request: ApiRequest, tenant: string, trace: Trace): Answer {
    const body = parseJsonObject(request.body);
    if (body === undefined) {
      return fail(
        400,
        apiError('api_error', 'malformed_request', 'the request body must be a JSON object'),
      );
    }
    // A 2025-10 envelope ({ data: { type, attributes } }) needs no special case: 2026-05 ignores
    // unknown fields, so it reads as a body without campaign_id and recipient: 422 `required` on
    // both, which is what a 2026-05 server answers a client that has not migrated its bodies.
    const check = checkCreateBody(body, this.store.catalogueFor(tenant));
    if (!check.ok) return { status: 422, body: errorBody(...check.errors), headers: {} };
    const gift = this.store.createGift(
      tenant,
      check.plan,
      request.at,
      this.faults.settings.redemptionUrlDelayMs,
    );
    trace.giftId = gift.id;
    const unacknowledged = trace.fault === '500-created' || trace.fault === 'drop-after-create';
    this.journal.recordGift({
      at: request.at,
      id: gift.id,
      tenant,
      campaignId: gift.campaignId,
      mode: check.plan.directSend === null ? 'choice' : 'direct-send',
      body,
      requestId: request.requestId,
      ...(unacknowledged ? { fault: trace.fault as '500-created' | 'drop-after-create' } : {}),
    });
    return ok(201, this.store.giftView(gift, request.at));
  }

  private listCampaigns(query: URLSearchParams, tenant: string): Answer {
    const limitText = query.get('limit');
    let limit = CAMPAIGN_PAGE_MAX;
    if (limitText !== null) {
      const parsed = /^\s*\d+\s*$/.test(limitText) ? Number(limitText) : Number.NaN;
      if (!(parsed >= 1)) {
        return fail(400, badParameter('limit', 'must be a positive integer'));
      }
      // Each campaign carries its whole catalogue, so pages are capped; larger asks are clamped.
      limit = Math.min(parsed, CAMPAIGN_PAGE_MAX);
    }
    let campaigns = this.store.campaignsOf(tenant);
    const sort = query.get('sort');
    if (sort === 'created_at') campaigns.reverse();
    else if (sort !== null && sort !== '-created_at') {
      return fail(400, badParameter('sort', 'must be -created_at (newest first) or created_at'));
    }
    const after = query.get('after');
    if (after !== null) {
      const index = campaigns.findIndex((campaign) => campaign.id === after);
      if (index === -1) return fail(400, badParameter('after', 'references no campaign'));
      campaigns = campaigns.slice(index + 1);
    }
    const status = query.get('status');
    if (status !== null) campaigns = campaigns.filter((campaign) => campaign.status === status);
    return ok(200, {
      data: campaigns.slice(0, limit).map((campaign) => this.store.campaignView(campaign)),
      has_more: campaigns.length > limit,
    });
  }

  private authenticate(header: string | undefined): Auth {
    const authError = (code: string, message: string) => ({
      tenant: null,
      status: 401,
      error: apiError('authentication_error', code, message),
    });
    // Anything that is not "Bearer <token>" (no header, another scheme) presents no bearer token.
    const token = header?.match(/^Bearer +(\S+) *$/i)?.[1];
    if (token === undefined) {
      return authError('missing_token', 'send Authorization: Bearer <token>');
    }
    const key = this.keys.valid.find((candidate) => candidate.key === token);
    if (key !== undefined) return { tenant: key.tenant };
    if (this.keys.expired.includes(token)) return authError('expired_token', 'the token expired');
    if (this.keys.forbidden.includes(token)) {
      return {
        tenant: this.keys.forbiddenTenant,
        status: 403,
        error: apiError(
          'authorization_error',
          'insufficient_scope',
          'the token is not allowed to use this resource',
        ),
      };
    }
    // Tokens of another region or environment are just as unknown here.
    return authError('invalid_token', 'the token is not recognised');
  }

  private withRetryAfter(
    tenant: string,
    at: number,
    waitMs: number,
    format: 'seconds' | 'http-date',
    status: number,
    error: ErrorEntry,
  ): Answer {
    const { header, notBefore } = retryAfter(at, waitMs, format);
    return {
      status,
      body: errorBody(error),
      headers: { 'Retry-After': header },
      retryAfter: { tenant, notBefore },
    };
  }
}

function matchRoute(method: string, pathname: string): Route | Answer {
  const segments = pathname.split('/').slice(1);
  const [collection, id, ...rest] = segments;
  const allow = (allowed: string, route: Route): Route | Answer =>
    method === allowed
      ? route
      : {
          status: 405,
          body: errorBody(
            apiError('api_error', 'method_not_allowed', `${method} is not allowed on ${pathname}`),
          ),
          headers: { Allow: allowed },
        };
  if (rest.length === 0 && id === undefined) {
    if (collection === 'gift_requests') return allow('POST', { kind: 'create-gift' });
    if (collection === 'campaigns') return allow('GET', { kind: 'list-campaigns' });
  }
  if (rest.length === 0 && id !== undefined && id !== '') {
    const decoded = safeDecode(id);
    if (collection === 'gift_requests') return allow('GET', { kind: 'get-gift', id: decoded });
    if (collection === 'campaigns') return allow('GET', { kind: 'get-campaign', id: decoded });
  }
  return notFound(`no such endpoint: ${method} ${pathname}`);
}

function safeDecode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

function parseJsonObject(body: Buffer): Record<string, unknown> | undefined {
  try {
    const parsed: unknown = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(body));
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)
      ? (parsed as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

const ok = (status: number, body: unknown): Answer => ({ status, body, headers: {} });
const fail = (status: number, error: ErrorEntry): Answer => ({
  status,
  body: errorBody(error),
  headers: {},
});
const notFound = (message: string): Answer =>
  fail(404, apiError('not_found_error', 'not_found', message));
const internalError = () => apiError('api_error', 'internal_error', 'internal server error');
const unavailable = () =>
  apiError('api_error', 'service_unavailable', 'the service is unavailable; honour Retry-After');
const rateLimited = () =>
  apiError('rate_limit_error', 'rate_limited', 'too many requests; honour Retry-After');
const badParameter = (param: string, message: string) =>
  apiError('api_error', 'invalid_parameter', message, param);
