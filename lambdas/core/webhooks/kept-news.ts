import type { Ledger } from '../../ports/ledger.ts';
import { mergeGiftNews } from './gift-event.ts';

/** A created gift as its row knows it, and where that row is. */
export interface KnownGift {
  batchId: string;
  row: number;
  giftRequestId: string;
  giftStatus: string | null;
  redemptionUrl: string | null;
  giftUpdatedAt: string | null;
}

/**
 * Applies news a webhook kept for a gift it could not match yet (it came before the row knew its
 * gift request) when that news brings the link. True when it did: the row is settled and needs no
 * GET. The sender asks right after recording a create answer, the poller before each GET.
 */
export async function settleFromKeptNews(
  ledger: Pick<Ledger, 'unmatchedNews' | 'updateGift'>,
  gift: KnownGift,
  isoNow: string,
): Promise<boolean> {
  const news = await ledger.unmatchedNews(gift.giftRequestId);
  if (news === null) return false;
  const change = mergeGiftNews(
    {
      giftStatus: gift.giftStatus,
      redemptionUrl: gift.redemptionUrl,
      giftUpdatedAt: gift.giftUpdatedAt,
      following: true,
    },
    {
      id: news.giftRequestId,
      status: news.giftStatus,
      redemptionUrl: news.redemptionUrl,
      updatedAt: news.giftUpdatedAt,
    },
  );
  if (change?.redemptionUrl == null) return false;
  await ledger.updateGift(
    gift.batchId,
    gift.row,
    {
      giftStatus: change.giftStatus,
      redemptionUrl: change.redemptionUrl,
      giftUpdatedAt: change.giftUpdatedAt,
      requestId: null,
      pollDueAt: null,
    },
    isoNow,
  );
  return true;
}
