import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { readStringSecret } from './secret-string.ts';

export class ApiKeySecretError extends Error {
  override readonly name = 'ApiKeySecretError';
}

/**
 * Reads the &Open API key from Secrets Manager. The secret holds the key as plain text, or as JSON
 * `{ "apiKey": "…" }`. Errors name the secret, never its value.
 */
export function readApiKeySecret(client: SecretsManagerClient, secretId: string): Promise<string> {
  return readStringSecret(client, secretId, {
    what: 'the &Open API key',
    jsonField: 'apiKey',
    emptyHint: 'put the &Open API key in it',
    error: (message, options) => new ApiKeySecretError(message, options),
  });
}
