import type { GiftEventRecord, TrackedGift } from '../../ports/ledger.ts';

/**
 * The public statuses in the order a gift moves through them (get-gift-request.txt): submitted →
 * redeemed → dispatched → delivered, or cancelled, after which nothing follows. A status &Open adds
 * later has no rank: then only `updated_at` can say which news is newer.
 */
const STATUS_RANK: Record<string, number> = {
  submitted: 0,
  redeemed: 1,
  dispatched: 2,
  delivered: 3,
  cancelled: 4,
};

/** What a webhook payload says about a gift request (the flat 2026-05 object). */
export interface GiftNews {
  id: string;
  status: string;
  redemptionUrl: string | null;
  updatedAt: string | null;
}

/** Reads the fields that matter from a payload; null when it is not a gift request. */
export function readGiftNews(payload: unknown): GiftNews | null {
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) return null;
  const fields = payload as Record<string, unknown>;
  const text = (value: unknown) =>
    typeof value === 'string' && value.trim() !== '' ? value.trim() : null;
  const id = text(fields.id);
  const status = text(fields.status);
  if (id === null || status === null) return null;
  return {
    id,
    status,
    redemptionUrl: text(fields.redemption_url),
    updatedAt: text(fields.updated_at),
  };
}

/**
 * The row's gift after the news, never moved backwards: deliveries arrive late, twice, and out of
 * order. The status goes forward in STATUS_RANK order (or, for a status without a rank, follows the
 * newer `updated_at`); a URL once known is never cleared; `updated_at` only grows.
 * Returns null when the news changes nothing.
 */
export function mergeGiftNews(
  row: Pick<TrackedGift, 'giftStatus' | 'redemptionUrl' | 'giftUpdatedAt' | 'following'>,
  news: GiftNews,
): GiftEventRecord['change'] {
  const newer = isNewer(news.updatedAt, row.giftUpdatedAt);
  const giftStatus = laterStatus(row.giftStatus, news.status, newer);
  const redemptionUrl = newer
    ? (news.redemptionUrl ?? row.redemptionUrl)
    : (row.redemptionUrl ?? news.redemptionUrl);
  const giftUpdatedAt = newer ? news.updatedAt : row.giftUpdatedAt;
  if (
    giftStatus === row.giftStatus &&
    redemptionUrl === row.redemptionUrl &&
    giftUpdatedAt === row.giftUpdatedAt
  ) {
    return null;
  }
  return {
    giftStatus,
    redemptionUrl,
    giftUpdatedAt,
    settles: row.following && redemptionUrl !== null,
  };
}

/** ISO-8601 instants; a known time is newer than none, and equal ones are not newer. */
function isNewer(candidate: string | null, current: string | null): boolean {
  if (candidate === null) return false;
  if (current === null) return true;
  const [a, b] = [Date.parse(candidate), Date.parse(current)];
  if (Number.isNaN(a) || Number.isNaN(b)) return candidate > current;
  return a > b;
}

function laterStatus(current: string | null, incoming: string, incomingIsNewer: boolean): string {
  if (current === null) return incoming;
  const [now, next] = [STATUS_RANK[current], STATUS_RANK[incoming]];
  if (now !== undefined && next !== undefined) return next > now ? incoming : current;
  return incomingIsNewer ? incoming : current;
}
