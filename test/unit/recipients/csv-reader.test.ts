import { describe, expect, it } from 'vitest';
import {
  type CsvRecord,
  CsvTokenizer,
  detectDelimiter,
  readCsvRecords,
} from '../../../lambdas/core/recipients/csv-reader.ts';
import { RecipientFileError } from '../../../lambdas/core/recipients/errors.ts';

const MIB = 1024 * 1024;

function tokenize(pieces: readonly string[], maxFieldBytes = MIB): CsvRecord[] {
  const tokenizer = new CsvTokenizer({ maxFieldBytes });
  const out: CsvRecord[] = [];
  for (const piece of pieces) tokenizer.push(piece, out);
  tokenizer.end(out);
  return out;
}

/** Every single-character cut of `text`. */
function oneCharPieces(text: string): string[] {
  return [...text];
}

describe('CsvTokenizer', () => {
  it('reads CRLF and LF line ends alike, with line numbers', () => {
    // Prepare
    const text = 'a,b\r\n1,2\n3,4';

    // Act
    const records = tokenize([text]);

    // Assess
    expect(records).toEqual([
      { fields: ['a', 'b'], line: 1 },
      { fields: ['1', '2'], line: 2 },
      { fields: ['3', '4'], line: 3 },
    ]);
  });

  it('unescapes doubled quotes inside quoted fields', () => {
    // Prepare
    const text = 'name,note\n"Smith, ""Jr""","say ""hi"""\n';

    // Act
    const records = tokenize([text]);

    // Assess
    expect(records[1]?.fields).toEqual(['Smith, "Jr"', 'say "hi"']);
  });

  it('keeps newlines inside quoted fields and counts them as physical lines', () => {
    // Prepare
    const text = 'a,b\r\n"line one\r\nline two",x\r\nnext,row\r\n';

    // Act
    const records = tokenize([text]);

    // Assess
    expect(records[1]).toEqual({ fields: ['line one\r\nline two', 'x'], line: 2 });
    expect(records[2]).toEqual({ fields: ['next', 'row'], line: 4 });
  });

  it('gives the same records when every character arrives on its own', () => {
    // Prepare
    const text = 'a;b\r\n"x\r\n""y""";2\r\n\r\n"";last';

    // Act
    const whole = tokenize([text]);
    const split = tokenize(oneCharPieces(text));

    // Assess
    expect(split).toEqual(whole);
    expect(split[1]).toEqual({ fields: ['x\r\n"y"', '2'], line: 2 });
    expect(split[3]).toEqual({ fields: ['', 'last'], line: 5 });
  });

  it('treats a lone CR (old Mac Excel) as a line end', () => {
    // Prepare
    const text = 'a,b\r1,2\r3,4\r';

    // Act
    const records = tokenize([text]);

    // Assess
    expect(records.map((record) => record.line)).toEqual([1, 2, 3]);
    expect(records[2]?.fields).toEqual(['3', '4']);
  });

  it('reports a quote never closed at the line where it opened', () => {
    // Prepare
    const text = 'a,b\n1,2\n"open,3\n4,5\n';

    // Act
    const act = () => tokenize([text]);

    // Assess
    expect(act).toThrowError(RecipientFileError);
    expect(act).toThrowError(/^line 3: .*unbalanced quotes/);
  });

  it('stops at a field over the limit without holding the field whole', () => {
    // Prepare
    const tokenizer = new CsvTokenizer({ maxFieldBytes: 1000 });
    const out: CsvRecord[] = [];
    tokenizer.push('a,b\n1,"', out);
    let pushed = 0;

    // Act
    let error: unknown = null;
    try {
      for (; pushed < 100; pushed++) tokenizer.push('x'.repeat(100), out);
    } catch (caught) {
      error = caught;
    }

    // Assess
    expect(error).toBeInstanceOf(RecipientFileError);
    expect((error as RecipientFileError).code).toBe('field_too_large');
    expect((error as RecipientFileError).line).toBe(2);
    expect(pushed).toBe(10);
  });
});

describe('detectDelimiter', () => {
  it.each([
    ['First Name,Last Name,Email', ','],
    ['First Name;Last Name;Email', ';'],
    ['First Name\tLast Name\tEmail', '\t'],
    ['"Name; full",City,Zip', ','],
    ['email', ','],
  ])('finds the delimiter of %j', (header, expected) => {
    // Prepare
    const line = header;

    // Act
    const delimiter = detectDelimiter(line);

    // Assess
    expect(delimiter).toBe(expected);
  });
});

describe('readCsvRecords', () => {
  it('detects the delimiter from the header even when it arrives in pieces', async () => {
    // Prepare
    const tokenizer = new CsvTokenizer({ maxFieldBytes: MIB });
    async function* pieces() {
      yield* ['\n\nFirst', ' Name\tLa', 'st Name\r', '\nAda\tLovelace\r\n'];
    }

    // Act
    const records: CsvRecord[] = [];
    for await (const record of readCsvRecords(pieces(), tokenizer)) records.push(record);

    // Assess
    expect(tokenizer.delimiter).toBe('\t');
    expect(records.filter((record) => record.fields.join('') !== '')).toEqual([
      { fields: ['First Name', 'Last Name'], line: 3 },
      { fields: ['Ada', 'Lovelace'], line: 4 },
    ]);
  });
});
