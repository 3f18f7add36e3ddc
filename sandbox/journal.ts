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
  private readonly retryNotBefore = new Map<string, number>();

  /** The instant before which a request of this tenant is early, or undefined if none. */
  notBefore(tenant: string, at: number): number | undefined {
    const instant = this.retryNotBefore.get(tenant);
    // A request at exactly the instant has waited as told: it is not early.
    return instant !== undefined && at < instant ? instant : undefined;
  }

  /** Remembers a Retry-After given to a tenant; only the latest instant matters. */
  noteRetryAfter(tenant: string, notBefore: number): void {
    this.retryNotBefore.set(tenant, Math.max(notBefore, this.retryNotBefore.get(tenant) ?? 0));
  }

  recordRequest(entry: JournalRequest, notBefore?: number): void {
    this.requests.push(entry);
    if (entry.early && notBefore !== undefined) this.earlyRequests.push({ ...entry, notBefore });
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
