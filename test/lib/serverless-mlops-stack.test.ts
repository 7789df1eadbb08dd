/**
 * ServerlessMlopsStack: composition, handler environment, outputs and synth-time validation.
 */
import { RemovalPolicy } from 'aws-cdk-lib';
import { Match, type Template } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RECONCILER_ENV } from '../../lambdas/reconciler/settings';
import { ENV } from '../../lambdas/shared/environment';
import { ServerlessMlopsStack } from '../../lib/serverless-mlops-stack';
import { cleanupOutdirs, fastApp, synthMlopsStack, type CfnResourceJson } from './helpers';
import { stringMatching } from '../support/matchers';

afterAll(cleanupOutdirs);

function functions(template: Template): Record<string, CfnResourceJson> {
  return template.findResources('AWS::Lambda::Function') as Record<string, CfnResourceJson>;
}

describe('ServerlessMlopsStack with defaults', () => {
  let template: Template;
  beforeAll(() => {
    template = synthMlopsStack().template;
  });

  it('creates the seven handlers on Node.js 24, arm64, with X-Ray and source maps', () => {
    const fns = Object.values(functions(template));
    expect(fns).toHaveLength(7);
    for (const fn of fns) {
      expect(fn.Properties).toMatchObject({
        Runtime: 'nodejs24.x',
        Architectures: ['arm64'],
        Handler: 'index.handler',
        TracingConfig: { Mode: 'Active' },
      });
    }
  });

  it('gives every handler exactly the environment lambdas/shared/environment.ts reads, plus Powertools settings', () => {
    const expected = [
      ENV.dataBucket,
      ENV.registryTable,
      ENV.resourcePrefix,
      ENV.sageMakerRoleArn,
      ENV.notificationTopicArn,
      'NODE_OPTIONS',
      'POWERTOOLS_LOG_LEVEL',
      'POWERTOOLS_METRICS_NAMESPACE',
      'POWERTOOLS_SERVICE_NAME',
    ].sort();
    // The reconciler also names where it re-delivers lost events (lambdas/reconciler/settings.ts).
    const reconcilerExtras = Object.values(RECONCILER_ENV);
    const services: string[] = [];
    for (const fn of Object.values(functions(template))) {
      const variables = (fn.Properties?.Environment as { Variables: Record<string, unknown> }).Variables;
      const own = variables.POWERTOOLS_SERVICE_NAME === 'reconciler' ? reconcilerExtras : [];
      expect(Object.keys(variables).sort()).toEqual([...expected, ...own].sort());
      expect(variables).toMatchObject({
        [ENV.resourcePrefix]: 'mlops',
        [ENV.dataBucket]: { Ref: stringMatching('^DataBucket') },
        [ENV.registryTable]: { Ref: stringMatching('^RegistryTable') },
        [ENV.sageMakerRoleArn]: { 'Fn::GetAtt': [stringMatching('^SageMakerExecutionRole'), 'Arn'] },
        [ENV.notificationTopicArn]: { Ref: stringMatching('^NotificationsTopic') },
        NODE_OPTIONS: '--enable-source-maps',
        POWERTOOLS_METRICS_NAMESPACE: 'ServerlessMlops',
        POWERTOOLS_LOG_LEVEL: 'INFO',
      });
      services.push(variables.POWERTOOLS_SERVICE_NAME as string);
    }
    expect(services.sort()).toEqual([
      'alarm-events',
      'endpoint-events',
      'ingest',
      'monitor',
      'operator',
      'reconciler',
      'training-events',
    ]);
  });

  it('retains log groups for one month, one per function, passed to the function', () => {
    template.resourcePropertiesCountIs('AWS::Logs::LogGroup', { RetentionInDays: 30 }, 7);
    for (const fn of Object.values(functions(template))) {
      expect(fn.Properties?.LoggingConfig).toEqual({ LogGroup: { Ref: stringMatching(/LogGroup/) } });
    }
  });

  it('exports the names an operator needs', () => {
    const outputs = template.toJSON().Outputs as Record<string, unknown>;
    expect(Object.keys(outputs).sort()).toEqual(
      [
        'AlarmEventsDeadLetterQueueUrl',
        'DataBucketName',
        'DriftMonitorDeadLetterQueueUrl',
        'DriftMonitorFunctionName',
        'EndpointEventsDeadLetterQueueUrl',
        'IngestDeadLetterQueueUrl',
        'NotificationTopicArn',
        'ReconcilerFunctionName',
        'RegistryTableName',
        'SageMakerRoleArn',
        'TrainingEventsDeadLetterQueueUrl',
        // The mlops CLI's: how it finds the operator function, the policies to grant its users,
        // and where dead letters go back to.
        'AlarmEventsFunctionName',
        'EndpointEventsFunctionName',
        'IngestQueueUrl',
        'OperatorFunctionName',
        'OperatorPolicyArn',
        'ReadOnlyPolicyArn',
        'ResourcePrefix',
        'TrainingEventsFunctionName',
      ].sort(),
    );
    template.hasOutput('DataBucketName', { Value: { Ref: Match.stringLikeRegexp('^DataBucket') } });
    template.hasOutput('SageMakerRoleArn', {
      Value: { 'Fn::GetAtt': [Match.stringLikeRegexp('^SageMakerExecutionRole'), 'Arn'] },
    });
    template.hasOutput('ResourcePrefix', { Value: 'mlops' });
    template.hasOutput('IngestQueueUrl', { Value: { Ref: Match.stringLikeRegexp('^IngestQueue') } });
    for (const [output, construct] of [
      ['OperatorFunctionName', 'OperatorHandlerFunction'],
      ['TrainingEventsFunctionName', 'TrainingEventsHandlerFunction'],
      ['EndpointEventsFunctionName', 'EndpointEventsHandlerFunction'],
      ['AlarmEventsFunctionName', 'AlarmEventsHandlerFunction'],
    ])
      template.hasOutput(output!, { Value: { Ref: Match.stringLikeRegexp(`^${construct}`) } });
    // A managed policy's Ref is its ARN.
    template.hasOutput('ReadOnlyPolicyArn', {
      Value: { Ref: Match.stringLikeRegexp('^OperatorAccessReadOnlyPolicy') },
    });
    template.hasOutput('OperatorPolicyArn', {
      Value: { Ref: Match.stringLikeRegexp('^OperatorAccessOperatorPolicy') },
    });
  });

  it('has no custom resources (EventBridge notifications use the native bucket property)', () => {
    const types = Object.values(template.toJSON().Resources as Record<string, CfnResourceJson>).map(
      (r) => r.Type,
    );
    expect(
      types.filter((t) => t.startsWith('Custom::') || t === 'AWS::CloudFormation::CustomResource'),
    ).toEqual([]);
    expect(Object.values(functions(template)).map((f) => f.Properties?.Runtime)).not.toContain('python3.13');
  });
});

describe('ServerlessMlopsStack props', () => {
  it('scopes rules and names to a custom prefix and passes the default model config', () => {
    const config = { labelColumn: 'churned', training: { instanceType: 'ml.m5.xlarge' } };
    const { template } = synthMlopsStack({
      resourcePrefix: 'ml-dev',
      defaultModelConfig: config,
      ingestMaxConcurrency: 20,
      logLevel: 'DEBUG',
    });
    for (const fn of Object.values(functions(template))) {
      const variables = (fn.Properties?.Environment as { Variables: Record<string, unknown> }).Variables;
      expect(variables[ENV.resourcePrefix]).toBe('ml-dev');
      expect(variables[ENV.defaultModelConfig]).toBe(JSON.stringify(config));
      expect(variables.POWERTOOLS_LOG_LEVEL).toBe('DEBUG');
    }
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: Match.objectLike({ detail: { TrainingJobName: [{ prefix: 'ml-dev-' }] } }),
    });
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      ScalingConfig: { MaximumConcurrency: 20 },
    });
    template.hasResourceProperties('AWS::KMS::Alias', { AliasName: 'alias/ml-dev-notifications' });
  });

  it('accepts the default model config as JSON text', () => {
    const { template } = synthMlopsStack({ defaultModelConfig: '{ "problemType": "regression" }' });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({ [ENV.defaultModelConfig]: '{"problemType":"regression"}' }),
      },
    });
  });

  it('can let stateful resources be destroyed', () => {
    const { template } = synthMlopsStack({ dataRemovalPolicy: RemovalPolicy.DESTROY });
    template.hasResource('AWS::DynamoDB::Table', {
      DeletionPolicy: 'Delete',
      Properties: Match.objectLike({ DeletionProtectionEnabled: false }),
    });
    template.allResources('AWS::S3::Bucket', { DeletionPolicy: 'Delete' });
  });
});

describe('ServerlessMlopsStack validation', () => {
  const build = (props: ConstructorParameters<typeof ServerlessMlopsStack>[2]) => () =>
    new ServerlessMlopsStack(fastApp(), 'Invalid', props);

  it.each(['', 'MLOPS', 'ml_ops', '9mlops', 'mlops-', 'ml--ops', 'toolongprefix'])(
    'rejects the resource prefix %j',
    (resourcePrefix) => {
      expect(build({ resourcePrefix })).toThrow(
        `resourcePrefix ${JSON.stringify(resourcePrefix)} is invalid: it must match /^[a-z](?:[a-z0-9]|-(?=[a-z0-9])){0,7}$/ (1-8 lowercase letters, digits or single hyphens, starting with a letter)`,
      );
    },
  );

  it.each([0, 1, 1001, 2.5, Number.NaN])('rejects ingestMaxConcurrency %s', (ingestMaxConcurrency) => {
    expect(build({ ingestMaxConcurrency })).toThrow(
      `ingestMaxConcurrency must be an integer between 2 and 1000, got ${String(ingestMaxConcurrency)}`,
    );
  });

  it('rejects ingestBatchSize outside 1..10', () => {
    expect(build({ ingestBatchSize: 11 })).toThrow(
      'ingestBatchSize must be an integer between 1 and 10, got 11',
    );
  });

  it('rejects a default model config that is not JSON, not an object, or not a valid config', () => {
    expect(build({ defaultModelConfig: '{ nope' })).toThrow(/^defaultModelConfig is not valid JSON: /);
    expect(build({ defaultModelConfig: '[1, 2]' })).toThrow('defaultModelConfig must be a JSON object');
    expect(build({ defaultModelConfig: { labelColum: 'y' } })).toThrow(
      /^defaultModelConfig is not a valid model config: .*labelColum/,
    );
    expect(build({ defaultModelConfig: { training: { instanceType: 'm5.large' } } })).toThrow(
      'defaultModelConfig is not a valid model config: training.instanceType: must look like ml.m5.large',
    );
  });

  it('rejects extra image repositories that are not ECR repository ARNs', () => {
    expect(build({ extraImageRepositoryArns: ['arn:aws:ecr:us-east-1:*:repository/anything'] })).toThrow(
      'extraImageRepositoryArns: "arn:aws:ecr:us-east-1:*:repository/anything" is not an ECR repository ARN (arn:aws:ecr:<region>:<12-digit account>:repository/<name>)',
    );
  });
});
