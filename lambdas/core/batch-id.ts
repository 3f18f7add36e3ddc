/**
 * A batch's id, derived from the uploaded object's identity (bucket, key, and version or ETag), so that
 * a duplicate S3 event for the same object finds the same batch and does nothing, while a re-upload
 * of changed content is a new batch. Readable, because it names the results file:
 * `recipients-3f9a2b1c0d4e`.
 */
export async function batchIdForObject(object: {
  bucket: string;
  key: string;
  versionId: string | null;
  eTag: string | null;
}): Promise<string> {
  const identity = [object.bucket, object.key, object.versionId ?? '', object.eTag ?? ''].join(
    '\n',
  );
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(identity));
  const hex = Array.from(new Uint8Array(digest).subarray(0, 6), (byte) =>
    byte.toString(16).padStart(2, '0'),
  ).join('');
  return `${slugOfKey(object.key)}-${hex}`;
}

/** The file name without folders or extension, reduced to letters, digits and dashes. */
function slugOfKey(key: string): string {
  const name = key.split('/').pop() ?? '';
  const stem = name.replace(/\.[^.]*$/, '');
  const slug = stem
    .normalize('NFKD')
    .replace(/[^A-Za-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .toLowerCase()
    .slice(0, 40);
  return slug || 'batch';
}
