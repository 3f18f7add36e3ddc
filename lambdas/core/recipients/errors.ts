/** Why a recipient file cannot be read at all. Each maps to one plain sentence for the user. */
export type RecipientFileErrorCode =
  | 'binary'
  | 'empty'
  | 'no_header'
  | 'missing_columns'
  | 'field_too_large'
  | 'unbalanced_quotes'
  | 'invalid_encoding'
  | 'too_many_rows';

/**
 * A problem with the file as a whole: reading stops. Rows yielded before it stay valid for the
 * consumer. `message` is one line a person can act on, and already names the line when there is one.
 */
export class RecipientFileError extends Error {
  override readonly name = 'RecipientFileError';
  readonly code: RecipientFileErrorCode;
  /** Physical line (1 = header line) the problem is on, when it is on one. */
  readonly line: number | null;

  constructor(
    code: RecipientFileErrorCode,
    message: string,
    options: { line?: number | null; cause?: unknown } = {},
  ) {
    const line = options.line ?? null;
    super(line === null ? message : `line ${line}: ${message}`, { cause: options.cause });
    this.code = code;
    this.line = line;
  }
}

/**
 * One problem with one row, shaped like &Open's error entries plus where it is in the file.
 * `code` and `param` use the API's vocabulary so local and remote rejections read the same.
 */
export interface RowError {
  /** `required` | `invalid_format` | `invalid` | `duplicate` | `invalid_json` | `extra_cells`. */
  code: string;
  /** The API param (`shipping_address.country_code`, `line_items[0].sku`), null when none fits. */
  param: string | null;
  message: string;
  /** Physical line the row starts on. */
  line: number;
  /** CSV: the header as written in the file ("Country Code"); JSON Lines: the JSON path. */
  column: string | null;
}
