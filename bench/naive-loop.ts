/**
 * The loop a user would write instead of the pipeline, as the benchmark's baseline: one request at a
 * time, polite (it sleeps as long as `Retry-After` says), and nothing more.
 *
 * 1. For each row in turn: POST; on 429 or 503 sleep `Retry-After` and POST it again; otherwise keep
 *    the gift's id (or the error) and go on to the next row.
 * 2. Then for each gift created without a redemption URL: GET it until the URL appears, sleeping
 *    `Retry-After` on 429 or 503 and a fixed interval while the URL is still null.
 *
 * It talks through the project's own HTTP client, so the difference the benchmark measures is the
 * pipeline's scheduling, not a faster or slower client.
 */
import type {
  ApiCall,
  GiftingApi,
  GiftRequest,
  GiftRequestBody,
} from '../lambdas/ports/gifting-api.ts';

export interface NaiveLoopOptions {
  api: GiftingApi;
  bodies: readonly GiftRequestBody[];
  /** Injected so the loop could run on a fake clock. */
  sleep?: (ms: number) => Promise<void>;
  /** Between two GETs of a gift whose URL is still null. */
  pollEveryMs?: number;
  /** When a 429 or 503 comes without a usable Retry-After. */
  fallbackWaitMs?: number;
  /** A gift still without a URL after this many GETs is left as it is. */
  maxPollsPerGift?: number;
  onProgress?: (phase: 'post' | 'poll', done: number, total: number) => void;
}

export interface NaiveOutcome {
  /** 1-based, in input order. */
  row: number;
  giftRequestId: string | null;
  redemptionUrl: string | null;
  /** Why the row has no gift, or no URL. */
  error: string | null;
}

const sleepFor = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export async function runNaiveLoop(options: NaiveLoopOptions): Promise<NaiveOutcome[]> {
  const {
    api,
    bodies,
    sleep = sleepFor,
    pollEveryMs = 1_000,
    fallbackWaitMs = 1_000,
    maxPollsPerGift = 120,
    onProgress = () => undefined,
  } = options;

  /** Calls until the answer is neither 429 nor 503, sleeping as told between tries. */
  const politely = async (call: () => Promise<ApiCall<GiftRequest>>) => {
    for (;;) {
      const answer = await call();
      if (answer.kind === 'response' && (answer.status === 429 || answer.status === 503)) {
        await sleep(answer.retryAfterMs ?? fallbackWaitMs);
        continue;
      }
      return answer;
    }
  };

  const outcomes: NaiveOutcome[] = [];
  for (const [index, body] of bodies.entries()) {
    const answer = await politely(() => api.createGiftRequest(body));
    outcomes.push({ row: index + 1, ...createdOrError(answer) });
    onProgress('post', index + 1, bodies.length);
  }

  const waiting = outcomes.filter((outcome) => outcome.giftRequestId && !outcome.redemptionUrl);
  for (const [index, outcome] of waiting.entries()) {
    const id = outcome.giftRequestId as string;
    for (let attempt = 1; attempt <= maxPollsPerGift; attempt += 1) {
      const answer = await politely(() => api.getGiftRequest(id));
      if (answer.kind === 'response' && answer.body?.redemption_url) {
        outcome.redemptionUrl = answer.body.redemption_url;
        break;
      }
      if (attempt === maxPollsPerGift) outcome.error = `no redemption_url after ${attempt} GETs`;
      else await sleep(pollEveryMs);
    }
    onProgress('poll', index + 1, waiting.length);
  }
  return outcomes;
}

function createdOrError(answer: ApiCall<GiftRequest>): Omit<NaiveOutcome, 'row'> {
  if (answer.kind === 'transport-failure' || answer.kind === 'no-credentials') {
    return { giftRequestId: null, redemptionUrl: null, error: answer.message };
  }
  if (answer.status === 201 && answer.body) {
    return {
      giftRequestId: answer.body.id,
      redemptionUrl: answer.body.redemption_url,
      error: null,
    };
  }
  const codes = answer.errors.map((error) => error.code).join('; ');
  return { giftRequestId: null, redemptionUrl: null, error: `HTTP ${answer.status} ${codes}` };
}
