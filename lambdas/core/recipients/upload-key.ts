const UPLOAD_KEY = /^uploads\/([^/]+)\/[^/]+$/;

/**
 * The campaign an upload is for, from its object key `uploads/<campaign_id>/<name>.csv`; null for
 * any other key. Takes the decoded key (S3 event records carry it URL-encoded: decode it first).
 */
export function campaignFromUploadKey(key: string): string | null {
  const campaignId = UPLOAD_KEY.exec(key)?.[1]?.trim();
  return campaignId ? campaignId : null;
}
