/**
 * DriftMonitor: the hourly schedule, the function, its dead-letter queue, and least privilege.
 */
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import { Match, type Template } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DataBucket } from '../../../lib/constructs/data-bucket';
import { DRIFT_MONITOR_SCHEDULE, DriftMonitor } from '../../../lib/constructs/drift-monitor';
import {
  actionsOf,
  cleanupOutdirs,
  constructTestStack,
  resourcesGranted,
  roleStatements,
  synthMlopsStack,
  type CfnResourceJson,
} from '../helpers';
import { objectContaining } from '../../support/matchers';

afterAll(cleanupOutdirs);

const objects = (prefix: string) => `\${DataBucketE6B0FAA8.Arn}/${prefix}*`;

describe('DriftMonitor in the stack', () => {
  let template: Template;
  beforeAll(() => {
    template = synthMlopsStack().template;
  });

  it('runs every hour through a rule whose target retries and dead-letters', () => {
    expect(DRIFT_MONITOR_SCHEDULE).toBe('rate(1 hour)');
    template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'rate(1 hour)',
      State: 'ENABLED',
      Targets: [
        {
          Id: Match.anyValue(),
          Arn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^DriftMonitorHandlerFunction'), 'Arn'] },
          DeadLetterConfig: {
            Arn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^DriftMonitorDeadLetterQueue'), 'Arn'] },
          },
          RetryPolicy: { MaximumRetryAttempts: 8, MaximumEventAgeInSeconds: 3600 },
        },
      ],
    });
  });

  it('is an MlopsFunction with a 5-minute timeout, 1 GB and an on-failure destination', () => {
    const fns = Object.entries(
      template.findResources('AWS::Lambda::Function') as Record<string, CfnResourceJson>,
    )
      .filter(([id]) => id.startsWith('DriftMonitorHandlerFunction'))
      .map(([, fn]) => fn);
    expect(fns).toHaveLength(1);
    expect(fns[0]?.Properties).toMatchObject({
      Runtime: 'nodejs24.x',
      Architectures: ['arm64'],
      Timeout: 300,
      MemorySize: 1024,
      TracingConfig: { Mode: 'Active' },
      Environment: { Variables: objectContaining({ POWERTOOLS_SERVICE_NAME: 'monitor' }) },
    });
    template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      FunctionName: { Ref: Match.stringLikeRegexp('^DriftMonitorHandlerFunction') },
      MaximumRetryAttempts: 2,
      DestinationConfig: {
        OnFailure: {
          Destination: { 'Fn::GetAtt': [Match.stringLikeRegexp('^DriftMonitorDeadLetterQueue'), 'Arn'] },
        },
      },
    });
  });

  it('reads capture/, reports/ and prepared/, writes only reports/, reads the registry', () => {
    const s = roleStatements(template, 'DriftMonitorHandlerRole');
    expect(resourcesGranted(s, 's3:GetObject')).toEqual(
      [objects('capture/'), objects('prepared/'), objects('reports/')].sort(),
    );
    expect(resourcesGranted(s, 's3:PutObject')).toEqual([objects('reports/')]);
    expect(resourcesGranted(s, 's3:ListBucket')).toEqual(['${DataBucketE6B0FAA8.Arn}']);
    expect(resourcesGranted(s, 's3:DeleteObject')).toEqual([]);
    expect(resourcesGranted(s, 'dynamodb:GetItem')).toEqual(['${RegistryTableDB777839.Arn}']);
    expect(resourcesGranted(s, 'dynamodb:Query')).toEqual(
      ['${RegistryTableDB777839.Arn}', '${RegistryTableDB777839.Arn}/index/byStatus'].sort(),
    );
    for (const write of ['dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem']) {
      expect(resourcesGranted(s, write)).toEqual([]);
    }
    // EMF needs no PutMetricData; no alarms, SageMaker, SNS or PassRole.
    const services = new Set(s.flatMap((st) => actionsOf(st)).map((a) => a.split(':')[0]));
    expect([...services].sort()).toEqual(['dynamodb', 'logs', 's3', 'sqs', 'xray']);
  });
});

describe('DriftMonitor props', () => {
  const build = (props: { timeout?: Duration; scheduleEnabled?: boolean } = {}) => {
    const stack = constructTestStack();
    const data = new DataBucket(stack, 'Data', { removalPolicy: RemovalPolicy.DESTROY });
    const table = new dynamodb.TableV2(stack, 'Table', {
      partitionKey: { name: 'PK', type: dynamodb.AttributeType.STRING },
    });
    return new DriftMonitor(stack, 'Monitor', { data, table, environment: {}, ...props });
  };

  it('can leave the schedule disabled (on-demand runs only)', () => {
    expect(build({ scheduleEnabled: false }).rule).toBeDefined();
  });

  it('rejects a timeout outside 30 seconds to 15 minutes', () => {
    expect(() => build({ timeout: Duration.seconds(10) })).toThrow(
      'timeout must be between 30 seconds and 15 minutes, got 10 seconds',
    );
    expect(() => build({ timeout: Duration.minutes(16) })).toThrow(
      'timeout must be between 30 seconds and 15 minutes, got 960 seconds',
    );
  });
});
