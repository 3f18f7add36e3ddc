/**
 * What the sandbox saw and answered: every API request, every gift created, and every request that
 * came before a Retry-After this sandbox had given to its tenant had passed. Tests and the rate-limit
 * benchmark read it. Tokens are never recorded, only their tenant's label.
 */

export interface JournalRequest {
  /** Arrival, by the sandbox's clock (ms). */
  at: number;
  method: string;
  path: string;
  /** Null when no answer was written (the socket was destroyed). */
  status: number | null;
  requestId: string;
  /** Null when the request did not authenticate. */
  tenant: string | null;
  fault?: string;
  giftId?: string;
  /** It arrived before a Retry-After given to its tenant had passed. */
  early: boolean;
}

export interface JournalEarlyRequest extends JournalRequest {
  /** The latest "retry not before" instant given to the tenant when the request arrived. */
  notBefore: number;
  /**
   * When the first answer that made this request early was written (ms, sandbox clock): the
   * request arrived `at - heardFrom` ms after a client could first have read that Retry-After
   * (negative: it was stamped before that answer left, and read after it).
   */
  heardFrom: number;
}

export interface JournalGift {
  at: number;
  id: string;
  tenant: string;
  campaignId: string;
  mode: 'choice' | 'direct-send';
  /** The parsed body exactly as received (server-set and unknown fields included). */
  body: unknown;
  requestId: string;
  /** Set when the gift was created but the client was not told so. */
  fault?: '500-created' | 'drop-after-create';
}

/** One attempt to deliver one event. The secret and the signature are never recorded. */
export interface JournalWebhookAttempt {
  /** When the attempt was sent, by the sandbox's clock (ms). */
  at: number;
  eventId: string;
  eventType: string;
  giftId: string;
  /** The gift's status and whether the link was in the body. */
  status: string;
  withUrl: boolean;
  attempt: number;
  /** The receiver's HTTP status; null when it did not answer (refused, reset, timed out). */
  answer: number | null;
  error?: string;
  /** Why this copy exists or is late: a duplicate, an event held back to arrive out of order. */
  fault?: 'duplicate' | 'out-of-order';
}

export interface JournalSummary {
  requests: number;
  /** Counts by HTTP status; requests left without an answer count under `no-answer`. */
  byStatus: Record<string, number>;
  /** Counts by fault (injected or rolled). */
  byFault: Record<string, number>;
  giftsCreated: number;
  /** Gifts created whose creation the client never learned of (500-created, drop-after-create). */
  giftsCreatedUnacknowledged: number;
  earlyRequests: number;
}

export class Journal {
  readonly requests: JournalRequest[] = [];
  readonly gifts: JournalGift[] = [];
  readonly earlyRequests: JournalEarlyRequest[] = [];
  /** Every webhook delivery attempt (when webhooks are configured). */
  readonly webhooks: JournalWebhookAttempt[] = [];
  // Kept across reset(): a Retry-After already given still binds the requests that follow it.
  // Per tenant, the Retry-After answers whose instant has not passed yet: when each was written
  // and its instant (the latest instant decides; the first writing says since when it was known).
  private readonly retryAfters = new Map<string, { sentAt: number; notBefore: number }[]>();

  /** The instant before which a request of this tenant is early, or undefined if none. */
  notBefore(tenant: string, at: number): number | undefined {
    return this.binding(tenant, at)?.notBefore;
  }

  /**
   * The Retry-After that makes a request arriving at `at` early: the latest instant given that has
   * not passed, and when the first of the answers still binding it was written.
   */
  binding(tenant: string, at: number): { notBefore: number; heardFrom: number } | undefined {
    let notBefore = Number.NEGATIVE_INFINITY;
    let heardFrom = Number.POSITIVE_INFINITY;
    for (const given of this.retryAfters.get(tenant) ?? []) {
      // A request at exactly the instant has waited as told: it is not early. (Every Retry-After
      // noted counts, even one written after `at`: the request is handled once its body is read,
      // and a request stamped before an answer was written may be read after it.)
      if (given.notBefore <= at) continue;
      notBefore = Math.max(notBefore, given.notBefore);
      heardFrom = Math.min(heardFrom, given.sentAt);
    }
    return notBefore === Number.NEGATIVE_INFINITY ? undefined : { notBefore, heardFrom };
  }

  /** Remembers a Retry-After given to a tenant by an answer written at `sentAt`. */
  noteRetryAfter(tenant: string, notBefore: number, sentAt = Number.NEGATIVE_INFINITY): void {
    // The instants already passed bind nothing any more (the list stays a few entries long).
    const live = (this.retryAfters.get(tenant) ?? []).filter((given) => given.notBefore > sentAt);
    live.push({ sentAt, notBefore });
    this.retryAfters.set(tenant, live);
  }

  recordRequest(entry: JournalRequest, binding?: { notBefore: number; heardFrom: number }): void {
    this.requests.push(entry);
    if (entry.early && binding !== undefined) this.earlyRequests.push({ ...entry, ...binding });
  }

  recordGift(gift: JournalGift): void {
    this.gifts.push(gift);
  }

  summary(): JournalSummary {
    const byStatus: Record<string, number> = {};
    const byFault: Record<string, number> = {};
    for (const request of this.requests) {
      const status = request.status === null ? 'no-answer' : String(request.status);
      byStatus[status] = (byStatus[status] ?? 0) + 1;
      if (request.fault !== undefined) byFault[request.fault] = (byFault[request.fault] ?? 0) + 1;
    }
    return {
      requests: this.requests.length,
      byStatus,
      byFault,
      giftsCreated: this.gifts.length,
      giftsCreatedUnacknowledged: this.gifts.filter((gift) => gift.fault !== undefined).length,
      earlyRequests: this.earlyRequests.length,
    };
  }

  /** Forgets what was recorded (not the Retry-After instants already given). */
  reset(): void {
    this.requests.length = 0;
    this.gifts.length = 0;
    this.earlyRequests.length = 0;
    this.webhooks.length = 0;
  }

  toJSON(): unknown {
    return {
      summary: this.summary(),
      requests: this.requests,
      gifts: this.gifts,
      earlyRequests: this.earlyRequests,
      webhooks: this.webhooks,
    };
  }
}
