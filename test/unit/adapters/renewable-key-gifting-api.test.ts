import {
  DecryptionFailure,
  InternalServiceError,
  InvalidRequestException,
  ResourceNotFoundException,
} from '@aws-sdk/client-secrets-manager';
import { describe, expect, it } from 'vitest';
import { RenewableKeyGiftingApi } from '../../../lambdas/adapters/renewable-key-gifting-api.ts';
import { ApiKeySecretError } from '../../../lambdas/adapters/secret-api-key.ts';
import { isTransientSecretFailure } from '../../../lambdas/adapters/secret-string.ts';
import type {
  ApiCall,
  Campaign,
  GiftingApi,
  GiftRequest,
  Page,
} from '../../../lambdas/ports/gifting-api.ts';

const BODY = { campaign_id: 'cmp-1', recipient: { first_name: 'Alice', last_name: 'Smith' } };

const response = (status: number): ApiCall<GiftRequest> => ({
  kind: 'response',
  status,
  requestId: `req_${status}`,
  body: null,
  errors: [],
  retryAfterMs: null,
});

/** &Open as far as keys go: accepts the keys in `valid`, answers 401 to any other. */
class KeyCheckingApi implements GiftingApi {
  closed = false;
  constructor(
    readonly apiKey: string,
    private readonly valid: Set<string>,
  ) {}
  async createGiftRequest(): Promise<ApiCall<GiftRequest>> {
    return response(this.valid.has(this.apiKey) ? 201 : 401);
  }
  async getGiftRequest(): Promise<ApiCall<GiftRequest>> {
    return response(this.valid.has(this.apiKey) ? 200 : 403);
  }
  async getCampaign(): Promise<ApiCall<Campaign>> {
    throw new Error('not used');
  }
  async listCampaigns(): Promise<ApiCall<Page<Campaign>>> {
    throw new Error('not used');
  }
  close(): void {
    this.closed = true;
  }
}

/** A secret people change, and &Open's view of which keys are valid. */
function setUp(secret: { value: string | null; unreachable?: boolean }) {
  const valid = new Set<string>();
  const clients: KeyCheckingApi[] = [];
  let reads = 0;
  let now = 0;
  const api = new RenewableKeyGiftingApi({
    readKey: async () => {
      reads += 1;
      if (secret.unreachable) {
        const network = Object.assign(new Error('connect ECONNREFUSED'), { name: 'Error' });
        throw new ApiKeySecretError('cannot read the &Open API key from secret prod/andopen', {
          cause: network,
        });
      }
      if (secret.value === null) {
        throw new ApiKeySecretError('secret prod/andopen is empty: put the &Open API key in it');
      }
      return secret.value;
    },
    connect: (apiKey) => {
      const client = new KeyCheckingApi(apiKey, valid);
      clients.push(client);
      return client;
    },
    isTransient: isTransientSecretFailure,
    retryReadAfterMs: 10_000,
    now: () => now,
  });
  return {
    api,
    valid,
    clients,
    reads: () => reads,
    advance: (ms: number) => {
      now += ms;
    },
  };
}

describe('the &Open client whose key lives in a secret', () => {
  it('reads the key once, at the first call, and keeps its client while &Open accepts it', async () => {
    // Prepare
    const { api, valid, clients, reads } = setUp({ value: 'key-1' });
    valid.add('key-1');

    // Act
    const calls = await Promise.all([
      api.createGiftRequest(BODY),
      api.createGiftRequest(BODY),
      api.getGiftRequest('gift-1'),
    ]);

    // Assess
    expect(calls.map((call) => (call.kind === 'response' ? call.status : call.kind))).toEqual([
      201, 201, 200,
    ]);
    expect(reads()).toBe(1);
    expect(clients.map((client) => client.apiKey)).toEqual(['key-1']);
  });

  it('answers no-credentials, naming the secret, when the secret is empty: nothing is sent', async () => {
    // Prepare
    const { api, clients } = setUp({ value: null });

    // Act
    const call = await api.createGiftRequest(BODY);

    // Assess
    expect(call).toEqual({
      kind: 'no-credentials',
      message: 'secret prod/andopen is empty: put the &Open API key in it',
    });
    expect(clients).toHaveLength(0);
  });

  it('reads an unreadable secret again only after a while, then uses the key put in', async () => {
    // Prepare
    const secret: { value: string | null } = { value: null };
    const { api, valid, reads, advance } = setUp(secret);
    valid.add('key-1');
    await api.createGiftRequest(BODY);

    // Act
    const soon = await api.createGiftRequest(BODY);
    const readsSoon = reads();
    secret.value = 'key-1';
    advance(10_000);
    const later = await api.createGiftRequest(BODY);

    // Assess
    expect(soon.kind).toBe('no-credentials');
    expect(readsSoon).toBe(1);
    expect(later).toMatchObject({ kind: 'response', status: 201 });
    expect(reads()).toBe(2);
  });

  it('says "nothing sent, try again" when Secrets Manager could not be reached', async () => {
    // Prepare
    const { api } = setUp({ value: 'key-1', unreachable: true });

    // Act
    const call = await api.createGiftRequest(BODY);

    // Assess
    expect(call).toMatchObject({
      kind: 'transport-failure',
      requestSent: false,
      message: 'cannot read the &Open API key from secret prod/andopen',
    });
  });

  it('after a 401 reads the secret again, so a rotated key works without a cold start', async () => {
    // Prepare: key-1 is revoked in &Open and key-2 put in the secret.
    const secret = { value: 'key-1' };
    const { api, valid, clients, reads } = setUp(secret);
    valid.add('key-1');
    await api.createGiftRequest(BODY);
    valid.delete('key-1');
    valid.add('key-2');

    // Act
    const refused = await api.createGiftRequest(BODY);
    secret.value = 'key-2';
    const afterRotation = await api.createGiftRequest(BODY);

    // Assess
    expect(refused).toMatchObject({ kind: 'response', status: 401 });
    expect(afterRotation).toMatchObject({ kind: 'response', status: 201 });
    expect(reads()).toBe(2);
    expect(clients.map((client) => [client.apiKey, client.closed])).toEqual([
      ['key-1', true],
      ['key-2', false],
    ]);
  });

  it('drops the key on a 403 too, once for a burst of refusals', async () => {
    // Prepare
    const { api, reads } = setUp({ value: 'key-1' });

    // Act: three GETs in flight on the refused key, then one more.
    await Promise.all([api.getGiftRequest('a'), api.getGiftRequest('b'), api.getGiftRequest('c')]);
    await api.getGiftRequest('d');

    // Assess
    expect(reads()).toBe(2);
  });
});

describe('which secret failures pass by themselves', () => {
  const failure = (cause?: unknown) =>
    new ApiKeySecretError('cannot read the &Open API key from secret s', { cause });

  it('a value that was read but is empty or malformed needs a person', () => {
    // Act
    const transient = isTransientSecretFailure(new ApiKeySecretError('secret s is empty'));

    // Assess
    expect(transient).toBe(false);
  });

  it('a secret without a value, missing or not ours to read needs a person', () => {
    // Prepare
    const $metadata = {};
    const answers = [
      new ResourceNotFoundException({ message: "can't find the secret value", $metadata }),
      new DecryptionFailure({ message: 'cannot decrypt', $metadata }),
      new InvalidRequestException({ message: 'marked for deletion', $metadata }),
      // Not modelled by the client: the SDK builds it from the answer's type, a client fault.
      Object.assign(new Error('not authorized'), {
        name: 'AccessDeniedException',
        $fault: 'client',
      }),
    ];

    // Act
    const transient = answers.map((answer) => isTransientSecretFailure(failure(answer)));

    // Assess
    expect(transient).toEqual([false, false, false, false]);
  });

  it('throttling, a failing service or no answer at all passes', () => {
    // Prepare
    const causes = [
      Object.assign(new Error('slow down'), { name: 'ThrottlingException', $fault: 'client' }),
      new InternalServiceError({ message: 'oops', $metadata: {} }),
      Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' }),
    ];

    // Act
    const transient = causes.map((cause) => isTransientSecretFailure(failure(cause)));

    // Assess
    expect(transient).toEqual([true, true, true]);
  });
});
