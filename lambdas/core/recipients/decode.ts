import { RecipientFileError } from './errors.ts';

export type TextEncodingName = 'utf-8' | 'windows-1252' | 'utf-16le' | 'utf-16be';

export interface DetectedEncoding {
  encoding: TextEncodingName;
  bom: boolean;
}

const UTF8_BOM = [0xef, 0xbb, 0xbf];
const NON_ASCII = /[\u0080-\uffff]/;
const SNIFF_CHARS = 4096;

type Decoder = InstanceType<typeof TextDecoder>;

/**
 * Bytes → text, detecting the encoding as it goes, never holding more than one chunk.
 *
 * Excel writes CSV as UTF-8 (with a BOM: "CSV UTF-8") or as Windows-1252 ("CSV"), and as UTF-16 with
 * a BOM ("Unicode Text"). A BOM decides at once. Without one, the file is ASCII (where both agree)
 * until its first non-ASCII byte; the chunk holding that byte decides: valid UTF-8 → UTF-8,
 * otherwise Windows-1252. Deciding at the first non-ASCII byte, not on the first chunk, keeps a
 * Windows-1252 file whose first "é" is on row 5,000 from being read as broken UTF-8.
 */
export class TextSniffer {
  #detected: DetectedEncoding | null = null;
  #sawBytes = false;
  #sniffedText = false;

  /** The encoding found so far; pure ASCII (or nothing yet) reads as UTF-8 without BOM. */
  get detected(): DetectedEncoding {
    return this.#detected ?? { encoding: 'utf-8', bom: false };
  }

  get sawBytes(): boolean {
    return this.#sawBytes;
  }

  async *decode(source: AsyncIterable<Uint8Array>): AsyncGenerator<string> {
    let decoder: Decoder | null = null;
    // Bytes not decided yet: a BOM prefix, or the start of a UTF-8 sequence cut by a chunk edge.
    let held: Uint8Array = new Uint8Array(0);
    let sniffed = false;

    for await (const chunk of source) {
      if (chunk.length === 0) continue;
      this.#sawBytes = true;
      if (decoder !== null) {
        yield this.#checked(decodeOrThrow(decoder, chunk, true));
        continue;
      }
      const bytes = concat(held, chunk);
      if (!sniffed) {
        if (bytes.length < 4) {
          held = bytes.slice();
          continue;
        }
        sniffed = true;
        rejectKnownBinary(bytes);
        decoder = this.#fromBom(bytes);
        if (decoder !== null) {
          held = new Uint8Array(0);
          yield this.#checked(decodeOrThrow(decoder, bytes, true));
          continue;
        }
      }
      // Still ASCII so far: a fresh strict decoder per chunk tells whether this one is UTF-8.
      const probe = new TextDecoder('utf-8', { fatal: true });
      let text: string;
      try {
        text = probe.decode(bytes, { stream: true });
      } catch {
        const invalidAt = utf8ThenNot(bytes);
        if (invalidAt >= 0) {
          // Valid UTF-8 with non-ASCII text, then bytes that are not: the rows before come first.
          this.#detected = { encoding: 'utf-8', bom: false };
          yield this.#checked(new TextDecoder('utf-8').decode(bytes.subarray(0, invalidAt)));
          throw mixedEncodings();
        }
        decoder = new TextDecoder('windows-1252');
        this.#detected = { encoding: 'windows-1252', bom: false };
        held = new Uint8Array(0);
        yield this.#checked(decoder.decode(bytes, { stream: true }));
        continue;
      }
      if (NON_ASCII.test(text)) {
        decoder = probe;
        this.#detected = { encoding: 'utf-8', bom: false };
        held = new Uint8Array(0);
      } else {
        // All ASCII: one char per byte, so what was not decoded is a cut sequence to hold.
        held = bytes.slice(text.length);
      }
      yield this.#checked(text);
    }

    if (decoder === null && held.length > 0) {
      // A file shorter than a sniff, or one ending in a cut sequence.
      if (!sniffed) {
        rejectKnownBinary(held);
        decoder = this.#fromBom(held);
      }
      if (decoder === null) yield* this.#decodeUndecided(held);
      else yield this.#checked(decodeOrThrow(decoder, held, false));
      return;
    }
    if (decoder !== null) yield this.#checked(decodeOrThrow(decoder, undefined, false));
  }

  *#decodeUndecided(bytes: Uint8Array): Generator<string> {
    let text: string;
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
      if (NON_ASCII.test(text)) this.#detected = { encoding: 'utf-8', bom: false };
    } catch {
      const invalidAt = utf8ThenNot(bytes);
      if (invalidAt >= 0) {
        this.#detected = { encoding: 'utf-8', bom: false };
        yield this.#checked(new TextDecoder('utf-8').decode(bytes.subarray(0, invalidAt)));
        throw mixedEncodings();
      }
      this.#detected = { encoding: 'windows-1252', bom: false };
      text = new TextDecoder('windows-1252').decode(bytes);
    }
    yield this.#checked(text);
  }

  #fromBom(bytes: Uint8Array): Decoder | null {
    if (UTF8_BOM.every((byte, i) => bytes[i] === byte)) {
      this.#detected = { encoding: 'utf-8', bom: true };
      return new TextDecoder('utf-8', { fatal: true });
    }
    if (bytes[0] === 0xff && bytes[1] === 0xfe) {
      this.#detected = { encoding: 'utf-16le', bom: true };
      return new TextDecoder('utf-16le');
    }
    if (bytes[0] === 0xfe && bytes[1] === 0xff) {
      this.#detected = { encoding: 'utf-16be', bom: true };
      return new TextDecoder('utf-16be');
    }
    return null;
  }

  /** Text with NUL characters, or mostly control characters at the start, is not a text file. */
  #checked(text: string): string {
    if (text.includes('\u0000')) {
      throw new RecipientFileError(
        'binary',
        'the file is binary, not text (it holds NUL bytes); export it as CSV or JSON Lines',
      );
    }
    if (!this.#sniffedText && text.length > 0) {
      this.#sniffedText = true;
      const head = text.slice(0, SNIFF_CHARS);
      if (countControls(head) / head.length > 0.1) {
        throw new RecipientFileError(
          'binary',
          'the file is binary, not text (mostly control characters); export it as CSV or JSON Lines',
        );
      }
    }
    return text;
  }
}

function decodeOrThrow(decoder: Decoder, bytes: Uint8Array | undefined, stream: boolean) {
  try {
    return decoder.decode(bytes, { stream });
  } catch (error) {
    throw mixedEncodings(error);
  }
}

function mixedEncodings(cause?: unknown): RecipientFileError {
  return new RecipientFileError(
    'invalid_encoding',
    'the file starts as UTF-8 but later holds bytes that are not UTF-8 (mixed encodings); ' +
      'save it again as "CSV UTF-8"',
    { cause },
  );
}

/**
 * Where UTF-8 stops in bytes that hold valid non-ASCII UTF-8 first (an "é" as two bytes) and then a
 * byte that is not UTF-8 (an "é" as Windows-1252 writes it): a file of mixed encodings, which must
 * not be read whole as Windows-1252 (the first names would turn into "ZoÃ©"). -1 otherwise.
 */
function utf8ThenNot(bytes: Uint8Array): number {
  let sawMultibyte = false;
  for (let i = 0; i < bytes.length; ) {
    const lead = bytes[i] as number;
    const length =
      lead < 0x80
        ? 1
        : lead >= 0xc2 && lead <= 0xdf
          ? 2
          : lead >= 0xe0 && lead <= 0xef
            ? 3
            : lead >= 0xf0 && lead <= 0xf4
              ? 4
              : 0;
    if (length === 0) return sawMultibyte ? i : -1;
    if (i + length > bytes.length) return -1; // cut by the chunk's end: not a decision yet
    for (let k = 1; k < length; k++) {
      const next = bytes[i + k] as number;
      if (next < 0x80 || next > 0xbf) return sawMultibyte ? i : -1;
    }
    if (length > 1) sawMultibyte = true;
    i += length;
  }
  return -1;
}

function rejectKnownBinary(bytes: Uint8Array): void {
  // The most common wrong upload is the workbook itself rather than a CSV export of it.
  const isZip = bytes[0] === 0x50 && bytes[1] === 0x4b && bytes[2] === 0x03 && bytes[3] === 0x04;
  const isOle = bytes[0] === 0xd0 && bytes[1] === 0xcf && bytes[2] === 0x11 && bytes[3] === 0xe0;
  if (isZip || isOle) {
    throw new RecipientFileError(
      'binary',
      'the file is binary, not text (it looks like an Excel workbook or a zip archive); ' +
        'save it as "CSV UTF-8" first',
    );
  }
}

/** Control characters other than TAB, LF, FF and CR: text files almost never hold them. */
function countControls(text: string): number {
  let count = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 32 && c !== 9 && c !== 10 && c !== 12 && c !== 13) count++;
  }
  return count;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (a.length === 0) return b;
  const joined = new Uint8Array(a.length + b.length);
  joined.set(a, 0);
  joined.set(b, a.length);
  return joined;
}
