import { GetSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';

export class WebhookSecretError extends Error {
  override readonly name = 'WebhookSecretError';
}

/**
 * Reads &Open's webhook signing secret from Secrets Manager: plain text, or JSON
 * `{ "webhookSecret": "…" }`. Errors name the secret, never its value.
 */
export async function readWebhookSecret(
  client: SecretsManagerClient,
  secretId: string,
): Promise<string> {
  let text: string | undefined;
  try {
    const answer = await client.send(new GetSecretValueCommand({ SecretId: secretId }));
    text = answer.SecretString?.trim();
  } catch (error) {
    throw new WebhookSecretError(`cannot read the webhook secret from secret ${secretId}`, {
      cause: error,
    });
  }
  if (!text) {
    throw new WebhookSecretError(
      `secret ${secretId} is empty: put the signing secret &Open showed when you registered the webhook in it`,
    );
  }
  if (text.startsWith('{')) {
    try {
      const parsed = JSON.parse(text) as { webhookSecret?: unknown };
      if (typeof parsed.webhookSecret === 'string' && parsed.webhookSecret.trim()) {
        return parsed.webhookSecret.trim();
      }
    } catch {
      // Not JSON after all: fall through to the message below, which does not echo the value.
    }
    throw new WebhookSecretError(
      `secret ${secretId} holds JSON without a string "webhookSecret" field`,
    );
  }
  return text;
}
