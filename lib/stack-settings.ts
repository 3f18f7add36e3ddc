import type { Node } from 'constructs';
import { resolveBaseUrl } from '../lambdas/core/andopen-hosts.ts';

/**
 * What a deployment chooses, as CDK context (`npx cdk deploy -c andopenBaseUrl=eu`, or cdk.json).
 * Read once and checked at synth time, so a typo fails `cdk synth`, not the first batch.
 */
export interface StackSettings {
  /** `andopenBaseUrl`: `us` (default), `eu`, `staging` or a base URL. */
  andopenBaseUrl: string;
  /** `apiKeySecretName`: use this existing secret instead of creating an empty one. */
  apiKeySecretName?: string;
  /** `andopenMaxRps`: a ceiling on requests per second for tenants who know their limit. */
  andopenMaxRps?: number;
  /** `defaultCampaignId`: the campaign of files whose rows and key name none. */
  defaultCampaignId?: string;
  /** `alarmTopicArn`: an existing SNS topic the alarms notify. */
  alarmTopicArn?: string;
  /** `logLevel`: POWERTOOLS_LOG_LEVEL of every function (default INFO). */
  logLevel: string;
  /**
   * `intakeProducerAccounts`: AWS account ids (comma-separated, or a JSON list in cdk.json) allowed
   * to put gift events straight on the intake queue.
   */
  intakeProducerAccounts: string[];
  /** `webhooks`: receive &Open's signed webhooks (a Function URL); the poller becomes a safety net. */
  webhooks: boolean;
  /** `webhookSecretName`: an existing secret holding &Open's webhook signing secret. */
  webhookSecretName?: string;
  /**
   * `approvalRowsOver`: a batch with more rows waits for approval (default 1,000; `off`: no size
   * limit). APPROVAL_ROWS_OVER of the splitter.
   */
  approvalRowsOver: number | null;
  /**
   * `splitterPreflight`: the splitter checks each file against &Open's campaigns and holds a batch
   * with findings for approval (default true; `false` also keeps the key away from the splitter).
   */
  splitterPreflight: boolean;
}

/** Batches above this many rows wait for a person's approval unless the context says otherwise. */
export const DEFAULT_APPROVAL_ROWS_OVER = 1_000;

export class StackSettingsError extends Error {
  override readonly name = 'StackSettingsError';
}

const LOG_LEVELS = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR', 'SILENT', 'CRITICAL'];

export function readStackSettings(node: Node): StackSettings {
  const text = (key: string): string | undefined => {
    const value: unknown = node.tryGetContext(key);
    if (value === undefined || value === null) return undefined;
    const trimmed = String(value).trim();
    return trimmed === '' ? undefined : trimmed;
  };

  const andopenBaseUrl = text('andopenBaseUrl') ?? 'us';
  try {
    resolveBaseUrl(andopenBaseUrl);
  } catch (error) {
    throw new StackSettingsError(`context andopenBaseUrl: ${(error as Error).message}`, {
      cause: error,
    });
  }

  const maxRpsText = text('andopenMaxRps');
  const andopenMaxRps = maxRpsText === undefined ? undefined : Number(maxRpsText);
  if (andopenMaxRps !== undefined && !(Number.isFinite(andopenMaxRps) && andopenMaxRps > 0)) {
    throw new StackSettingsError(
      `context andopenMaxRps must be a number > 0 (got "${maxRpsText}")`,
    );
  }

  const logLevel = (text('logLevel') ?? 'INFO').toUpperCase();
  if (!LOG_LEVELS.includes(logLevel)) {
    throw new StackSettingsError(
      `context logLevel must be one of ${LOG_LEVELS.join(', ')} (got "${logLevel}")`,
    );
  }

  const alarmTopicArn = text('alarmTopicArn');
  if (alarmTopicArn !== undefined && !alarmTopicArn.startsWith('arn:')) {
    throw new StackSettingsError(
      `context alarmTopicArn must be an SNS topic ARN (got "${alarmTopicArn}")`,
    );
  }

  const accountsValue: unknown = node.tryGetContext('intakeProducerAccounts');
  const intakeProducerAccounts = (
    Array.isArray(accountsValue)
      ? accountsValue.map(String)
      : String(accountsValue ?? '').split(',')
  )
    .map((account) => account.trim())
    .filter((account) => account !== '');
  for (const account of intakeProducerAccounts) {
    if (!/^\d{12}$/.test(account)) {
      throw new StackSettingsError(
        `context intakeProducerAccounts must be 12-digit AWS account ids (got "${account}")`,
      );
    }
  }

  const webhooksText = (text('webhooks') ?? 'false').toLowerCase();
  if (!['true', 'false'].includes(webhooksText)) {
    throw new StackSettingsError(`context webhooks must be true or false (got "${webhooksText}")`);
  }

  const approvalText = text('approvalRowsOver');
  let approvalRowsOver: number | null = DEFAULT_APPROVAL_ROWS_OVER;
  if (approvalText !== undefined) {
    if (approvalText.toLowerCase() === 'off') approvalRowsOver = null;
    else if (/^\d+$/.test(approvalText)) approvalRowsOver = Number(approvalText);
    else {
      throw new StackSettingsError(
        `context approvalRowsOver must be a whole number of rows or "off" (got "${approvalText}")`,
      );
    }
  }

  const preflightText = (text('splitterPreflight') ?? 'true').toLowerCase();
  if (preflightText !== 'true' && preflightText !== 'false') {
    throw new StackSettingsError(
      `context splitterPreflight must be true or false (got "${preflightText}")`,
    );
  }

  const optional = <K extends string, V>(key: K, value: V | undefined) =>
    (value === undefined ? {} : { [key]: value }) as Partial<Record<K, V>>;
  return {
    andopenBaseUrl,
    logLevel,
    intakeProducerAccounts,
    webhooks: webhooksText === 'true',
    ...optional('webhookSecretName', text('webhookSecretName')),
    approvalRowsOver,
    splitterPreflight: preflightText === 'true',
    ...optional('apiKeySecretName', text('apiKeySecretName')),
    ...optional('andopenMaxRps', andopenMaxRps),
    ...optional('defaultCampaignId', text('defaultCampaignId')),
    ...optional('alarmTopicArn', alarmTopicArn),
  };
}
