/**
 * The stack as `cdk synth` builds it (cdk.json's context and feature flags), minus bundling, and the
 * means to read its CloudFormation by path: what every test under test/cdk starts from.
 */
import { readFileSync } from 'node:fs';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { GiftBatchStack } from '../../lib/gift-batch-stack.ts';

/** Synthesizing the whole stack takes seconds, more on a loaded machine. */
export const CDK_TIMEOUT = 60_000;

const cdkJson = JSON.parse(readFileSync(new URL('../../cdk.json', import.meta.url), 'utf8')) as {
  context: Record<string, unknown>;
};

// biome-ignore lint/suspicious/noExplicitAny: synthesized CloudFormation is untyped JSON, read by path
export type Json = any;
export type Resource = { Type: string; Properties?: Record<string, Json>; DeletionPolicy?: string };

export interface SynthesizedStack {
  app: App;
  stack: GiftBatchStack;
  template: Template;
}

/** `context` on top of cdk.json's, as `cdk synth -c key=value` gives it. */
export function synthesize(
  stackName: string,
  context: Record<string, unknown> = {},
): SynthesizedStack {
  const app = new App({
    context: { ...cdkJson.context, 'aws:cdk:bundling-stacks': [], ...context },
  });
  const stack = new GiftBatchStack(app, stackName);
  return { app, stack, template: Template.fromStack(stack) };
}

/** [logical id, resource] of every resource of a CloudFormation type. */
export function resourcesOf(template: Template, type: string): [string, Resource][] {
  return Object.entries(template.findResources(type)) as [string, Resource][];
}

/** The logical id a `Ref` or `Fn::GetAtt` points at. */
export function logicalIdOf(value: unknown): string | undefined {
  const reference = value as { Ref?: string; 'Fn::GetAtt'?: [string, string] } | undefined;
  return reference?.Ref ?? reference?.['Fn::GetAtt']?.[0];
}
