import { DEFAULT_MAX_ROWS_PER_FILE } from './core/recipients/index.ts';
import { DEFAULT_RECONCILE_SETTINGS } from './core/reconcile-service.ts';

/**
 * The handlers' configuration: read from the environment once, validated, frozen. A missing or
 * malformed variable fails at cold start with a message naming it, not in the middle of a batch.
 * The CDK stack sets these variables on each function (with their grants); the local runtime sets
 * them in its own process before it loads the handlers.
 */

export class ConfigurationError extends Error {
  override readonly name = 'ConfigurationError';
}

type Environment = Record<string, string | undefined>;

function required(env: Environment, name: string): string {
  const value = env[name]?.trim();
  if (!value) throw new ConfigurationError(`environment variable ${name} is required but not set`);
  return value;
}

function optionalNumber(
  env: Environment,
  name: string,
  fallback: number,
  { min = 0, integer = true }: { min?: number; integer?: boolean } = {},
): number {
  const raw = env[name]?.trim();
  if (!raw) return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < min || (integer && !Number.isInteger(value))) {
    throw new ConfigurationError(
      `environment variable ${name} must be ${integer ? 'an integer' : 'a number'} ≥ ${min} (got "${raw}")`,
    );
  }
  return value;
}

/** Where the API key comes from: Secrets Manager in AWS, the environment on one machine. */
export type ApiKeySource = { kind: 'secret'; secretId: string } | { kind: 'env'; value: string };

export interface AndOpenConfig {
  /** A base URL, or one of the names `us`, `eu`, `staging`. */
  baseUrl: string;
  apiKey: ApiKeySource;
  timeoutMs: number;
}

export function andOpenConfig(env: Environment = process.env): Readonly<AndOpenConfig> {
  const secretId = env.ANDOPEN_API_KEY_SECRET_ID?.trim();
  const value = env.ANDOPEN_API_KEY?.trim();
  let apiKey: ApiKeySource;
  if (secretId) apiKey = { kind: 'secret', secretId };
  else if (value) apiKey = { kind: 'env', value };
  else
    throw new ConfigurationError(
      'the &Open API key is not configured: set ANDOPEN_API_KEY_SECRET_ID (AWS) or ANDOPEN_API_KEY',
    );
  return Object.freeze({
    baseUrl: env.ANDOPEN_BASE_URL?.trim() || 'us',
    apiKey,
    timeoutMs: optionalNumber(env, 'ANDOPEN_TIMEOUT_MS', 10_000, { min: 100 }),
  });
}

export interface StorageConfig {
  ledgerTable: string;
  sendQueueUrl: string;
  resultsBucket: string;
  /** Local stand-ins serve buckets by path, not by host name. */
  s3ForcePathStyle: boolean;
}

export function storageConfig(env: Environment = process.env): Readonly<StorageConfig> {
  return Object.freeze({
    ledgerTable: required(env, 'LEDGER_TABLE'),
    sendQueueUrl: required(env, 'SEND_QUEUE_URL'),
    resultsBucket: required(env, 'RESULTS_BUCKET'),
    s3ForcePathStyle: env.S3_FORCE_PATH_STYLE === 'true',
  });
}

export interface RateLimitConfig {
  /** A ceiling on the fleet's requests per second (the tenant knows its limit); null: learn it. */
  maxRps: number | null;
}

export function rateLimitConfig(env: Environment = process.env): Readonly<RateLimitConfig> {
  const raw = env.ANDOPEN_MAX_RPS?.trim();
  return Object.freeze({
    maxRps: raw ? optionalNumber(env, 'ANDOPEN_MAX_RPS', 0, { min: 0.1, integer: false }) : null,
  });
}

export interface SenderConfig {
  /** POSTs in flight at once within one invocation. */
  concurrency: number;
  firstPollAfterMs: number;
  pollDeadlineMs: number;
  /** Webhooks are on: apply news a webhook left before the create answer was recorded. */
  useWebhookNews: boolean;
}

/** With webhooks on, the first poll of a row waits this long: the webhook normally comes first. */
export const WEBHOOK_SAFETY_NET_FIRST_POLL_MS = 5 * 60_000;

export function senderConfig(env: Environment = process.env): Readonly<SenderConfig> {
  return Object.freeze({
    concurrency: optionalNumber(env, 'SEND_CONCURRENCY', 10, { min: 1 }),
    firstPollAfterMs: optionalNumber(
      env,
      'POLL_FIRST_AFTER_MS',
      webhooksEnabled(env) ? WEBHOOK_SAFETY_NET_FIRST_POLL_MS : 2_000,
    ),
    pollDeadlineMs: optionalNumber(env, 'POLL_DEADLINE_MS', 30 * 60_000, { min: 1 }),
    useWebhookNews: webhooksEnabled(env),
  });
}

function flag(env: Environment, name: string): boolean {
  const raw = env[name]?.trim().toLowerCase();
  if (!raw || raw === 'false') return false;
  if (raw === 'true') return true;
  throw new ConfigurationError(`environment variable ${name} must be true or false (got "${raw}")`);
}

export interface SplitterConfig {
  defaultCampaignId: string | null;
  maxRows: number;
  /** APPROVAL_ROWS_OVER: a batch with more rows waits for approval; null (unset): no limit. */
  approvalRowsOver: number | null;
  /** SPLITTER_PREFLIGHT=true: check each file against the campaigns; findings hold the batch. */
  preflight: boolean;
  /** Where a split too long for one invocation is handed over (the split continuation queue). */
  splitQueueUrl: string;
  /** Hand over once less than this is left of the invocation (a chunk and a hand-over fit in it). */
  handOverWhenRemainingMs: number;
  /** Rows written and queued together, and between two checkpoints. */
  chunkRows: number;
}

/** MAX_ROWS_PER_FILE: a file with more data rows is refused whole (the splitter, the preflight). */
export function maxRowsPerFile(env: Environment = process.env): number {
  return optionalNumber(env, 'MAX_ROWS_PER_FILE', DEFAULT_MAX_ROWS_PER_FILE, { min: 1 });
}

export function splitterConfig(env: Environment = process.env): Readonly<SplitterConfig> {
  return Object.freeze({
    defaultCampaignId: env.DEFAULT_CAMPAIGN_ID?.trim() || null,
    maxRows: maxRowsPerFile(env),
    approvalRowsOver: env.APPROVAL_ROWS_OVER?.trim()
      ? optionalNumber(env, 'APPROVAL_ROWS_OVER', 0, { min: 0 })
      : null,
    preflight: flag(env, 'SPLITTER_PREFLIGHT'),
    splitQueueUrl: required(env, 'SPLIT_QUEUE_URL'),
    handOverWhenRemainingMs: optionalNumber(env, 'SPLIT_HAND_OVER_WHEN_REMAINING_MS', 60_000),
    chunkRows: optionalNumber(env, 'SPLIT_CHUNK_ROWS', 100, { min: 1 }),
  });
}

export interface PollerConfig {
  /** Where a stalled split is handed over again (the split continuation queue). */
  splitQueueUrl: string;
  /** A split whose checkpoint has not moved for this long has lost its splitter (timeout + margin). */
  splitStalledAfterMs: number;
  minIntervalMs: number;
  maxIntervalMs: number;
  rowsPerRun: number;
  concurrency: number;
  recheckQuietBatchAfterMs: number;
  /** Re-drive a batch's undecided rows after this long without progress (lost messages). */
  reconcileQuietAfterMs: number;
  /** ...re-driving a `sending` row only once it has been `sending` this long (its sender is gone). */
  reconcileSendingStaleAfterMs: number;
  /** Webhooks bring the URLs; the poller is a safety net that first reads what they left. */
  useWebhookNews: boolean;
  /**
   * POLLER_SINGLE_RUN=true (the stack): a run takes a lease in the ledger, so a schedule tick that
   * comes while an earlier run is going does nothing. Off locally, where the poller's timer never
   * starts a run before the last ended, and where a killed `run` would otherwise leave the lease
   * held for the next one until its time ran out.
   */
  singleRun: boolean;
}

export function pollerConfig(env: Environment = process.env): Readonly<PollerConfig> {
  return Object.freeze({
    splitQueueUrl: required(env, 'SPLIT_QUEUE_URL'),
    splitStalledAfterMs: optionalNumber(env, 'SPLIT_STALLED_AFTER_MS', 17 * 60_000, { min: 1 }),
    minIntervalMs: optionalNumber(env, 'POLL_MIN_INTERVAL_MS', 1_000),
    maxIntervalMs: optionalNumber(env, 'POLL_MAX_INTERVAL_MS', 60_000),
    rowsPerRun: optionalNumber(env, 'POLL_ROWS_PER_RUN', 2_000, { min: 1 }),
    // The fleet's shared rate paces the GETs; this only bounds the sockets one run keeps open.
    concurrency: optionalNumber(env, 'POLL_CONCURRENCY', 32, { min: 1 }),
    recheckQuietBatchAfterMs: optionalNumber(env, 'RECHECK_QUIET_BATCH_AFTER_MS', 5 * 60_000),
    reconcileQuietAfterMs: optionalNumber(
      env,
      'RECONCILE_QUIET_AFTER_MS',
      DEFAULT_RECONCILE_SETTINGS.quietAfterMs,
    ),
    reconcileSendingStaleAfterMs: optionalNumber(
      env,
      'RECONCILE_SENDING_STALE_AFTER_MS',
      DEFAULT_RECONCILE_SETTINGS.sendingStaleAfterMs,
    ),
    useWebhookNews: webhooksEnabled(env),
    singleRun: flag(env, 'POLLER_SINGLE_RUN'),
  });
}

/** Where producers of event-driven sends hear what became of their gifts. */
export type OutcomeEventsConfig =
  | { kind: 'eventbridge'; busName: string }
  | { kind: 'file'; path: string }
  | { kind: 'none' };

export function outcomeEventsConfig(env: Environment = process.env): Readonly<OutcomeEventsConfig> {
  const busName = env.OUTCOME_EVENT_BUS_NAME?.trim();
  const path = env.OUTCOME_EVENTS_FILE?.trim();
  if (busName && path) {
    throw new ConfigurationError(
      'set OUTCOME_EVENT_BUS_NAME (AWS) or OUTCOME_EVENTS_FILE (local runs), not both',
    );
  }
  if (busName) return Object.freeze({ kind: 'eventbridge', busName });
  if (path) return Object.freeze({ kind: 'file', path });
  return Object.freeze({ kind: 'none' });
}

/** Where the webhook secret comes from: Secrets Manager in AWS, the environment on one machine. */
export type WebhookSecretSource =
  | { kind: 'secret'; secretId: string }
  | { kind: 'env'; value: string };

export interface WebhookConfig {
  ledgerTable: string;
  secret: WebhookSecretSource;
}

/** The webhook receiver needs only the ledger and the secret &Open signs its deliveries with. */
export function webhookConfig(env: Environment = process.env): Readonly<WebhookConfig> {
  const secretId = env.WEBHOOK_SECRET_ID?.trim();
  const value = env.WEBHOOK_SECRET?.trim();
  let secret: WebhookSecretSource;
  if (secretId) secret = { kind: 'secret', secretId };
  else if (value) secret = { kind: 'env', value };
  else
    throw new ConfigurationError(
      'the webhook secret is not configured: set WEBHOOK_SECRET_ID (AWS) or WEBHOOK_SECRET',
    );
  return Object.freeze({ ledgerTable: required(env, 'LEDGER_TABLE'), secret });
}

/**
 * With webhooks on, &Open's deliveries bring the URLs and the poller is only a safety net: it looks
 * first at `firstPollAfterMs` after creation instead of seconds after, for the rows whose URL has not
 * arrived by then.
 */
export function webhooksEnabled(env: Environment = process.env): boolean {
  const raw = env.WEBHOOKS_ENABLED?.trim().toLowerCase();
  if (!raw || raw === 'false' || raw === '0') return false;
  if (raw === 'true' || raw === '1') return true;
  throw new ConfigurationError(
    `environment variable WEBHOOKS_ENABLED must be true or false (got "${raw}")`,
  );
}

export interface ExporterConfig {
  ledgerTable: string;
  /** The results bucket: requests arrive under exports/requests/, exports are written under exports/. */
  resultsBucket: string;
  s3ForcePathStyle: boolean;
}

/** The exporter reads the ledger and writes to the results bucket; it never sends. */
export function exporterConfig(env: Environment = process.env): Readonly<ExporterConfig> {
  return Object.freeze({
    ledgerTable: required(env, 'LEDGER_TABLE'),
    resultsBucket: required(env, 'RESULTS_BUCKET'),
    s3ForcePathStyle: env.S3_FORCE_PATH_STYLE === 'true',
  });
}
