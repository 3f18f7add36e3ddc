import { describe, expect, it } from 'vitest';
import {
  ANDOPEN_HOSTS,
  InvalidBaseUrlError,
  resolveBaseUrl,
} from '../../../lambdas/core/andopen-hosts.ts';

describe('resolveBaseUrl', () => {
  it.each([
    ['us', 'https://api.andopen.co'],
    ['eu', 'https://api.eu.andopen.co'],
    ['staging', 'https://api.staging.andopen.co'],
    ['EU', 'https://api.eu.andopen.co'],
    [' staging ', 'https://api.staging.andopen.co'],
  ])('resolves the region name %j', (name, expected) => {
    // Prepare
    const input = name;

    // Act
    const baseUrl = resolveBaseUrl(input);

    // Assess
    expect(baseUrl).toBe(expected);
  });

  it('exposes the documented hosts', () => {
    // Prepare
    const expected = {
      us: 'https://api.andopen.co',
      eu: 'https://api.eu.andopen.co',
      staging: 'https://api.staging.andopen.co',
    };

    // Act
    const hosts = { ...ANDOPEN_HOSTS };

    // Assess
    expect(hosts).toEqual(expected);
  });

  it.each([
    ['http://127.0.0.1:4010', 'http://127.0.0.1:4010'],
    ['http://127.0.0.1:4010/', 'http://127.0.0.1:4010'],
    ['https://proxy.example.com/andopen//', 'https://proxy.example.com/andopen'],
    ['HTTPS://API.ANDOPEN.CO/', 'https://api.andopen.co'],
    ['http://[::1]:8080/', 'http://[::1]:8080'],
  ])('keeps the URL %j without its trailing slash', (url, expected) => {
    // Prepare
    const input = url;

    // Act
    const baseUrl = resolveBaseUrl(input);

    // Assess
    expect(baseUrl).toBe(expected);
  });

  it.each([
    ['an empty value', ''],
    ['an unknown region', 'asia'],
    ['a host without a scheme', 'api.andopen.co'],
    ['another scheme', 'ftp://api.andopen.co'],
    ['a URL with a query', 'https://api.andopen.co/?x=1'],
    ['a prototype property name', 'constructor'],
  ])('rejects %s and names the accepted forms', (_label, input) => {
    // Prepare
    const value = input;

    // Act
    const act = () => resolveBaseUrl(value);

    // Assess
    expect(act).toThrow(InvalidBaseUrlError);
    expect(act).toThrow(/"us", "eu", "staging" or an http\(s\) URL/);
  });

  it('rejects credentials in the URL without echoing them', () => {
    // Prepare
    const input = 'https://user:s3cret-pass@api.andopen.co';

    // Act
    let caught: unknown;
    try {
      resolveBaseUrl(input);
    } catch (error) {
      caught = error;
    }

    // Assess
    expect(caught).toBeInstanceOf(InvalidBaseUrlError);
    expect((caught as Error).name).toBe('InvalidBaseUrlError');
    expect((caught as Error).message).toMatch(/must not contain credentials/);
    expect((caught as Error).message).not.toContain('s3cret-pass');
  });
});
