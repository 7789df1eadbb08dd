/**
 * Contract: AWS's own documented sample events (test/fixtures/events/aws-samples, sources in its
 * README) reach our handlers and pass them.
 *
 * For each sample, adapted only where it must name our resources:
 * (a) it passes the schema its handler parses it with (lambdas/shared/events.ts, and the monitor's
 *     scheduledEvent in lambdas/monitor/handler.ts);
 * (b) it matches the pattern of the rule the synthesized stack deploys for that handler, and no
 *     other rule of the stack (the patterns come from the template, with the data bucket's Ref
 *     resolved to a concrete name).
 * Variations that must NOT reach a handler (another bucket, a key outside datasets/, names
 * without our prefix) are checked against the same synthesized patterns.
 *
 * What is adapted, and why (nothing else is touched):
 * - S3: the bucket (name and ARN in `resources`) becomes our data bucket and the key moves under
 *   `datasets/churn/`: the rule only takes dataset drops in our bucket;
 * - training job: `TrainingJobName` (and its ARN) becomes a job name the stack generates
 *   (`mlops-churn-v1-<hash>`, core/domain/naming.ts);
 * - endpoint: `EndpointName` (and ARN) becomes `mlops-churn`, the config a version's config name;
 * - alarms: `alarmName` (and ARN) becomes one of the model's alarm names;
 * - scheduled event: nothing (a schedule rule has no pattern; EventBridge sends the event to the
 *   rule's targets, so the check is that the schedule rules target the monitor and the reconciler,
 *   and that both handlers' schemas take the sample).
 */
import { Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { ResourceNames } from '../../core/domain/naming';
import { scheduledEvent } from '../../lambdas/monitor/handler';
import { reconcileScheduledEvent } from '../../lambdas/reconciler/handler';
import {
  alarmStateChangeEvent,
  endpointStateChangeEvent,
  parseEvent,
  s3ObjectCreatedEvent,
  trainingJobStateChangeEvent,
} from '../../lambdas/shared/events';
import { ServerlessMlopsStack } from '../../lib/serverless-mlops-stack';
import s3Sample from '../fixtures/events/aws-samples/s3-object-created.json';
import trainingSample from '../fixtures/events/aws-samples/sagemaker-training-job-state-change.json';
import endpointSample from '../fixtures/events/aws-samples/sagemaker-endpoint-state-change.json';
import alarmSample from '../fixtures/events/aws-samples/cloudwatch-alarm-state-change-single-metric.json';
import anomalyAlarmSample from '../fixtures/events/aws-samples/cloudwatch-alarm-state-change-anomaly-detection.json';
import scheduleSample from '../fixtures/events/aws-samples/eventbridge-scheduled-event.json';
import { cleanupOutdirs, fastApp } from '../lib/helpers';
import { matchesPattern, synthesizedRules, type SynthesizedRule } from './support/event-pattern';
import { afterAll } from 'vitest';

afterAll(cleanupOutdirs);

/** The concrete data bucket name the template's `{ Ref: DataBucket... }` stands for here. */
const BUCKET = 'mlops-data-123456789012';
const names = new ResourceNames('mlops');
const JOB = names.trainingJob('churn', 1, 'customers');
const ENDPOINT = names.endpoint('churn');
const ALARMS = names.alarms('churn');

/** A deep copy of a sample, for adapting without touching the imported fixture. */
function copy<T>(sample: T): T {
  return structuredClone(sample);
}

function s3Event(bucket: string, key: string) {
  const event = copy(s3Sample);
  event.resources = [`arn:aws:s3:::${bucket}`];
  event.detail.bucket.name = bucket;
  event.detail.object.key = key;
  return event;
}

function trainingEvent(jobName: string) {
  const event = copy(trainingSample);
  const arn = `arn:aws:sagemaker:us-east-1:123456789012:training-job/${jobName}`;
  event.resources = [arn];
  event.detail.TrainingJobName = jobName;
  event.detail.TrainingJobArn = arn;
  return event;
}

function endpointEvent(endpointName: string) {
  const event = copy(endpointSample);
  const arn = `arn:aws:sagemaker:us-west-2:123456789012:endpoint/${endpointName}`;
  event.resources = [arn];
  event.detail.EndpointName = endpointName;
  event.detail.EndpointArn = arn;
  event.detail.EndpointConfigName = JOB;
  return event;
}

function alarmEvent(sample: typeof alarmSample | typeof anomalyAlarmSample, alarmName: string) {
  const event = copy(sample);
  event.resources = [`arn:aws:cloudwatch:us-east-1:123456789012:alarm:${alarmName}`];
  event.detail.alarmName = alarmName;
  return event;
}

describe('AWS sample events against the handlers and the synthesized rules', () => {
  let rules: SynthesizedRule[];
  let functionsByService: Record<string, string>;

  beforeAll(() => {
    const stack = new ServerlessMlopsStack(fastApp(), 'ServerlessMlops');
    const json = Template.fromStack(stack).toJSON() as {
      Resources: Record<string, { Type: string; Properties?: Record<string, unknown> }>;
    };
    const buckets = Object.entries(json.Resources).filter(
      ([id, r]) => r.Type === 'AWS::S3::Bucket' && id.startsWith('DataBucket'),
    );
    expect(buckets).toHaveLength(1);
    rules = synthesizedRules(json, { [buckets[0]![0]]: BUCKET });
    functionsByService = {};
    for (const [id, r] of Object.entries(json.Resources)) {
      if (r.Type !== 'AWS::Lambda::Function') continue;
      const variables = (r.Properties?.Environment as { Variables: Record<string, string> }).Variables;
      functionsByService[variables.POWERTOOLS_SERVICE_NAME as string] = id;
    }
  });

  /** The rules whose pattern matches `event`, by the service of the function they target. */
  function matchingServices(event: unknown): string[] {
    const services: string[] = [];
    for (const rule of rules) {
      if (rule.pattern === undefined || !matchesPattern(rule.pattern, event)) continue;
      for (const arn of rule.targetArns) services.push(serviceOfTarget(arn));
    }
    return services.sort();
  }

  /** `ingest` for the ingest queue, else the service of the targeted function. */
  function serviceOfTarget(arn: unknown): string {
    const [logicalId] = (arn as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'];
    if (logicalId.startsWith('IngestQueue')) return 'ingest';
    const service = Object.entries(functionsByService).find(([, id]) => id === logicalId)?.[0];
    if (service === undefined) throw new Error(`rule target ${logicalId} is not a handler`);
    return service;
  }

  describe('S3 "Object Created" (S3 User Guide, "EventBridge event message structure")', () => {
    const event = s3Event(BUCKET, 'datasets/churn/customers.csv');

    it('passes the ingest schema', () => {
      const parsed = parseEvent(s3ObjectCreatedEvent, event, 'S3 Object Created');
      expect(parsed.detail).toMatchObject({
        bucket: { name: BUCKET },
        object: { key: 'datasets/churn/customers.csv', size: 5 },
      });
    });

    it('matches the dataset rule (to the ingest queue) and no other rule', () => {
      expect(matchingServices(event)).toEqual(['ingest']);
    });

    it('does not match for another bucket, or a key outside datasets/', () => {
      expect(matchingServices(s3Event('someone-elses-bucket', 'datasets/churn/customers.csv'))).toEqual([]);
      expect(matchingServices(s3Event(BUCKET, 'models/churn/config.json'))).toEqual([]);
      expect(matchingServices(s3Event(BUCKET, 'example-key'))).toEqual([]);
    });

    it('as published (another bucket, key example-key) reaches nothing', () => {
      expect(matchingServices(s3Sample)).toEqual([]);
    });
  });

  describe('"SageMaker Training Job State Change" (SageMaker Developer Guide)', () => {
    const event = trainingEvent(JOB);

    it('passes the training-events schema', () => {
      const parsed = parseEvent(trainingJobStateChangeEvent, event, 'SageMaker Training Job State Change');
      expect(parsed.detail).toMatchObject({ TrainingJobName: JOB, TrainingJobStatus: 'Completed' });
    });

    it('matches the training-events rule and no other rule', () => {
      expect(matchingServices(event)).toEqual(['training-events']);
    });

    it('does not match a job without the prefix (the sample as published names a UUID)', () => {
      expect(matchingServices(trainingSample)).toEqual([]);
      expect(matchingServices(trainingEvent('churn-v1-a1b2'))).toEqual([]);
      expect(matchingServices(trainingEvent('mlopsx-churn-v1-a1b2'))).toEqual([]);
    });
  });

  describe('"SageMaker Endpoint State Change" (SageMaker Developer Guide)', () => {
    const event = endpointEvent(ENDPOINT);

    it('passes the endpoint-events schema, with its epoch-millisecond `time`', () => {
      const parsed = parseEvent(endpointStateChangeEvent, event, 'SageMaker Endpoint State Change');
      expect(parsed.detail).toMatchObject({ EndpointName: ENDPOINT, EndpointStatus: 'IN_SERVICE' });
      expect(parsed.time).toBe('1583831889050');
    });

    it('matches the endpoint-events rule and no other rule', () => {
      expect(matchingServices(event)).toEqual(['endpoint-events']);
    });

    it('does not match an endpoint without the prefix (the sample as published: MyEndpoint)', () => {
      expect(matchingServices(endpointSample)).toEqual([]);
    });
  });

  describe('"CloudWatch Alarm State Change" (CloudWatch User Guide, "Alarm events and EventBridge")', () => {
    const cases = [
      ['single-metric', alarmSample, ALARMS.errorRate],
      ['anomaly detection', anomalyAlarmSample, ALARMS.latency],
    ] as const;

    it.each(cases)('%s: passes the alarm-events schema', (_kind, sample, alarmName) => {
      const parsed = parseEvent(
        alarmStateChangeEvent,
        alarmEvent(sample, alarmName),
        'CloudWatch Alarm State Change',
      );
      expect(parsed.detail).toMatchObject({
        alarmName,
        state: { value: 'ALARM' },
        previousState: { value: 'OK' },
      });
    });

    it.each(cases)('%s: matches the alarm-events rule and no other rule', (_kind, sample, alarmName) => {
      expect(matchingServices(alarmEvent(sample, alarmName))).toEqual(['alarm-events']);
    });

    it.each(cases)('%s: as published (not our alarm) reaches nothing', (_kind, sample) => {
      expect(matchingServices(sample)).toEqual([]);
    });
  });

  describe('EventBridge "Scheduled Event" (Lambda Developer Guide)', () => {
    it("passes the monitor's scheduled-event schema, verbatim", () => {
      const parsed = parseEvent(scheduledEvent, scheduleSample, 'EventBridge Scheduled Event');
      expect(parsed.time).toBe('2019-03-01T01:23:45Z');
    });

    it("passes the reconciler's scheduled-event schema, verbatim", () => {
      expect(() =>
        parseEvent(reconcileScheduledEvent, scheduleSample, 'EventBridge Scheduled Event'),
      ).not.toThrow();
    });

    it('is what the schedule rules send: hourly to the monitor, every 15 minutes to the reconciler; it matches no pattern rule', () => {
      const schedules = rules
        .filter((r) => r.scheduleExpression !== undefined)
        .map((r) => [r.scheduleExpression, r.targetArns.map(serviceOfTarget)]);
      expect(schedules.sort()).toEqual([
        ['rate(1 hour)', ['monitor']],
        ['rate(15 minutes)', ['reconciler']],
      ]);
      expect(matchingServices(scheduleSample)).toEqual([]);
    });
  });
});
