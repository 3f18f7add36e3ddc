import type { ApiCall, GiftingApi, GiftRequest } from '../../lambdas/ports/gifting-api.ts';

/**
 * &Open for services that only read gift requests (poller, refresh): each GET is answered by
 * `answer`, given the id and how many times that id has now been asked for; any other call fails
 * the test.
 */
export class GetOnlyApi implements GiftingApi {
  /** Every id asked for, in order. */
  readonly asked: string[] = [];

  constructor(private readonly answer: (id: string, asked: number) => ApiCall<GiftRequest>) {}

  async getGiftRequest(id: string): Promise<ApiCall<GiftRequest>> {
    this.asked.push(id);
    return this.answer(id, this.asked.filter((asked) => asked === id).length);
  }

  createGiftRequest(): never {
    throw new Error('not used');
  }

  getCampaign(): never {
    throw new Error('not used');
  }

  listCampaigns(): never {
    throw new Error('not used');
  }
}
