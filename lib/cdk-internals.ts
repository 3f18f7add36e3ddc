import { type Stack, Validations } from 'aws-cdk-lib';

/**
 * Acknowledges findings on the helper function CDK itself adds for S3 bucket notifications
 * (`BucketNotificationsHandler…`, a singleton per stack that sets the uploads bucket's notification
 * at deploy time). Its role is built inside aws-cdk-lib with the AWS managed basic execution policy;
 * we cannot change it, and it runs only during deployments. Call after the notification is added.
 */
export function acknowledgeCdkInternals(stack: Stack): void {
  for (const child of stack.node.children) {
    if (!child.node.id.startsWith('BucketNotificationsHandler')) continue;
    Validations.of(child).acknowledge({
      id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
      reason:
        "CDK's own BucketNotificationsHandler (it sets the uploads bucket's notification during " +
        'deployment): its role and managed logging policy are fixed inside aws-cdk-lib.',
    });
  }
}
