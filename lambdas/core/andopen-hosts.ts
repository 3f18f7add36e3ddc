/**
 * Where the &Open API lives. Accounts are fixed to one region and tokens only work in the region and
 * environment that issued them, so the host is configuration, named by region for humans and by URL for
 * anything else (the local sandbox, a proxy).
 */

export const ANDOPEN_HOSTS = {
  us: 'https://api.andopen.co',
  eu: 'https://api.eu.andopen.co',
  staging: 'https://api.staging.andopen.co',
} as const;

export type AndOpenHostName = keyof typeof ANDOPEN_HOSTS;

const ACCEPTED_FORMS =
  'expected "us", "eu", "staging" or an http(s) URL such as https://api.andopen.co or http://127.0.0.1:4010';

export class InvalidBaseUrlError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'InvalidBaseUrlError';
  }
}

/**
 * `us` | `eu` | `staging` (any case) → the region's base URL; an http(s) URL → itself without a
 * trailing slash (a path prefix is kept, for proxies). Anything else throws InvalidBaseUrlError.
 */
export function resolveBaseUrl(nameOrUrl: string): string {
  const text = typeof nameOrUrl === 'string' ? nameOrUrl.trim() : '';
  if (text === '') {
    throw new InvalidBaseUrlError(`The &Open base URL is empty: ${ACCEPTED_FORMS}.`);
  }

  const name = text.toLowerCase();
  if (Object.hasOwn(ANDOPEN_HOSTS, name)) return ANDOPEN_HOSTS[name as AndOpenHostName];

  let url: URL;
  try {
    url = new URL(text);
  } catch (error) {
    throw new InvalidBaseUrlError(
      `Invalid &Open base URL ${JSON.stringify(text)}: ${ACCEPTED_FORMS}.`,
      {
        cause: error,
      },
    );
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new InvalidBaseUrlError(
      `Invalid &Open base URL ${JSON.stringify(text)}: the scheme must be http or https; ${ACCEPTED_FORMS}.`,
    );
  }
  // Credentials in the URL would end up in logs that print the base URL; the token goes in a header.
  if (url.username !== '' || url.password !== '') {
    throw new InvalidBaseUrlError(
      `Invalid &Open base URL: it must not contain credentials (user:password@); ${ACCEPTED_FORMS}.`,
    );
  }
  // Paths are appended to the base URL; a query or fragment would end up in the middle of them.
  if (url.search !== '' || url.hash !== '') {
    throw new InvalidBaseUrlError(
      `Invalid &Open base URL ${JSON.stringify(text)}: it must not have a query or fragment; ${ACCEPTED_FORMS}.`,
    );
  }
  return `${url.origin}${url.pathname}`.replace(/\/+$/, '');
}
