import { RecipientFileError } from './errors.ts';

export interface TextLine {
  text: string;
  /** Physical line number, 1-based. */
  line: number;
}

/**
 * The non-blank lines of a text stream (LF or CRLF), with their line numbers. A line longer than
 * `maxLineBytes` stops the read before it is held whole.
 */
export async function* readTextLines(
  texts: AsyncIterable<string>,
  maxLineBytes: number,
): AsyncGenerator<TextLine> {
  let partial = '';
  let line = 1;
  for await (const text of texts) {
    let start = 0;
    let newline = text.indexOf('\n');
    while (newline !== -1) {
      const whole = partial + text.slice(start, newline);
      partial = '';
      if (whole.length > maxLineBytes) throw tooLong(line, maxLineBytes);
      if (whole.trim() !== '') yield { text: whole, line };
      line++;
      start = newline + 1;
      newline = text.indexOf('\n', start);
    }
    partial += text.slice(start);
    if (partial.length > maxLineBytes) throw tooLong(line, maxLineBytes);
  }
  if (partial.trim() !== '') yield { text: partial, line };
}

function tooLong(line: number, maxLineBytes: number): RecipientFileError {
  return new RecipientFileError(
    'field_too_large',
    `the line is longer than ${maxLineBytes} characters (the limit for one record)`,
    { line },
  );
}
