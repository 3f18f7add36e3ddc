import { RemovalPolicy, Validations } from 'aws-cdk-lib';
import { type CfnSecret, type ISecret, Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';

export interface ApiKeyProps {
  /** An existing secret's name; when absent the stack creates an empty secret. */
  existingSecretName?: string;
}

/**
 * Where the &Open API key lives. Never in the template, an environment variable or a log: the
 * functions receive the secret's ARN (or name) and read the value at their first call to &Open
 * (again after &Open refuses it, so a rotated key is picked up by warm containers).
 *
 * A secret created here is empty (no value at all, not a generated one: a random string would look
 * like a key and turn into 401s). Until someone puts the key in (`aws secretsmanager
 * put-secret-value`), a batch stops with a reason naming the secret, and nothing is sent.
 */
export class ApiKeyConstruct extends Construct {
  readonly secret: ISecret;
  /** True when the stack created the secret (and so the deploy guide's put-secret-value applies). */
  readonly created: boolean;

  constructor(scope: Construct, id: string, props: ApiKeyProps = {}) {
    super(scope, id);
    if (props.existingSecretName) {
      this.secret = Secret.fromSecretNameV2(this, 'Existing', props.existingSecretName);
      this.created = false;
      return;
    }
    const secret = new Secret(this, 'Secret', {
      description: 'gift-batch: the &Open API key (ao-v1-…), plain text or {"apiKey": "…"}',
      removalPolicy: RemovalPolicy.DESTROY,
    });
    // CDK generates a random value unless told otherwise; CloudFormation creates an empty secret
    // when neither SecretString nor GenerateSecretString is given.
    (secret.node.defaultChild as CfnSecret).addPropertyDeletionOverride('GenerateSecretString');
    Validations.of(secret).acknowledge({
      id: 'AwsSolutions-SMG4',
      reason:
        'A third-party API key issued by &Open: it can only be rotated in &Open, by a person, then ' +
        'put here with put-secret-value. There is no rotation Lambda that could mint a new one.',
    });
    this.secret = secret;
    this.created = true;
  }
}
