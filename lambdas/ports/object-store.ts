export interface StoredObject {
  body: AsyncIterable<Uint8Array>;
  size: number;
  eTag: string | null;
  versionId: string | null;
}

export interface ObjectStore {
  /** Opens an object for streaming; null when it does not exist (deleted between event and read). */
  open(bucket: string, key: string): Promise<StoredObject | null>;
  /** Writes an object from a stream of text chunks (multipart: no size limit, flat memory). */
  write(
    bucket: string,
    key: string,
    body: AsyncIterable<string> | string,
    contentType: string,
  ): Promise<void>;
}
