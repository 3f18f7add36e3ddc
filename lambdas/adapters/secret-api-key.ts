import { GetSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';

export class ApiKeySecretError extends Error {
  override readonly name = 'ApiKeySecretError';
}

/**
 * Reads the &Open API key from Secrets Manager. The secret holds the key as plain text, or as JSON
 * `{ "apiKey": "…" }`. Errors name the secret, never its value.
 */
export async function readApiKeySecret(
  client: SecretsManagerClient,
  secretId: string,
): Promise<string> {
  let text: string | undefined;
  try {
    const answer = await client.send(new GetSecretValueCommand({ SecretId: secretId }));
    text = answer.SecretString?.trim();
  } catch (error) {
    throw new ApiKeySecretError(`cannot read the &Open API key from secret ${secretId}`, {
      cause: error,
    });
  }
  if (!text)
    throw new ApiKeySecretError(`secret ${secretId} is empty: put the &Open API key in it`);
  if (text.startsWith('{')) {
    try {
      const parsed = JSON.parse(text) as { apiKey?: unknown };
      if (typeof parsed.apiKey === 'string' && parsed.apiKey.trim()) return parsed.apiKey.trim();
    } catch {
      // Not JSON after all: fall through to the message below, which does not echo the value.
    }
    throw new ApiKeySecretError(`secret ${secretId} holds JSON without a string "apiKey" field`);
  }
  return text;
}
