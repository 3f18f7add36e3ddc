import { describe, expect, it } from 'vitest';
import {
  readStackSettings,
  StackSettingsError,
  stackErrorOf,
  stackSettingsOf,
} from '../../../local/aws/stack-outputs.ts';

const OUTPUTS = [
  { OutputKey: 'UploadsBucketName', OutputValue: 'uploads-1' },
  { OutputKey: 'ResultsBucketName', OutputValue: 'results-1' },
  { OutputKey: 'LedgerTableName', OutputValue: 'GiftBatch-Ledger-ABC' },
];

describe('stackSettingsOf', () => {
  it('maps the stack outputs to the ledger table and results bucket', () => {
    // Prepare / Act
    const settings = stackSettingsOf('GiftBatch', [{ Outputs: OUTPUTS }], 'eu-west-1');

    // Assess
    expect(settings).toEqual({
      stackName: 'GiftBatch',
      ledgerTable: 'GiftBatch-Ledger-ABC',
      resultsBucket: 'results-1',
      region: 'eu-west-1',
    });
  });

  it('names the outputs a stack lacks', () => {
    // Prepare / Act / Assess
    expect(() => stackSettingsOf('Other', [{ Outputs: OUTPUTS.slice(0, 1) }], 'eu-west-1')).toThrow(
      'stack Other in eu-west-1 has no output LedgerTableName or ResultsBucketName: is it a gift-batch stack, deployed with this version?',
    );
  });

  it('says there is no such stack when the answer lists none', () => {
    // Prepare / Act / Assess
    expect(() => stackSettingsOf('Gone', [], null)).toThrow(StackSettingsError);
    expect(() => stackSettingsOf('Gone', [], null)).toThrow('there is no stack Gone');
  });
});

describe('stackErrorOf', () => {
  it('turns CloudFormation’s "does not exist" into a plain line', () => {
    // Prepare
    const error = Object.assign(new Error('Stack with id Gone does not exist'), {
      name: 'ValidationError',
    });

    // Act
    const mapped = stackErrorOf('Gone', 'us-east-1', error);

    // Assess
    expect(mapped.message).toBe('there is no stack Gone in us-east-1');
    expect(mapped.cause).toBe(error);
  });

  it('says how to give credentials when there are none', () => {
    // Prepare
    const error = Object.assign(new Error('Could not load credentials from any providers'), {
      name: 'CredentialsProviderError',
    });

    // Act / Assess
    expect(stackErrorOf('GiftBatch', 'us-east-1', error).message).toMatch(
      /^no AWS credentials: set AWS_PROFILE/,
    );
  });

  it('says how to give a region when there is none', () => {
    // Prepare / Act / Assess
    expect(stackErrorOf('GiftBatch', null, new Error('Region is missing')).message).toBe(
      'no AWS region: set AWS_REGION or a region in your profile',
    );
  });
});

describe('readStackSettings', () => {
  it('asks DescribeStacks for the named stack and maps its answer', async () => {
    // Prepare
    const sent: unknown[] = [];
    const client = {
      config: { region: async () => 'eu-west-1' },
      send: async (command: { input: unknown }) => {
        sent.push(command.input);
        return { Stacks: [{ Outputs: OUTPUTS }] };
      },
    };

    // Act
    const settings = await readStackSettings('GiftBatch', client as never);

    // Assess
    expect(sent).toEqual([{ StackName: 'GiftBatch' }]);
    expect(settings.ledgerTable).toBe('GiftBatch-Ledger-ABC');
  });

  it('maps a failed call to a clear error', async () => {
    // Prepare
    const client = {
      config: { region: async () => 'eu-west-1' },
      send: async () => {
        throw Object.assign(new Error('Stack with id X does not exist'), {
          name: 'ValidationError',
        });
      },
    };

    // Act / Assess
    await expect(readStackSettings('X', client as never)).rejects.toThrow(
      'there is no stack X in eu-west-1',
    );
  });
});
