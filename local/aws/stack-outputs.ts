import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';

/** What `status` and `export --stack NAME` need of a deployed stack (its CfnOutputs). */
export interface StackSettings {
  stackName: string;
  ledgerTable: string;
  resultsBucket: string;
  region: string | null;
}

export class StackSettingsError extends Error {
  override readonly name = 'StackSettingsError';
}

/** The stack outputs read, by the names lib/gift-batch-stack.ts gives them. */
export const STACK_OUTPUTS = {
  ledgerTable: 'LedgerTableName',
  resultsBucket: 'ResultsBucketName',
} as const;

/**
 * Maps a DescribeStacks answer to settings, or says in one line what is wrong: no such stack, or a
 * stack without the outputs (not a gift-batch stack, or one deployed before they existed).
 */
export function stackSettingsOf(
  stackName: string,
  stacks: { Outputs?: { OutputKey?: string; OutputValue?: string }[] }[] | undefined,
  region: string | null,
): StackSettings {
  const stack = stacks?.[0];
  if (!stack) throw new StackSettingsError(`there is no stack ${stackName}${inRegion(region)}`);
  const outputs = new Map(
    (stack.Outputs ?? []).flatMap((output) =>
      output.OutputKey && output.OutputValue
        ? [[output.OutputKey, output.OutputValue] as const]
        : [],
    ),
  );
  const missing = Object.values(STACK_OUTPUTS).filter((name) => !outputs.get(name));
  if (missing.length > 0) {
    throw new StackSettingsError(
      `stack ${stackName}${inRegion(region)} has no output ${missing.join(' or ')}: is it a gift-batch stack, deployed with this version?`,
    );
  }
  return {
    stackName,
    ledgerTable: outputs.get(STACK_OUTPUTS.ledgerTable) as string,
    resultsBucket: outputs.get(STACK_OUTPUTS.resultsBucket) as string,
    region,
  };
}

/**
 * Reads a stack's outputs with the user's own AWS credentials and region (profile, environment,
 * SSO…), turning the SDK's failures into lines a person can act on.
 */
export async function readStackSettings(
  stackName: string,
  client: Pick<CloudFormationClient, 'send'> = new CloudFormationClient({}),
): Promise<StackSettings> {
  const region = await regionOf(client);
  try {
    const answer = await client.send(new DescribeStacksCommand({ StackName: stackName }));
    return stackSettingsOf(stackName, answer.Stacks, region);
  } catch (error) {
    throw stackErrorOf(stackName, region, error);
  }
}

/** A failure of DescribeStacks, in words: the SDK's names and messages are not for operators. */
export function stackErrorOf(stackName: string, region: string | null, error: unknown): Error {
  if (error instanceof StackSettingsError) return error;
  const name = (error as { name?: string })?.name ?? '';
  const message = error instanceof Error ? error.message : String(error);
  if (name === 'ValidationError' && /does not exist/.test(message)) {
    return new StackSettingsError(`there is no stack ${stackName}${inRegion(region)}`, {
      cause: error,
    });
  }
  if (name === 'CredentialsProviderError' || /credential/i.test(message)) {
    return new StackSettingsError(
      'no AWS credentials: set AWS_PROFILE (or run "aws sso login"), or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY',
      { cause: error },
    );
  }
  if (/region/i.test(message) && region === null) {
    return new StackSettingsError('no AWS region: set AWS_REGION or a region in your profile', {
      cause: error,
    });
  }
  return new StackSettingsError(
    `could not read stack ${stackName}${inRegion(region)}: ${message.split('\n')[0]}`,
    { cause: error },
  );
}

async function regionOf(client: Pick<CloudFormationClient, 'send'>): Promise<string | null> {
  const config = (client as { config?: { region?: () => Promise<string> } }).config;
  try {
    return (await config?.region?.()) ?? null;
  } catch {
    return null;
  }
}

const inRegion = (region: string | null): string => (region ? ` in ${region}` : '');
