import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import { type FunctionUrl, FunctionUrlAuthType, InvokeMode } from 'aws-cdk-lib/aws-lambda';
import { type CfnSecret, type ISecret, Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { GiftBatchFunction } from './gift-batch-function.ts';
import { LEDGER_ACCESS } from './ledger.ts';
import { PIPELINE } from './pipeline-settings.ts';

export interface WebhookProps {
  ledger: ITable;
  logLevel: string;
  /** An existing secret's name holding &Open's signing secret; else an empty one is created. */
  existingSecretName?: string;
}

/**
 * Signed &Open webhooks (`-c webhooks=true`): a function behind a Lambda Function URL that records
 * status and redemption-URL changes in the ledger, so the poller only has to catch what they miss.
 *
 * The URL has no IAM auth (authType NONE) on purpose: &Open cannot sign AWS requests. Every
 * delivery is authenticated by its HMAC-SHA256 signature over the raw body with the secret only
 * &Open and this function know, and refused when more than five minutes old or already seen; an
 * unsigned request costs one short invocation and touches nothing.
 */
export class WebhookConstruct extends Construct {
  readonly receiver: GiftBatchFunction;
  readonly url: FunctionUrl;
  readonly secret: ISecret;
  /** True when the stack created the secret (empty: the deploy guide's put-secret-value applies). */
  readonly secretCreated: boolean;

  constructor(scope: Construct, id: string, props: WebhookProps) {
    super(scope, id);
    if (props.existingSecretName) {
      this.secret = Secret.fromSecretNameV2(this, 'ExistingSecret', props.existingSecretName);
      this.secretCreated = false;
    } else {
      const secret = new Secret(this, 'Secret', {
        description:
          'gift-batch: the signing secret &Open shows when the webhook endpoint is registered',
        removalPolicy: RemovalPolicy.DESTROY,
      });
      // Empty until a person puts &Open's secret in: a generated one would never match.
      (secret.node.defaultChild as CfnSecret).addPropertyDeletionOverride('GenerateSecretString');
      Validations.of(secret).acknowledge({
        id: 'AwsSolutions-SMG4',
        reason:
          'The webhook signing secret is issued by &Open for the registered endpoint: it is rotated ' +
          'in &Open by a person and then put here; no rotation Lambda could mint one.',
      });
      this.secret = secret;
      this.secretCreated = true;
    }

    this.receiver = new GiftBatchFunction(this, 'Receiver', {
      handler: 'webhook',
      description: 'gift-batch webhook: signed &Open deliveries → status and URLs in the ledger',
      timeout: Duration.seconds(PIPELINE.webhook.timeoutSeconds),
      memorySize: PIPELINE.webhook.memoryMb,
      logLevel: props.logLevel,
    })
      .bindLedger(props.ledger, LEDGER_ACCESS.webhook)
      .bindWebhookSecret(this.secret);

    this.url = this.receiver.addFunctionUrl({
      // The signature is the authentication (see above): &Open cannot present AWS credentials.
      authType: FunctionUrlAuthType.NONE,
      invokeMode: InvokeMode.BUFFERED,
    });
  }
}
