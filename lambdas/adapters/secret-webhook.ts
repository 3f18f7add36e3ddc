import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { readStringSecret } from './secret-string.ts';

export class WebhookSecretError extends Error {
  override readonly name = 'WebhookSecretError';
}

/**
 * Reads &Open's webhook signing secret from Secrets Manager: plain text, or JSON
 * `{ "webhookSecret": "…" }`. Errors name the secret, never its value.
 */
export function readWebhookSecret(client: SecretsManagerClient, secretId: string): Promise<string> {
  return readStringSecret(client, secretId, {
    what: 'the webhook secret',
    jsonField: 'webhookSecret',
    emptyHint: 'put the signing secret &Open showed when you registered the webhook in it',
    error: (message, options) => new WebhookSecretError(message, options),
  });
}
