/**
 * OperatorHandler: the function operators' commands run in (its settings, no trigger, its own
 * errors alarmed), and least privilege: what OperateModel calls and nothing else.
 * test/contracts/iam-contract.test.ts runs approve, rollback, retrain and reject through the real
 * handler against this role.
 */
import type { Template } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENV } from '../../../lambdas/shared/environment';
import {
  actionsOf,
  cleanupOutdirs,
  grants,
  resourcesGranted,
  resourcesOfType,
  roleStatements,
  synthMlopsStack,
  type CfnResourceJson,
} from '../helpers';
import { anything, objectContaining, stringMatching } from '../../support/matchers';

afterAll(cleanupOutdirs);

const arn = (service: string, resource: string) =>
  `arn:\${AWS::Partition}:${service}:\${AWS::Region}:\${AWS::AccountId}:${resource}`;

describe('OperatorHandler in the stack', () => {
  let template: Template;
  let functionId: string;
  beforeAll(() => {
    template = synthMlopsStack().template;
    functionId = Object.keys(resourcesOfType(template, 'AWS::Lambda::Function')).find((id) =>
      id.startsWith('OperatorHandlerFunction'),
    )!;
  });

  it('is an MlopsFunction: Node.js 24 on arm64, traced, source maps, its own log group, the handlers’ environment', () => {
    const fn = resourcesOfType(template, 'AWS::Lambda::Function')[functionId]!;
    expect(fn.Properties).toMatchObject({
      Runtime: 'nodejs24.x',
      Architectures: ['arm64'],
      Handler: 'index.handler',
      MemorySize: 512,
      Timeout: 60,
      TracingConfig: { Mode: 'Active' },
      LoggingConfig: { LogGroup: { Ref: stringMatching(/^OperatorHandlerLogGroup/) } },
      Environment: {
        Variables: objectContaining({
          POWERTOOLS_SERVICE_NAME: 'operator',
          NODE_OPTIONS: '--enable-source-maps',
          [ENV.dataBucket]: anything(),
          [ENV.registryTable]: anything(),
          [ENV.sageMakerRoleArn]: anything(),
          [ENV.notificationTopicArn]: anything(),
        }),
      },
    });
    template.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 30 });
  });

  it('has no trigger, and an asynchronous invocation is not retried behind the operator', () => {
    const targets = Object.values(resourcesOfType(template, 'AWS::Events::Rule')).flatMap(
      (rule) => (rule.Properties?.Targets as { Arn: unknown }[] | undefined) ?? [],
    );
    expect(JSON.stringify(targets)).not.toContain(functionId);
    const mappings = Object.values(resourcesOfType(template, 'AWS::Lambda::EventSourceMapping'));
    expect(JSON.stringify(mappings)).not.toContain(functionId);
    // No resource policy: only identities with lambda:InvokeFunction (the operator policy) invoke it.
    const permissions = Object.values(resourcesOfType(template, 'AWS::Lambda::Permission'));
    expect(JSON.stringify(permissions)).not.toContain(functionId);
    template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      FunctionName: { Ref: functionId },
      MaximumRetryAttempts: 0,
    });
  });

  it('is watched by the operational alarms: errors and throttles', () => {
    const alarms = Object.values(resourcesOfType(template, 'AWS::CloudWatch::Alarm')).map(
      (alarm: CfnResourceJson) =>
        alarm.Properties as { AlarmName: string; Dimensions?: { Value: unknown }[] },
    );
    for (const what of ['errors', 'throttles']) {
      const alarm = alarms.find((a) => a.AlarmName === `ServerlessMlops-ops-operator-${what}`);
      expect(alarm?.Dimensions, what).toEqual([{ Name: 'FunctionName', Value: { Ref: functionId } }]);
    }
  });

  it('may deploy exactly as the deploying handlers do, and start training jobs, on <prefix>- resources only', () => {
    const s = roleStatements(template, 'OperatorHandlerRole');
    const models = arn('sagemaker', 'model/mlops-*');
    const endpointConfigs = arn('sagemaker', 'endpoint-config/mlops-*');
    const endpoints = arn('sagemaker', 'endpoint/mlops-*');
    const trainingJobs = arn('sagemaker', 'training-job/mlops-*');
    expect(resourcesGranted(s, 'sagemaker:CreateTrainingJob')).toEqual([trainingJobs]);
    expect(resourcesGranted(s, 'sagemaker:CreateModel')).toEqual([models]);
    expect(resourcesGranted(s, 'sagemaker:CreateEndpointConfig')).toEqual([endpointConfigs]);
    expect(resourcesGranted(s, 'sagemaker:UpdateEndpoint')).toEqual([endpointConfigs, endpoints]);
    expect(resourcesGranted(s, 'sagemaker:CreateEndpoint')).toEqual([endpointConfigs, endpoints]);
    expect(resourcesGranted(s, 'sagemaker:DescribeEndpoint')).toEqual([endpoints]);
    expect(resourcesGranted(s, 'sagemaker:AddTags')).toEqual([
      endpointConfigs,
      endpoints,
      models,
      trainingJobs,
    ]);
    expect(resourcesGranted(s, 'cloudwatch:DescribeAlarms')).toEqual([arn('cloudwatch', 'alarm:mlops-*')]);
    expect(grants(s, 'iam:PassRole')).toEqual([
      {
        resources: [expect.stringMatching(/^\$\{SageMakerExecutionRole[0-9A-F]+\.Arn\}$/)],
        condition: { StringEquals: { 'iam:PassedToService': 'sagemaker.amazonaws.com' } },
      },
    ]);
  });

  it('reads the registry and writes it, reads what a retrain starts from, publishes, and nothing else', () => {
    const s = roleStatements(template, 'OperatorHandlerRole');
    expect(resourcesGranted(s, 'dynamodb:UpdateItem')).toEqual([expect.stringMatching(/^\$\{RegistryTable/)]);
    expect(resourcesGranted(s, 'dynamodb:Scan')).toEqual([]);
    expect(resourcesGranted(s, 's3:GetObject')).toEqual([
      expect.stringMatching(/^\$\{DataBucket[0-9A-F]+\.Arn\}\/models\/\*$/),
    ]);
    expect(resourcesGranted(s, 's3:ListBucket')).toEqual([
      expect.stringMatching(/^\$\{DataBucket[0-9A-F]+\.Arn\}$/),
    ]);
    expect(resourcesGranted(s, 's3:PutObject')).toEqual([]);
    expect(resourcesGranted(s, 'sns:Publish')).toEqual([expect.stringMatching(/^\$\{NotificationsTopic/)]);
    const services = new Set(s.flatMap(actionsOf).map((a) => a.split(':')[0]));
    expect([...services].sort()).toEqual([
      'cloudwatch',
      'dynamodb',
      'iam',
      'kms',
      'logs',
      's3',
      'sagemaker',
      'sns',
      'xray',
    ]);
    for (const absent of [
      'cloudwatch:PutMetricAlarm',
      'lambda:InvokeFunction',
      'sagemaker:DescribeTrainingJob',
      'sagemaker:StopTrainingJob',
    ])
      expect(s.flatMap(actionsOf), absent).not.toContain(absent);
  });
});
