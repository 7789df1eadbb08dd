/**
 * Reconciler: the schedule, the function, its dead-letter queue, and least privilege (re-delivery
 * to exactly the ingest queue and the two lifecycle functions, no training job or alarm creation,
 * one S3 object writable; model and endpoint config creation, and PassRole of the SageMaker role to
 * SageMaker only, for the approved version rolled out after a refused re-applied rollout).
 */
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import { Match, type Template } from 'aws-cdk-lib/assertions';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DataBucket } from '../../../lib/constructs/data-bucket';
import { Reconciler } from '../../../lib/constructs/reconciler';
import {
  actionsOf,
  cleanupOutdirs,
  constructTestStack,
  grants,
  resourcesGranted,
  roleStatements,
  synthMlopsStack,
  type CfnResourceJson,
} from '../helpers';
import { anything, objectContaining, stringMatching } from '../../support/matchers';

afterAll(cleanupOutdirs);

const fnArn = (prefix: string) => ({ 'Fn::GetAtt': [Match.stringLikeRegexp(`^${prefix}`), 'Arn'] });

describe('Reconciler in the stack', () => {
  let template: Template;
  beforeAll(() => {
    template = synthMlopsStack().template;
  });

  it('runs every 15 minutes through a rule whose target retries and dead-letters', () => {
    template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'rate(15 minutes)',
      State: 'ENABLED',
      Targets: [
        {
          Id: Match.anyValue(),
          Arn: fnArn('ReconcilerHandlerFunction'),
          DeadLetterConfig: { Arn: fnArn('ReconcilerDeadLetterQueue') },
          RetryPolicy: { MaximumRetryAttempts: 4, MaximumEventAgeInSeconds: 900 },
        },
      ],
    });
  });

  it('is an MlopsFunction that knows where to re-deliver, not retried, failures to its DLQ', () => {
    const fns = Object.entries(
      template.findResources('AWS::Lambda::Function') as Record<string, CfnResourceJson>,
    )
      .filter(([id]) => id.startsWith('ReconcilerHandlerFunction'))
      .map(([, fn]) => fn);
    expect(fns).toHaveLength(1);
    expect(fns[0]?.Properties).toMatchObject({
      Runtime: 'nodejs24.x',
      Timeout: 300,
      TracingConfig: { Mode: 'Active' },
      Environment: {
        Variables: objectContaining({
          POWERTOOLS_SERVICE_NAME: 'reconciler',
          INGEST_QUEUE_URL: { Ref: stringMatching(/^IngestQueue/) },
          TRAINING_EVENTS_FUNCTION_ARN: {
            'Fn::GetAtt': [stringMatching(/^TrainingEventsHandlerFunction/), 'Arn'],
          },
          ENDPOINT_EVENTS_FUNCTION_ARN: {
            'Fn::GetAtt': [stringMatching(/^EndpointEventsHandlerFunction/), 'Arn'],
          },
          DATA_BUCKET: anything(),
          REGISTRY_TABLE: anything(),
        }),
      },
    });
    template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      FunctionName: { Ref: Match.stringLikeRegexp('^ReconcilerHandlerFunction') },
      MaximumRetryAttempts: 0,
      DestinationConfig: { OnFailure: { Destination: fnArn('ReconcilerDeadLetterQueue') } },
    });
    template.hasOutput('ReconcilerFunctionName', {});
  });

  it('re-delivers to exactly the ingest queue and the two lifecycle functions', () => {
    const s = roleStatements(template, 'ReconcilerHandlerRole');
    // sqs:SendMessage on the DLQ is the on-failure destination's; the re-delivery is the ingest queue.
    const sends = grants(s, 'sqs:SendMessage').flatMap((g) => g.resources);
    expect(sends.filter((r) => !r.startsWith('${ReconcilerDeadLetterQueue'))).toEqual([
      expect.stringMatching(/^\$\{IngestQueue[0-9A-F]+\.Arn\}$/),
    ]);
    expect(resourcesGranted(s, 'lambda:InvokeFunction')).toEqual([
      expect.stringMatching(/^\$\{EndpointEventsHandlerFunction.*\.Arn\}$/),
      expect.stringMatching(/^\$\{TrainingEventsHandlerFunction.*\.Arn\}$/),
    ]);
  });

  it('lists only datasets/ versions, and reads and writes nothing in the bucket but its cursor', () => {
    const s = roleStatements(template, 'ReconcilerHandlerRole');
    expect(grants(s, 's3:ListBucketVersions')).toEqual([
      {
        resources: ['${DataBucketE6B0FAA8.Arn}'],
        condition: { StringLike: { 's3:prefix': ['datasets/*'] } },
      },
    ]);
    expect(resourcesGranted(s, 's3:ListBucket')).toEqual(['${DataBucketE6B0FAA8.Arn}']);
    const cursor = '${DataBucketE6B0FAA8.Arn}/reports/_reconciler/datasets-cursor.json';
    expect(resourcesGranted(s, 's3:GetObject')).toEqual([cursor]);
    expect(resourcesGranted(s, 's3:PutObject')).toEqual([cursor]);
    expect(resourcesGranted(s, 's3:DeleteObject')).toEqual([]);
  });

  it('does not hold the permissions of the repairs it re-delivers', () => {
    const s = roleStatements(template, 'ReconcilerHandlerRole');
    const actions = new Set(s.flatMap((st) => actionsOf(st)));
    for (const absent of ['sagemaker:CreateTrainingJob', 'cloudwatch:PutMetricAlarm']) {
      expect(actions.has(absent), absent).toBe(false);
    }
    expect(resourcesGranted(s, 'sagemaker:DescribeTrainingJob')).toEqual([
      expect.stringMatching(/:training-job\/mlops-\*$/),
    ]);
    expect(resourcesGranted(s, 'sagemaker:UpdateEndpoint')).toEqual([
      expect.stringMatching(/:endpoint-config\/mlops-\*$/),
      expect.stringMatching(/:endpoint\/mlops-\*$/),
    ]);
  });

  it('can roll out the approved version waiting behind a refused re-applied rollout, and no more', () => {
    // DeployVersion.failed -> deployNextApproved: CreateModel (passing the execution role) and
    // CreateEndpointConfig, tagged (test/contracts/iam-contract.test.ts found them denied).
    const s = roleStatements(template, 'ReconcilerHandlerRole');
    expect(resourcesGranted(s, 'sagemaker:CreateModel')).toEqual([
      expect.stringMatching(/:model\/mlops-\*$/),
    ]);
    expect(resourcesGranted(s, 'sagemaker:CreateEndpointConfig')).toEqual([
      expect.stringMatching(/:endpoint-config\/mlops-\*$/),
    ]);
    expect(resourcesGranted(s, 'sagemaker:AddTags')).toEqual([
      expect.stringMatching(/:endpoint-config\/mlops-\*$/),
      expect.stringMatching(/:endpoint\/mlops-\*$/),
      expect.stringMatching(/:model\/mlops-\*$/),
    ]);
    expect(grants(s, 'iam:PassRole')).toEqual([
      {
        resources: [expect.stringMatching(/^\$\{SageMakerExecutionRole[0-9A-F]+\.Arn\}$/)],
        condition: { StringEquals: { 'iam:PassedToService': 'sagemaker.amazonaws.com' } },
      },
    ]);
  });
});

describe('Reconciler props', () => {
  const build = (props: { interval?: Duration; timeout?: Duration; scheduleEnabled?: boolean } = {}) => {
    const stack = constructTestStack();
    const data = new DataBucket(stack, 'Data', { removalPolicy: RemovalPolicy.DESTROY });
    const table = new dynamodb.TableV2(stack, 'Table', {
      partitionKey: { name: 'PK', type: dynamodb.AttributeType.STRING },
    });
    const fn = (id: string) =>
      new lambda.Function(stack, id, {
        runtime: lambda.Runtime.NODEJS_22_X,
        handler: 'index.handler',
        code: lambda.Code.fromInline('export const handler = async () => {};'),
      });
    return new Reconciler(stack, 'Reconciler', {
      data,
      sageMakerRole: new iam.Role(stack, 'SageMakerRole', {
        assumedBy: new iam.ServicePrincipal('sagemaker.amazonaws.com'),
      }),
      table,
      topic: new sns.Topic(stack, 'Topic'),
      resourcePrefix: 'mlops',
      environment: {},
      ingestQueue: new sqs.Queue(stack, 'Queue'),
      trainingEventsFunction: fn('Training'),
      endpointEventsFunction: fn('Endpoint'),
      ...props,
    });
  };

  it('takes another interval and can leave the schedule disabled', () => {
    expect(build({ interval: Duration.minutes(5), scheduleEnabled: false }).rule).toBeDefined();
  });

  it('rejects an interval that is not 1 to 45 whole minutes, and a bad timeout', () => {
    expect(() => build({ interval: Duration.seconds(90) })).toThrow(
      'interval must be a whole number of minutes between 1 and 45, got 90 seconds',
    );
    expect(() => build({ interval: Duration.hours(1) })).toThrow(
      'interval must be a whole number of minutes between 1 and 45, got 3600 seconds',
    );
    expect(() => build({ timeout: Duration.seconds(10) })).toThrow(
      'timeout must be between 30 seconds and 15 minutes, got 10 seconds',
    );
  });
});
