/**
 * Builds the CDK app: context -> stack props, the ServerlessMlops stack, and cdk-nag's AWS
 * Solutions checks as a validation plugin. Where this stands: infrastructure entry; bin/app.ts runs
 * it under the CDK CLI, the tests call it with their own App options.
 *
 * Context keys (cdk.json or `cdk synth -c key=value`):
 * - `resourcePrefix` (default `mlops`)
 * - `defaultModelConfig`: JSON object, or its text
 * - `ingestMaxConcurrency`: integer 2..1000 (default 5)
 *
 * No `env`: the stack is environment-agnostic, so synth needs no credentials and no look-ups.
 */
import { App, Validations, type AppProps } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { ServerlessMlopsStack, type ServerlessMlopsStackProps } from './serverless-mlops-stack';
import { isPlainObject } from '../core/support/objects';

/** The CloudFormation stack name. */
export const STACK_NAME = 'ServerlessMlops';

/** Reads the stack props from the app's context; CLI context values arrive as strings. */
export function propsFromContext(app: App): ServerlessMlopsStackProps {
  const prefix: unknown = app.node.tryGetContext('resourcePrefix');
  const config: unknown = app.node.tryGetContext('defaultModelConfig');
  const concurrency: unknown = app.node.tryGetContext('ingestMaxConcurrency');
  const props: { -readonly [K in keyof ServerlessMlopsStackProps]: ServerlessMlopsStackProps[K] } = {};
  // Anything but text is passed on as its JSON so that the stack's validation names the bad value.
  if (prefix !== undefined)
    props.resourcePrefix = typeof prefix === 'string' ? prefix : JSON.stringify(prefix);
  if (config !== undefined) {
    if (typeof config !== 'string' && !isPlainObject(config)) {
      throw new Error('context defaultModelConfig must be a JSON object or its JSON text');
    }
    props.defaultModelConfig = config;
  }
  if (concurrency !== undefined) {
    // `-c ingestMaxConcurrency=10` arrives as "10"; anything not numeric is passed on as is so
    // that the stack's validation names the bad value.
    const numeric =
      typeof concurrency === 'string' && /^\s*-?\d+(\.\d+)?\s*$/.test(concurrency)
        ? Number(concurrency)
        : concurrency;
    props.ingestMaxConcurrency = numeric as number;
  }
  return props;
}

/** The app with the stack and cdk-nag registered. */
export function createApp(appProps: AppProps = {}): { app: App; stack: ServerlessMlopsStack } {
  const app = new App(appProps);
  const stack = new ServerlessMlopsStack(app, STACK_NAME, {
    stackName: STACK_NAME,
    ...propsFromContext(app),
  });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return { app, stack };
}
