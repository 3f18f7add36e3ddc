import { GetSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';

/** What one kind of secret is called in messages, and where JSON keeps it. */
export interface SecretShape {
  /** For messages: "the &Open API key", "the webhook signing secret". */
  what: string;
  /** The field of a JSON secret that holds the value: `{ "apiKey": "…" }`. */
  jsonField: string;
  /** What to put in the secret when it is empty. */
  emptyHint: string;
  /** The error the caller's users know (its class names the kind of secret). */
  error: (message: string, options?: ErrorOptions) => Error;
}

/**
 * Reads a string secret from Secrets Manager: plain text, or JSON with the value in one field.
 * Errors name the secret, never its value.
 */
export async function readStringSecret(
  client: SecretsManagerClient,
  secretId: string,
  shape: SecretShape,
): Promise<string> {
  let text: string | undefined;
  try {
    const answer = await client.send(new GetSecretValueCommand({ SecretId: secretId }));
    text = answer.SecretString?.trim();
  } catch (error) {
    // The SDK error's name says what is wrong (ResourceNotFoundException: no value put in yet;
    // AccessDeniedException) and never holds the value.
    const code = (error as { code?: unknown } | null)?.code; // ECONNREFUSED and the like
    const why = error instanceof Error ? ` (${typeof code === 'string' ? code : error.name})` : '';
    throw shape.error(`cannot read ${shape.what} from secret ${secretId}${why}`, { cause: error });
  }
  return stringSecretValue(text, secretId, shape);
}

/**
 * True when reading a secret failed for a reason that passes by itself: Secrets Manager unreachable,
 * throttling or failing (its retries in the SDK spent). False when the secret itself is wrong (no
 * value yet, not there, not ours to read, empty, malformed): only a person can fix that.
 */
export function isTransientSecretFailure(error: unknown): boolean {
  const cause = error instanceof Error ? error.cause : undefined;
  if (cause === undefined) return false; // the value was read and is unusable
  const { name, $fault } = cause as { name?: unknown; $fault?: unknown };
  if ($fault === 'server') return true;
  if ($fault === 'client') return typeof name === 'string' && /Throttl/.test(name);
  return true; // no answer from Secrets Manager at all: network, timeout
}

/** The value in a secret's text (plain, or JSON with the value in `shape.jsonField`). */
export function stringSecretValue(
  text: string | undefined,
  secretId: string,
  shape: SecretShape,
): string {
  if (!text) throw shape.error(`secret ${secretId} is empty: ${shape.emptyHint}`);
  if (text.startsWith('{')) {
    try {
      const value = (JSON.parse(text) as Record<string, unknown>)[shape.jsonField];
      if (typeof value === 'string' && value.trim()) return value.trim();
    } catch {
      // Not JSON after all: fall through to the message below, which does not echo the value.
    }
    throw shape.error(`secret ${secretId} holds JSON without a string "${shape.jsonField}" field`);
  }
  return text;
}
