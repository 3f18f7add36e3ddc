import { describe, expect, it } from 'vitest';
import { type SecretShape, stringSecretValue } from '../../../lambdas/adapters/secret-string.ts';

class TestSecretError extends Error {
  override readonly name = 'TestSecretError';
}

const SHAPE: SecretShape = {
  what: 'the test key',
  jsonField: 'apiKey',
  emptyHint: 'put the key in it',
  error: (message, options) => new TestSecretError(message, options),
};
const VALUE = 'ao-v1-staging-recognisable-secret-value';

describe('the value of a string secret', () => {
  it('is the plain text, trimmed', () => {
    // Act
    const value = stringSecretValue(VALUE, 'gift-batch/key', SHAPE);

    // Assess
    expect(value).toBe(VALUE);
  });

  it('is the named field of a JSON secret', () => {
    // Act
    const value = stringSecretValue(`{"apiKey": " ${VALUE} "}`, 'gift-batch/key', SHAPE);

    // Assess
    expect(value).toBe(VALUE);
  });

  it('is refused, naming the secret and what to put in it, when empty', () => {
    // Act
    const read = () => stringSecretValue(undefined, 'gift-batch/key', SHAPE);

    // Assess
    expect(read).toThrow(TestSecretError);
    expect(read).toThrow('secret gift-batch/key is empty: put the key in it');
  });

  it('is refused without echoing the value when the JSON lacks the field or is not JSON', () => {
    // Act
    const wrongField = () => stringSecretValue(`{"key": "${VALUE}"}`, 'gift-batch/key', SHAPE);
    const broken = () => stringSecretValue(`{${VALUE}`, 'gift-batch/key', SHAPE);

    // Assess
    for (const read of [wrongField, broken]) {
      expect(read).toThrow('secret gift-batch/key holds JSON without a string "apiKey" field');
      expect(read).not.toThrow(VALUE);
    }
  });
});
