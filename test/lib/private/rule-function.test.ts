/**
 * createRuleFunction: the rule -> function wiring EventHandler, DriftMonitor and Reconciler share;
 * and the data-bucket object grants DriftMonitor, IngestPipeline and Reconciler share.
 */
import { Duration } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { afterAll, describe, expect, it } from 'vitest';
import { HANDLER_ENTRIES } from '../../../lib/paths';
import { grantListDataBucket, grantReadObjects, grantWriteObjects } from '../../../lib/private/permissions';
import { createRuleFunction, type RuleFunctionProps } from '../../../lib/private/rule-function';
import { cleanupOutdirs, constructTestStack, roleStatements } from '../helpers';

afterAll(cleanupOutdirs);

const props = (overrides: Partial<RuleFunctionProps> = {}): RuleFunctionProps => ({
  ruleId: 'Schedule',
  rule: { description: 'probe schedule', schedule: events.Schedule.rate(Duration.minutes(10)) },
  function: { entry: HANDLER_ENTRIES.alarmEvents, serviceName: 'probe' },
  functionRetryAttempts: 1,
  deliveryRetryAttempts: 3,
  maxEventAge: Duration.minutes(10),
  deadLetterQueueOf: 'the probe',
  ...overrides,
});

describe('createRuleFunction', () => {
  it('creates the queue, the function and the rule under the scope, with one DLQ for both hops', () => {
    const stack = constructTestStack();
    const wired = createRuleFunction(stack, props());
    expect(wired.deadLetterQueue.node.path).toBe('TestStack/DeadLetterQueue');
    expect(wired.handler.node.path).toBe('TestStack/Handler');
    expect(wired.rule.node.path).toBe('TestStack/Schedule');

    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::Events::Rule', {
      Description: 'probe schedule',
      ScheduleExpression: 'rate(10 minutes)',
      State: 'ENABLED',
      Targets: [
        {
          Id: Match.anyValue(),
          Arn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^HandlerFunction'), 'Arn'] },
          DeadLetterConfig: { Arn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^DeadLetterQueue'), 'Arn'] } },
          RetryPolicy: { MaximumRetryAttempts: 3, MaximumEventAgeInSeconds: 600 },
        },
      ],
    });
    template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      MaximumRetryAttempts: 1,
      DestinationConfig: {
        OnFailure: { Destination: { 'Fn::GetAtt': [Match.stringLikeRegexp('^DeadLetterQueue'), 'Arn'] } },
      },
    });
  });

  it('passes the rule settings through (event pattern, disabled)', () => {
    const stack = constructTestStack();
    createRuleFunction(
      stack,
      props({
        ruleId: 'Rule',
        rule: { description: 'probe pattern', eventPattern: { source: ['aws.s3'] }, enabled: false },
      }),
    );
    Template.fromStack(stack).hasResourceProperties('AWS::Events::Rule', {
      EventPattern: { source: ['aws.s3'] },
      State: 'DISABLED',
    });
  });

  it('refuses retries and event ages out of range', () => {
    expect(() => createRuleFunction(constructTestStack(), props({ functionRetryAttempts: 3 }))).toThrow(
      'functionRetryAttempts must be an integer between 0 and 2, got 3',
    );
    expect(() => createRuleFunction(constructTestStack(), props({ deliveryRetryAttempts: -1 }))).toThrow(
      'retryAttempts must be an integer between 0 and 185, got -1',
    );
    expect(() =>
      createRuleFunction(constructTestStack(), props({ maxEventAge: Duration.seconds(59) })),
    ).toThrow('maxEventAge must be between 1 minute and 24 hours, got 59 seconds');
  });
});

describe('data bucket object grants', () => {
  it('read, list and write statements with the optional version and multipart actions', () => {
    const stack = constructTestStack();
    const bucket = new s3.Bucket(stack, 'Data');
    const role = new iam.Role(stack, 'ProbeRole', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
    });
    grantReadObjects(role, 'ReadA', [bucket.arnForObjects('a/*')]);
    grantReadObjects(role, 'ReadB', [bucket.arnForObjects('b/*')], { versions: true });
    grantListDataBucket(role, bucket);
    grantWriteObjects(role, 'WriteC', [bucket.arnForObjects('c/*')]);
    grantWriteObjects(role, 'WriteD', [bucket.arnForObjects('d/*')], { multipart: true });

    const statements = roleStatements(Template.fromStack(stack), 'ProbeRole');
    expect(statements.map((s) => [s.Sid, s.Action])).toEqual([
      ['ReadA', 's3:GetObject'],
      ['ReadB', ['s3:GetObject', 's3:GetObjectVersion']],
      ['ListDataBucket', 's3:ListBucket'],
      ['WriteC', 's3:PutObject'],
      ['WriteD', ['s3:AbortMultipartUpload', 's3:PutObject']],
    ]);
    expect(statements.find((s) => s.Sid === 'ListDataBucket')?.Resource).toEqual({
      'Fn::GetAtt': [expect.stringMatching(/^Data/), 'Arn'],
    });
  });
});
