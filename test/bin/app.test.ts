/**
 * The CDK app entry: context -> props, stack name, cdk-nag registration.
 */
import { App } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { afterAll, describe, expect, it } from 'vitest';
import { createApp, propsFromContext, STACK_NAME } from '../../lib/app';
import { ServerlessMlopsStack } from '../../lib/serverless-mlops-stack';
import { cleanupOutdirs, fastAppProps } from '../lib/helpers';

afterAll(cleanupOutdirs);

function appWith(context: Record<string, unknown>): App {
  return new App({ ...fastAppProps(context), context });
}

describe('propsFromContext', () => {
  it('gives no props without context (the stack defaults apply)', () => {
    expect(propsFromContext(appWith({}))).toEqual({});
  });

  it('reads CLI string values', () => {
    expect(
      propsFromContext(
        appWith({
          resourcePrefix: 'dev',
          ingestMaxConcurrency: '12',
          defaultModelConfig: '{"labelColumn":"y"}',
        }),
      ),
    ).toEqual({
      resourcePrefix: 'dev',
      ingestMaxConcurrency: 12,
      defaultModelConfig: '{"labelColumn":"y"}',
    });
  });

  it('reads cdk.json values', () => {
    expect(
      propsFromContext(appWith({ ingestMaxConcurrency: 3, defaultModelConfig: { labelColumn: 'y' } })),
    ).toEqual({ ingestMaxConcurrency: 3, defaultModelConfig: { labelColumn: 'y' } });
  });

  it('passes a non-numeric concurrency on so that validation names it', () => {
    expect(propsFromContext(appWith({ ingestMaxConcurrency: 'lots' }))).toEqual({
      ingestMaxConcurrency: 'lots',
    });
  });

  it('rejects a default model config that is neither an object nor text', () => {
    expect(() => propsFromContext(appWith({ defaultModelConfig: 42 }))).toThrow(
      'context defaultModelConfig must be a JSON object or its JSON text',
    );
  });
});

describe('createApp', () => {
  it('creates the ServerlessMlops stack with no environment and registers cdk-nag', () => {
    const { app, stack } = createApp(fastAppProps({ resourcePrefix: 'demo' }));
    expect(stack).toBeInstanceOf(ServerlessMlopsStack);
    expect(stack.stackName).toBe(STACK_NAME);
    expect(STACK_NAME).toBe('ServerlessMlops');
    expect(stack.resourcePrefix).toBe('demo');
    expect(stack.environment).toBe('aws://unknown-account/unknown-region');
    const plugins = (app as unknown as { _validationPlugins: unknown[] })._validationPlugins;
    expect(plugins.some((p) => p instanceof AwsSolutionsChecks)).toBe(true);
  });

  it('fails synth-time validation with the exact message for bad context', () => {
    expect(() => createApp(fastAppProps({ ingestMaxConcurrency: '1' }))).toThrow(
      'ingestMaxConcurrency must be an integer between 2 and 1000, got 1',
    );
    expect(() => createApp(fastAppProps({ ingestMaxConcurrency: 'lots' }))).toThrow(
      'ingestMaxConcurrency must be an integer between 2 and 1000, got "lots"',
    );
    expect(() => createApp(fastAppProps({ resourcePrefix: 'Prod' }))).toThrow(
      /^resourcePrefix "Prod" is invalid/,
    );
  });
});
