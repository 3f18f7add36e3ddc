/**
 * The size DynamoDB bills an item by (its documented rules: attribute names and values in UTF-8,
 * numbers at about one byte per two significant digits plus one, 3 bytes per map or list and one
 * per element). A write costs one write unit per started kilobyte of it.
 */
export function dynamoDbItemBytes(item: Record<string, unknown>): number {
  let bytes = 0;
  for (const [name, value] of Object.entries(item)) {
    if (value === undefined) continue;
    bytes += utf8Bytes(name) + valueBytes(value);
  }
  return bytes;
}

function valueBytes(value: unknown): number {
  if (value === null || typeof value === 'boolean') return 1;
  if (typeof value === 'string') return utf8Bytes(value);
  if (typeof value === 'number') return numberBytes(value);
  if (Array.isArray(value)) {
    return 3 + value.reduce((sum: number, element) => sum + 1 + valueBytes(element), 0);
  }
  if (typeof value === 'object') {
    let bytes = 3;
    for (const [name, element] of Object.entries(value)) {
      if (element === undefined) continue;
      bytes += 1 + utf8Bytes(name) + valueBytes(element);
    }
    return bytes;
  }
  throw new TypeError(`no DynamoDB size for a ${typeof value}`);
}

function numberBytes(value: number): number {
  // Significant digits of the decimal form DynamoDB stores (JavaScript's shortest round trip).
  const digits = Math.abs(value).toExponential().replace(/e.*$/, '').replace('.', '').length;
  return Math.ceil(digits / 2) + 1;
}

function utf8Bytes(text: string): number {
  return new TextEncoder().encode(text).byteLength;
}
