import { Duration } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as logs from 'aws-cdk-lib/aws-logs';
import { afterAll, describe, expect, it } from 'vitest';
import { EventHandler } from '../../../lib/constructs/event-handler';
import { ESM_REQUIRE_BANNER, MlopsFunction } from '../../../lib/constructs/mlops-function';
import { HANDLER_ENTRIES } from '../../../lib/paths';
import { cleanupOutdirs, constructTestStack, roleStatements } from '../helpers';

afterAll(cleanupOutdirs);

describe('MlopsFunction', () => {
  it('applies the shared defaults', () => {
    const stack = constructTestStack();
    new MlopsFunction(stack, 'Fn', {
      entry: HANDLER_ENTRIES.alarmEvents,
      serviceName: 'probe',
      environment: { EXTRA: 'x' },
      logRetention: logs.RetentionDays.ONE_WEEK,
    });
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::Lambda::Function', {
      Runtime: 'nodejs24.x',
      Architectures: ['arm64'],
      MemorySize: 512,
      Timeout: 30,
      TracingConfig: { Mode: 'Active' },
      LoggingConfig: { LogGroup: { Ref: Match.stringLikeRegexp('^FnLogGroup') } },
      Environment: {
        Variables: {
          NODE_OPTIONS: '--enable-source-maps',
          POWERTOOLS_SERVICE_NAME: 'probe',
          POWERTOOLS_METRICS_NAMESPACE: 'ServerlessMlops',
          POWERTOOLS_LOG_LEVEL: 'INFO',
          EXTRA: 'x',
        },
      },
    });
    template.hasResource('AWS::Logs::LogGroup', {
      DeletionPolicy: 'Retain',
      Properties: { RetentionInDays: 7 },
    });
    template.hasResourceProperties('AWS::IAM::Role', { ManagedPolicyArns: Match.absent() });
    // The role may only write to its own log group.
    expect(roleStatements(template, 'FnRole')).toContainEqual(
      expect.objectContaining({
        Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        Resource: { 'Fn::GetAtt': [expect.stringMatching(/^FnLogGroup/), 'Arn'] },
      }),
    );
  });

  it('defines require for ESM bundles without colliding with bundled imports', () => {
    expect(ESM_REQUIRE_BANNER).toBe(
      "import { createRequire as __mlopsCreateRequire } from 'node:module'; const require = __mlopsCreateRequire(import.meta.url);",
    );
  });

  it('rejects an impossible memory size', () => {
    expect(
      () =>
        new MlopsFunction(constructTestStack(), 'Fn', {
          entry: HANDLER_ENTRIES.ingest,
          serviceName: 'x',
          memorySize: 64,
        }),
    ).toThrow('memorySize must be an integer between 128 and 10240 MB, got 64');
  });
});

describe('EventHandler validation', () => {
  const base = {
    entry: HANDLER_ENTRIES.alarmEvents,
    serviceName: 'x',
    description: 'probe',
    eventPattern: { source: ['aws.cloudwatch'] },
    environment: {},
  };
  it('rejects retry attempts and event ages EventBridge does not accept', () => {
    expect(() => new EventHandler(constructTestStack(), 'H', { ...base, retryAttempts: 186 })).toThrow(
      'retryAttempts must be an integer between 0 and 185, got 186',
    );
    expect(
      () => new EventHandler(constructTestStack(), 'H', { ...base, maxEventAge: Duration.hours(25) }),
    ).toThrow('maxEventAge must be between 1 minute and 24 hours, got 90000 seconds');
  });
});
