/** Byte streams for the reader, cut the way real sources cut them (or worse). */

export function bytesOf(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}

/** `data` as chunks of `size` bytes (1 = every byte on its own). */
export async function* chunked(
  data: string | Uint8Array,
  size: number,
): AsyncGenerator<Uint8Array> {
  const bytes = typeof data === 'string' ? bytesOf(data) : data;
  for (let i = 0; i < bytes.length; i += size) yield bytes.slice(i, i + size);
}

/** `data` cut at pseudo-random places (a seeded generator, so a failure can be replayed). */
export async function* randomlyChunked(
  data: string | Uint8Array,
  seed: number,
): AsyncGenerator<Uint8Array> {
  const bytes = typeof data === 'string' ? bytesOf(data) : data;
  let state = seed;
  let i = 0;
  while (i < bytes.length) {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    const size = 1 + (state % 17);
    yield bytes.slice(i, i + size);
    i += size;
  }
}

export async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const items: T[] = [];
  for await (const item of iterable) items.push(item);
  return items;
}

/** Runs the iterable to its end and returns the rows it yielded plus the error it threw, if any. */
export async function collectUntilError<T>(
  iterable: AsyncIterable<T>,
): Promise<{ items: T[]; error: unknown }> {
  const items: T[] = [];
  try {
    for await (const item of iterable) items.push(item);
  } catch (error) {
    return { items, error };
  }
  return { items, error: null };
}
