export {
  CANONICAL_COLUMNS,
  type CanonicalColumn,
  type HeaderMapping,
  mapHeader,
  matchColumn,
  normaliseHeader,
} from './columns.ts';
export { type CsvDelimiter, CsvTokenizer, detectDelimiter, readCsvRecords } from './csv-reader.ts';
export { type DetectedEncoding, type TextEncodingName, TextSniffer } from './decode.ts';
export { DuplicateFinder, hash52 } from './duplicates.ts';
export { RecipientFileError, type RecipientFileErrorCode, type RowError } from './errors.ts';
export {
  DEFAULT_MAX_FIELD_BYTES,
  DEFAULT_MAX_ROWS_PER_FILE,
  type FileWarning,
  type FileWarningCode,
  formatFromFileName,
  type ReadRecipientsOptions,
  type RecipientFile,
  type RecipientFileSummary,
  type RecipientFormat,
  readRecipients,
  tooManyRowsMessage,
} from './read-recipients.ts';
export { buildBody, checkCandidate, type FieldRule, SCHEMA } from './schema.ts';
export { campaignFromUploadKey } from './upload-key.ts';
export type { RecipientRow, RowResult, RowSource } from './validate.ts';
