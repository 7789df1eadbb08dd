import { Match, type Template } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  cleanupOutdirs,
  grants,
  resourcesGranted,
  roleStatements,
  synthMlopsStack,
  type CfnResourceJson,
} from '../helpers';

afterAll(cleanupOutdirs);

const arn = (service: string, resource: string) =>
  `arn:\${AWS::Partition}:${service}:\${AWS::Region}:\${AWS::AccountId}:${resource}`;
const trainingJobs = arn('sagemaker', 'training-job/mlops-*');
const models = arn('sagemaker', 'model/mlops-*');
const endpointConfigs = arn('sagemaker', 'endpoint-config/mlops-*');
const endpoints = arn('sagemaker', 'endpoint/mlops-*');
const alarms = arn('cloudwatch', 'alarm:mlops-*');

describe('lifecycle event rules', () => {
  let template: Template;
  beforeAll(() => {
    template = synthMlopsStack().template;
  });

  it.each([
    [
      'TrainingEvents',
      {
        source: ['aws.sagemaker'],
        'detail-type': ['SageMaker Training Job State Change'],
        detail: { TrainingJobName: [{ prefix: 'mlops-' }] },
      },
    ],
    [
      'EndpointEvents',
      {
        source: ['aws.sagemaker'],
        'detail-type': ['SageMaker Endpoint State Change'],
        detail: { EndpointName: [{ prefix: 'mlops-' }] },
      },
    ],
    [
      'AlarmEvents',
      {
        source: ['aws.cloudwatch'],
        'detail-type': ['CloudWatch Alarm State Change'],
        detail: { alarmName: [{ prefix: 'mlops-' }] },
      },
    ],
  ])('%s: exact pattern, retry policy and DLQ on the target', (name, pattern) => {
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: pattern,
      Targets: [
        {
          Id: Match.anyValue(),
          Arn: { 'Fn::GetAtt': [Match.stringLikeRegexp(`^${name}HandlerFunction`), 'Arn'] },
          DeadLetterConfig: {
            Arn: { 'Fn::GetAtt': [Match.stringLikeRegexp(`^${name}DeadLetterQueue`), 'Arn'] },
          },
          RetryPolicy: { MaximumRetryAttempts: 8, MaximumEventAgeInSeconds: 21600 },
        },
      ],
    });
  });

  it.each(['TrainingEvents', 'EndpointEvents', 'AlarmEvents'])(
    '%s: two async retries, then the on-failure destination is the DLQ',
    (name) => {
      template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
        FunctionName: { Ref: Match.stringLikeRegexp(`^${name}HandlerFunction`) },
        MaximumRetryAttempts: 2,
        DestinationConfig: {
          OnFailure: {
            Destination: { 'Fn::GetAtt': [Match.stringLikeRegexp(`^${name}DeadLetterQueue`), 'Arn'] },
          },
        },
      });
    },
  );

  it("encrypts each DLQ of the stack's six handlers and keeps messages 14 days", () => {
    const dlqs = Object.entries(
      template.findResources('AWS::SQS::Queue') as Record<string, CfnResourceJson>,
    ).filter(([id]) => id.includes('DeadLetterQueue'));
    expect(dlqs).toHaveLength(6);
    for (const [, queue] of dlqs)
      expect(queue.Properties).toMatchObject({ SqsManagedSseEnabled: true, MessageRetentionPeriod: 1209600 });
  });
});

describe('lifecycle handler permissions', () => {
  let template: Template;
  beforeAll(() => {
    template = synthMlopsStack().template;
  });

  it('training-events: describes jobs and deploys only <prefix>- resources', () => {
    const s = roleStatements(template, 'TrainingEventsHandlerRole');
    expect(resourcesGranted(s, 'sagemaker:DescribeTrainingJob')).toEqual([trainingJobs]);
    expect(resourcesGranted(s, 'sagemaker:CreateTrainingJob')).toEqual([]);
    expect(resourcesGranted(s, 'sagemaker:CreateModel')).toEqual([models]);
    expect(resourcesGranted(s, 'sagemaker:CreateEndpointConfig')).toEqual([endpointConfigs]);
    // CreateEndpoint/UpdateEndpoint authorise on the endpoint and the endpoint config.
    expect(resourcesGranted(s, 'sagemaker:CreateEndpoint')).toEqual([endpointConfigs, endpoints]);
    expect(resourcesGranted(s, 'sagemaker:UpdateEndpoint')).toEqual([endpointConfigs, endpoints]);
    expect(resourcesGranted(s, 'sagemaker:DescribeEndpoint')).toEqual([endpoints]);
    expect(resourcesGranted(s, 'sagemaker:DeleteEndpoint')).toEqual([endpoints]);
    expect(resourcesGranted(s, 'sagemaker:AddTags')).toEqual([endpointConfigs, endpoints, models]);
    expect(resourcesGranted(s, 'cloudwatch:DescribeAlarms')).toEqual([alarms]);
    expect(grants(s, 'iam:PassRole')).toEqual([
      {
        resources: ['${SageMakerExecutionRoleE9F94E59.Arn}'],
        condition: { StringEquals: { 'iam:PassedToService': 'sagemaker.amazonaws.com' } },
      },
    ]);
    expect(resourcesGranted(s, 'sns:Publish')).toEqual(['${NotificationsTopicAE679CBD}']);
    expect(resourcesGranted(s, 'dynamodb:PutItem')).toEqual(['${RegistryTableDB777839.Arn}']);
  });

  it('endpoint-events: describes endpoints, manages <prefix>- alarms, and can deploy the next version', () => {
    const s = roleStatements(template, 'EndpointEventsHandlerRole');
    expect(resourcesGranted(s, 'sagemaker:DescribeEndpoint')).toEqual([endpoints]);
    expect(resourcesGranted(s, 'cloudwatch:PutMetricAlarm')).toEqual([alarms]);
    expect(resourcesGranted(s, 'cloudwatch:TagResource')).toEqual([alarms]);
    expect(resourcesGranted(s, 'sagemaker:UpdateEndpoint')).toEqual([endpointConfigs, endpoints]);
    expect(resourcesGranted(s, 'sagemaker:DescribeTrainingJob')).toEqual([]);
    expect(resourcesGranted(s, 'sns:Publish')).toEqual(['${NotificationsTopicAE679CBD}']);
  });

  it('alarm-events: reads <prefix>- alarms and drift reports, and rolls back and retrains as the alarm policies say', () => {
    const s = roleStatements(template, 'AlarmEventsHandlerRole');
    expect(resourcesGranted(s, 'cloudwatch:DescribeAlarms')).toEqual([alarms]);
    expect(resourcesGranted(s, 'cloudwatch:PutMetricAlarm')).toEqual([]);
    // `rollback`: DeployVersion, as the deploying handlers.
    expect(resourcesGranted(s, 'sagemaker:CreateModel')).toEqual([models]);
    expect(resourcesGranted(s, 'sagemaker:UpdateEndpoint')).toEqual([endpointConfigs, endpoints]);
    // `retrain`: the model config and a new training job, nothing of the datasets.
    expect(resourcesGranted(s, 'sagemaker:CreateTrainingJob')).toEqual([trainingJobs]);
    expect(resourcesGranted(s, 'sagemaker:DescribeTrainingJob')).toEqual([]);
    expect(grants(s, 'iam:PassRole')).toEqual([
      {
        resources: ['${SageMakerExecutionRoleE9F94E59.Arn}'],
        condition: { StringEquals: { 'iam:PassedToService': 'sagemaker.amazonaws.com' } },
      },
    ]);
    // An incident's evidence: the drift monitor's reports only.
    expect(resourcesGranted(s, 's3:GetObject')).toEqual([
      '${DataBucketE6B0FAA8.Arn}/models/*',
      '${DataBucketE6B0FAA8.Arn}/reports/*/monitoring/*',
    ]);
    expect(resourcesGranted(s, 's3:PutObject')).toEqual([]);
    const services = new Set(
      s.flatMap((st) => (Array.isArray(st.Action) ? st.Action : [st.Action])).map((a) => a.split(':')[0]),
    );
    expect([...services].sort()).toEqual([
      'cloudwatch',
      'dynamodb',
      'iam',
      'kms',
      'logs',
      's3',
      'sagemaker',
      'sns',
      'sqs',
      'xray',
    ]);
  });
});
