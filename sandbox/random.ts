import { createHash, randomInt } from 'node:crypto';

/** A small seedable source of randomness, so a seeded sandbox hands out the same ids every run. */
export interface Random {
  /** A float in [0, 1). */
  next(): number;
  /** An integer in [min, max], both included. */
  int(min: number, max: number): number;
  uuid(): string;
  /** `length` characters of [0-9a-zA-Z]. */
  token(length: number): string;
}

const ALPHABET = '0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';

export function createRandom(seed: number = randomInt(2 ** 32)): Random {
  // mulberry32: tiny, fast, and good enough for ids and fault rolls (not for secrets).
  let state = seed >>> 0;
  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
  const byte = (): number => Math.floor(next() * 256);
  return {
    next,
    int: (min, max) => min + Math.floor(next() * (max - min + 1)),
    uuid: () => {
      const bytes = Array.from({ length: 16 }, byte);
      bytes[6] = ((bytes[6] ?? 0) & 0x0f) | 0x40; // version 4
      bytes[8] = ((bytes[8] ?? 0) & 0x3f) | 0x80; // RFC 4122 variant
      return formatUuid(bytes);
    },
    token: (length) =>
      Array.from({ length }, () => ALPHABET[Math.floor(next() * ALPHABET.length)]).join(''),
  };
}

/** A fixed uuid derived from a name, so seeded catalogue ids never change between runs. */
export function nameUuid(name: string): string {
  const bytes = Array.from(createHash('sha1').update(`andopen-sandbox:${name}`).digest()).slice(
    0,
    16,
  );
  bytes[6] = ((bytes[6] ?? 0) & 0x0f) | 0x50; // version 5 (name-based, SHA-1)
  bytes[8] = ((bytes[8] ?? 0) & 0x3f) | 0x80;
  return formatUuid(bytes);
}

function formatUuid(bytes: number[]): string {
  const hex = bytes.map((b) => b.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
