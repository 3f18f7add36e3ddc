import type {
  ApiCall,
  Campaign,
  GiftingApi,
  GiftRequest,
  GiftRequestBody,
  ListCampaignsParams,
  Page,
} from '../ports/gifting-api.ts';

/** A client that can be let go of (closes its keep-alive sockets), like AndOpenHttpClient. */
export interface ClosableGiftingApi extends GiftingApi {
  close?(): void;
}

export interface RenewableKeyOptions {
  /** Reads the key (from its secret); rejects when it cannot. */
  readKey: () => Promise<string>;
  /** A client that sends this key. */
  connect: (apiKey: string) => ClosableGiftingApi;
  /**
   * Whether a failed `readKey` passes by itself (Secrets Manager unreachable) rather than needing a
   * person (no value in the secret yet, empty, not ours to read).
   */
  isTransient: (error: unknown) => boolean;
  /** A key that could not be read is not read again sooner than this (default 10 s). */
  retryReadAfterMs?: number;
  now?: () => number;
}

/**
 * The &Open client of a deployed function, whose key lives in a secret that people fill in and
 * rotate:
 * - the key is read on first use, not at cold start, and a key that cannot be read is an answer,
 *   not an exception: `no-credentials` (a configuration stop of the batch, like a 401: no row is
 *   spent, and the messages wait) when the secret needs a person, or a `transport-failure` that
 *   sent nothing (the row is simply tried again) when Secrets Manager could not be reached;
 * - a 401 or 403 drops the key this container holds, so once a person has put the new key in the
 *   secret and resumed the batch, the next call reads it (a warm container would otherwise keep
 *   the revoked key until it is recycled, and stop the batch again). The 401 still stops the batch.
 */
export class RenewableKeyGiftingApi implements GiftingApi {
  readonly #options: RenewableKeyOptions;
  readonly #retryReadAfterMs: number;
  readonly #now: () => number;
  #client: Promise<ClosableGiftingApi> | undefined;
  /** When the read that `#client` holds failed; null while it has not. */
  #failedReadAt: number | null = null;

  constructor(options: RenewableKeyOptions) {
    this.#options = options;
    this.#retryReadAfterMs = options.retryReadAfterMs ?? 10_000;
    this.#now = options.now ?? Date.now;
  }

  createGiftRequest(body: GiftRequestBody): Promise<ApiCall<GiftRequest>> {
    return this.#call((client) => client.createGiftRequest(body));
  }

  getGiftRequest(id: string): Promise<ApiCall<GiftRequest>> {
    return this.#call((client) => client.getGiftRequest(id));
  }

  getCampaign(id: string): Promise<ApiCall<Campaign>> {
    return this.#call((client) => client.getCampaign(id));
  }

  listCampaigns(params?: ListCampaignsParams): Promise<ApiCall<Page<Campaign>>> {
    return this.#call((client) => client.listCampaigns(params));
  }

  async #call<T>(use: (client: GiftingApi) => Promise<ApiCall<T>>): Promise<ApiCall<T>> {
    const current = this.#current();
    let client: ClosableGiftingApi;
    try {
      client = await current;
    } catch (error) {
      return this.#unreadableKey(error);
    }
    const call = await use(client);
    if (call.kind === 'response' && (call.status === 401 || call.status === 403)) {
      // Only the first refusal of this client lets it go; calls already on a newer key keep it.
      if (this.#client === current) {
        this.#client = undefined;
        client.close?.();
      }
    }
    return call;
  }

  /** The client on the key last read; reads the key again once a failed read is old enough. */
  #current(): Promise<ClosableGiftingApi> {
    const failedLongAgo =
      this.#failedReadAt !== null && this.#now() - this.#failedReadAt >= this.#retryReadAfterMs;
    if (this.#client === undefined || failedLongAgo) {
      this.#failedReadAt = null;
      const reading = this.#options.readKey().then((apiKey) => this.#options.connect(apiKey));
      reading.catch(() => {
        if (this.#client === reading) this.#failedReadAt = this.#now();
      });
      this.#client = reading;
    }
    return this.#client;
  }

  #unreadableKey<T>(error: unknown): ApiCall<T> {
    const message = error instanceof Error ? error.message : String(error);
    if (this.#options.isTransient(error)) {
      return { kind: 'transport-failure', requestSent: false, reason: 'other', message };
    }
    return { kind: 'no-credentials', message };
  }
}
