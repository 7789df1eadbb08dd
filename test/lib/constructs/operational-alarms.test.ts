/**
 * OperationalAlarms in the synthesized stack: every dead-letter queue and every function found in
 * the template (not a hard-coded list, so a new queue or handler without its alarm fails here)
 * has its alarms, with actions on the notification topic, names the alarm-events rule ignores,
 * and a key policy that lets CloudWatch publish to the encrypted topic.
 */
import { Duration, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ResourceNames } from '../../../core/domain/naming';
import { INGEST_MAX_RECEIVE_COUNT, INGEST_TIMEOUT } from '../../../lib/constructs/ingest-pipeline';
import { OperationalAlarms, retryWindow } from '../../../lib/constructs/operational-alarms';
import { ServerlessMlopsStack } from '../../../lib/serverless-mlops-stack';
import alarmSample from '../../fixtures/events/aws-samples/cloudwatch-alarm-state-change-single-metric.json';
import { matchesPattern, synthesizedRules } from '../../contracts/support/event-pattern';
import {
  cleanupOutdirs,
  constructTestStack,
  fastApp,
  synthMlopsStack,
  type CfnResourceJson,
} from '../helpers';

afterAll(cleanupOutdirs);

type Resources = Record<string, CfnResourceJson>;

interface AlarmJson {
  AlarmName: string;
  MetricName: string;
  Namespace: string;
  Statistic: string;
  Dimensions: { Name: string; Value: unknown }[];
  Threshold: number;
  ComparisonOperator: string;
  EvaluationPeriods: number;
  DatapointsToAlarm: number;
  Period: number;
  TreatMissingData: string;
  AlarmActions: unknown[];
  OKActions: unknown[];
}

const getAttArn = (value: unknown): string | undefined => {
  const getAtt = (value as { 'Fn::GetAtt'?: [string, string] } | undefined)?.['Fn::GetAtt'];
  return getAtt?.[1] === 'Arn' ? getAtt[0] : undefined;
};

/** Every queue the template uses as a dead-letter queue, wherever it is wired. */
function deadLetterQueues(resources: Resources): Set<string> {
  const dlqs = new Set<string>();
  const add = (arn: unknown) => {
    const id = getAttArn(arn);
    if (id !== undefined && resources[id]?.Type === 'AWS::SQS::Queue') dlqs.add(id);
  };
  for (const resource of Object.values(resources)) {
    const p = resource.Properties ?? {};
    if (resource.Type === 'AWS::SQS::Queue')
      add((p.RedrivePolicy as { deadLetterTargetArn?: unknown } | undefined)?.deadLetterTargetArn);
    if (resource.Type === 'AWS::Events::Rule')
      for (const t of (p.Targets as { DeadLetterConfig?: { Arn: unknown } }[] | undefined) ?? [])
        add(t.DeadLetterConfig?.Arn);
    if (resource.Type === 'AWS::Lambda::EventInvokeConfig')
      add(
        (p.DestinationConfig as { OnFailure?: { Destination: unknown } } | undefined)?.OnFailure?.Destination,
      );
    if (resource.Type === 'AWS::Lambda::Function')
      add((p.DeadLetterConfig as { TargetArn?: unknown } | undefined)?.TargetArn);
  }
  return dlqs;
}

function ofType(resources: Resources, type: string): string[] {
  return Object.entries(resources)
    .filter(([, r]) => r.Type === type)
    .map(([id]) => id);
}

function alarms(resources: Resources): AlarmJson[] {
  return Object.values(resources)
    .filter((r) => r.Type === 'AWS::CloudWatch::Alarm')
    .map((r) => r.Properties as unknown as AlarmJson);
}

/** The alarms on `metric` whose dimension `dimension` points at resource `logicalId`. */
function alarmsOn(all: AlarmJson[], metric: string, dimension: string, logicalId: string): AlarmJson[] {
  return all.filter(
    (a) =>
      a.MetricName === metric &&
      a.Dimensions.some((d) => {
        if (d.Name !== dimension) return false;
        const v = d.Value as { Ref?: string; 'Fn::GetAtt'?: [string, string] };
        return v.Ref === logicalId || v['Fn::GetAtt']?.[0] === logicalId;
      }),
  );
}

describe('OperationalAlarms in the stack', () => {
  let resources: Resources;
  let all: AlarmJson[];
  let topicId: string;
  let stack: ServerlessMlopsStack;

  beforeAll(() => {
    const synth = synthMlopsStack();
    stack = synth.stack;
    resources = synth.template.toJSON().Resources as Resources;
    all = alarms(resources);
    const topics = ofType(resources, 'AWS::SNS::Topic');
    expect(topics).toHaveLength(1);
    topicId = topics[0]!;
  });

  it('finds the five dead-letter queues and five functions in the template', () => {
    // A floor, not the list: the checks below take whatever the template holds.
    expect(deadLetterQueues(resources).size).toBeGreaterThanOrEqual(5);
    expect(ofType(resources, 'AWS::Lambda::Function').length).toBeGreaterThanOrEqual(5);
  });

  it('alarms on every dead-letter queue as soon as it holds a message', () => {
    for (const queue of deadLetterQueues(resources)) {
      const found = alarmsOn(all, 'ApproximateNumberOfMessagesVisible', 'QueueName', queue);
      expect(found, `dead-letter queue ${queue}`).toHaveLength(1);
      expect(found[0]).toMatchObject({
        Namespace: 'AWS/SQS',
        Statistic: 'Maximum',
        Threshold: 0,
        ComparisonOperator: 'GreaterThanThreshold',
        EvaluationPeriods: 1,
        DatapointsToAlarm: 1,
      });
      expect(found[0]!.Period).toBeGreaterThanOrEqual(60);
      expect(found[0]!.Period).toBeLessThanOrEqual(300);
    }
  });

  it('alarms on errors and throttles of every function', () => {
    for (const fn of ofType(resources, 'AWS::Lambda::Function')) {
      for (const metric of ['Errors', 'Throttles']) {
        const found = alarmsOn(all, metric, 'FunctionName', fn);
        expect(found, `${metric} of ${fn}`).toHaveLength(1);
        expect(found[0]).toMatchObject({
          Namespace: 'AWS/Lambda',
          Statistic: 'Sum',
          Period: 300,
          Threshold: 0,
          ComparisonOperator: 'GreaterThanThreshold',
          EvaluationPeriods: 1,
        });
      }
    }
  });

  it('alarms on the age of every queue that is not a dead-letter queue (the ingest queue)', () => {
    const dlqs = deadLetterQueues(resources);
    const sources = ofType(resources, 'AWS::SQS::Queue').filter((q) => !dlqs.has(q));
    expect(sources).toEqual([expect.stringMatching(/^IngestQueue/)]);
    for (const queue of sources) {
      const found = alarmsOn(all, 'ApproximateAgeOfOldestMessage', 'QueueName', queue);
      expect(found, `age of ${queue}`).toHaveLength(1);
      expect(found[0]).toMatchObject({
        Namespace: 'AWS/SQS',
        Statistic: 'Maximum',
        ComparisonOperator: 'GreaterThanThreshold',
      });
    }
  });

  it("sets the ingest age threshold to the queue's retry window: 5 receives x 6 x the ingest timeout", () => {
    const [queueId] = ofType(resources, 'AWS::SQS::Queue').filter((q) => q.startsWith('IngestQueue'));
    const queue = resources[queueId!]!.Properties as {
      VisibilityTimeout: number;
      RedrivePolicy: { maxReceiveCount: number };
    };
    const [age] = alarmsOn(all, 'ApproximateAgeOfOldestMessage', 'QueueName', queueId!);
    expect(age!.Threshold).toBe(queue.VisibilityTimeout * queue.RedrivePolicy.maxReceiveCount);
    expect(age!.Threshold).toBe(INGEST_MAX_RECEIVE_COUNT * 6 * INGEST_TIMEOUT.toSeconds()); // 9000 s
  });

  it('has no other alarms, and every alarm notifies the topic on ALARM and on OK', () => {
    const dlqs = deadLetterQueues(resources).size;
    const functions = ofType(resources, 'AWS::Lambda::Function').length;
    expect(all).toHaveLength(dlqs + 2 * functions + 1);
    for (const alarm of all) {
      expect(alarm.AlarmActions, alarm.AlarmName).toEqual([{ Ref: topicId }]);
      expect(alarm.OKActions, alarm.AlarmName).toEqual([{ Ref: topicId }]);
      expect(alarm.TreatMissingData, alarm.AlarmName).toBe('notBreaching');
    }
  });

  it('names every alarm <stackName>-ops-<name>-<what>, outside the model alarms "mlops-" space', () => {
    const names = all.map((a) => a.AlarmName).sort();
    expect(new Set(names).size).toBe(names.length);
    for (const name of names) {
      expect(name).toMatch(/^ServerlessMlops-ops-[a-z0-9-]+-(dlq|errors|throttles|age)$/);
      expect(name.startsWith(new ResourceNames('mlops').alarmPrefix())).toBe(false);
    }
    expect(names).toEqual(
      expect.arrayContaining([
        'ServerlessMlops-ops-ingest-dlq',
        'ServerlessMlops-ops-training-events-errors',
        'ServerlessMlops-ops-drift-monitor-throttles',
        'ServerlessMlops-ops-ingest-queue-age',
      ]),
    );
    expect(stack.operationalAlarms.alarms).toHaveLength(all.length);
  });

  it('does not trigger the model-alarm handler: the alarm-events rule ignores every ops alarm', () => {
    // Only the alarm rule: its pattern has no Ref to resolve.
    const alarmRules = Object.entries(resources).filter(
      ([, r]) =>
        r.Type === 'AWS::Events::Rule' &&
        JSON.stringify((r.Properties?.EventPattern as { source?: unknown } | undefined)?.source) ===
          '["aws.cloudwatch"]',
    );
    const rules = synthesizedRules({ Resources: Object.fromEntries(alarmRules) }, {});
    expect(rules).toHaveLength(1);
    const pattern = rules[0]!.pattern!;
    const event = (alarmName: string) => {
      const e = structuredClone(alarmSample);
      e.detail.alarmName = alarmName;
      e.resources = [`arn:aws:cloudwatch:us-east-1:123456789012:alarm:${alarmName}`];
      return e;
    };
    for (const alarm of all)
      expect(matchesPattern(pattern, event(alarm.AlarmName)), alarm.AlarmName).toBe(false);
    // The same rule still takes a model alarm, including one of a model named "ops".
    expect(matchesPattern(pattern, event(new ResourceNames('mlops').alarms('churn').errorRate))).toBe(true);
    expect(matchesPattern(pattern, event(new ResourceNames('mlops').alarms('ops').errorRate))).toBe(true);
  });

  it('lets CloudWatch (this account) publish to the encrypted topic: topic policy and key policy', () => {
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::KMS::Key', {
      KeyPolicy: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Principal: { Service: 'cloudwatch.amazonaws.com' },
            Action: ['kms:Decrypt', 'kms:GenerateDataKey*'],
            Condition: { StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } },
          }),
        ]),
      },
    });
    template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Principal: { Service: 'cloudwatch.amazonaws.com' }, Action: 'sns:Publish' }),
        ]),
      },
    });
  });
});

describe('OperationalAlarms validation', () => {
  function build(
    props: Partial<ConstructorParameters<typeof OperationalAlarms>[2]> = {},
    stack = constructTestStack(),
  ) {
    const topic = new sns.Topic(stack, 'Topic');
    const queue = new sqs.Queue(stack, 'Dlq');
    return () =>
      new OperationalAlarms(stack, 'Ops', {
        topic,
        resourcePrefix: 'mlops',
        deadLetterQueues: [{ name: 'ingest', queue }],
        functions: [],
        ...props,
      });
  }

  it('refuses names the alarm-events rule would take for model alarms', () => {
    expect(build({ alarmNamePrefix: 'mlops-ops' })).toThrow(
      'alarmNamePrefix "mlops-ops" starts with "mlops-": the alarm-events rule would take the operational alarms for model alarms; choose a stack name or alarmNamePrefix outside "mlops-"',
    );
    expect(() => new ServerlessMlopsStack(fastApp(), 'mlops-prod')).toThrow(
      /^alarmNamePrefix "mlops-prod-ops" starts with "mlops-"/,
    );
  });

  it('refuses bad names, duplicates and periods outside 1-5 minutes', () => {
    expect(build({ deadLetterQueues: [], functions: [], queueAges: [] })).not.toThrow();
    const stack = constructTestStack();
    const queue = new sqs.Queue(stack, 'Other');
    expect(build({ deadLetterQueues: [{ name: 'Ingest', queue }] }, stack)).toThrow(
      '"Ingest" is not a valid alarm name part (lowercase letters, digits, single hyphens)',
    );
    const stack2 = constructTestStack();
    const q2 = new sqs.Queue(stack2, 'Other');
    expect(
      build(
        {
          deadLetterQueues: [
            { name: 'a', queue: q2 },
            { name: 'a', queue: q2 },
          ],
        },
        stack2,
      ),
    ).toThrow('two dlq alarms named "a"');
    expect(build({ period: Duration.seconds(90) })).toThrow(
      'period must be 1 to 5 whole minutes, got 90 seconds',
    );
    expect(build({ period: Duration.minutes(10) })).toThrow(
      'period must be 1 to 5 whole minutes, got 600 seconds',
    );
  });

  it('derives a retry window only from a queue with a visibility timeout and a redrive policy', () => {
    const stack = new Stack(fastApp(), 'Q');
    const dlq = new sqs.Queue(stack, 'Dlq');
    const source = new sqs.Queue(stack, 'Source', {
      visibilityTimeout: Duration.minutes(2),
      deadLetterQueue: { queue: dlq, maxReceiveCount: 3 },
    });
    expect(retryWindow(source).toSeconds()).toBe(360);
    expect(() => retryWindow(dlq)).toThrow(/needs a visibility timeout and a dead-letter queue/);
  });
});
