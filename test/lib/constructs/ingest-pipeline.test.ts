import { Match, type Template } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  cleanupOutdirs,
  grants,
  policyDocumentStatements,
  resourcesGranted,
  resourcesOfType,
  roleStatements,
  synthMlopsStack,
  type StatementJson,
} from '../helpers';

afterAll(cleanupOutdirs);

const bucketArn = '${DataBucketE6B0FAA8.Arn}';
const trainingJobs = 'arn:${AWS::Partition}:sagemaker:${AWS::Region}:${AWS::AccountId}:training-job/mlops-*';

describe('IngestPipeline', () => {
  let template: Template;
  let statements: StatementJson[];
  beforeAll(() => {
    template = synthMlopsStack().template;
    statements = roleStatements(template, 'IngestHandlerRole');
  });

  it('matches only objects created under datasets/ in the data bucket', () => {
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        source: ['aws.s3'],
        'detail-type': ['Object Created'],
        detail: {
          bucket: { name: [{ Ref: Match.stringLikeRegexp('^DataBucket') }] },
          object: { key: [{ prefix: 'datasets/' }] },
        },
      },
      State: 'ENABLED',
      Targets: [
        Match.objectLike({
          Arn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^IngestQueue'), 'Arn'] },
          DeadLetterConfig: {
            Arn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^IngestDeadLetterQueue'), 'Arn'] },
          },
          RetryPolicy: { MaximumRetryAttempts: 8, MaximumEventAgeInSeconds: 21600 },
        }),
      ],
    });
  });

  it('buffers in an encrypted queue with a 6x visibility timeout and a 5-receive DLQ', () => {
    template.hasResourceProperties('AWS::SQS::Queue', {
      SqsManagedSseEnabled: true,
      VisibilityTimeout: 1800,
      RedrivePolicy: {
        deadLetterTargetArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^IngestDeadLetterQueue'), 'Arn'] },
        maxReceiveCount: 5,
      },
    });
    template.hasResourceProperties('AWS::SQS::Queue', {
      SqsManagedSseEnabled: true,
      MessageRetentionPeriod: 1209600,
      RedrivePolicy: Match.absent(),
    });
    // enforceSSL on every queue of the stack (one policy per queue; the count follows the stack).
    const policies = Object.values(resourcesOfType(template, 'AWS::SQS::QueuePolicy'));
    expect(policies).toHaveLength(Object.keys(template.findResources('AWS::SQS::Queue')).length);
    for (const policy of policies) {
      expect(policyDocumentStatements(policy)).toContainEqual(
        expect.objectContaining({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
      );
    }
  });

  it('drains the queue with partial batch failures and a concurrency cap', () => {
    template.resourceCountIs('AWS::Lambda::EventSourceMapping', 1);
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^IngestQueue'), 'Arn'] },
      FunctionName: { Ref: Match.stringLikeRegexp('^IngestHandlerFunction') },
      BatchSize: 1,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      ScalingConfig: { MaximumConcurrency: 5 },
    });
  });

  it('runs the ingest function for up to 5 minutes with 1 GB', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ POWERTOOLS_SERVICE_NAME: 'ingest' }) },
      Timeout: 300,
      MemorySize: 1024,
    });
  });

  it('reads datasets/ and models/, writes prepared/, reads and writes the data-quality reports, lists the bucket', () => {
    // The data-quality gate reads the baseline's reports and writes the dataset's, under
    // reports/<model>/<dataset>/ (core/use-cases/data-quality-gate.ts); only those file names.
    const reports = (file: string) => `${bucketArn}/reports/*/*/${file}`;
    expect(resourcesGranted(statements, 's3:GetObject')).toEqual([
      `${bucketArn}/datasets/*`,
      `${bucketArn}/models/*`,
      reports('constraints.json'),
      reports('statistics.json'),
    ]);
    expect(resourcesGranted(statements, 's3:GetObjectVersion')).toEqual([
      `${bucketArn}/datasets/*`,
      `${bucketArn}/models/*`,
    ]);
    expect(resourcesGranted(statements, 's3:PutObject')).toEqual([
      `${bucketArn}/prepared/*`,
      reports('constraint_violations.json'),
      reports('constraints.json'),
      reports('statistics.json'),
    ]);
    expect(resourcesGranted(statements, 's3:AbortMultipartUpload')).toEqual([`${bucketArn}/prepared/*`]);
    expect(resourcesGranted(statements, 's3:ListBucket')).toEqual([bucketArn]);
    expect(resourcesGranted(statements, 's3:DeleteObject')).toEqual([]);
    // Never the monitor's window summaries.
    expect(JSON.stringify(statements)).not.toContain('drift.json');
  });

  it('starts, describes and tags only <prefix>- training jobs and passes only the SageMaker role', () => {
    for (const action of [
      'sagemaker:CreateTrainingJob',
      'sagemaker:DescribeTrainingJob',
      'sagemaker:AddTags',
    ]) {
      expect(resourcesGranted(statements, action)).toEqual([trainingJobs]);
    }
    expect(grants(statements, 'iam:PassRole')).toEqual([
      {
        resources: ['${SageMakerExecutionRoleE9F94E59.Arn}'],
        condition: { StringEquals: { 'iam:PassedToService': 'sagemaker.amazonaws.com' } },
      },
    ]);
  });

  it('reads and writes registry items, queries the status index, publishes notifications', () => {
    expect(resourcesGranted(statements, 'dynamodb:UpdateItem')).toEqual(['${RegistryTableDB777839.Arn}']);
    expect(resourcesGranted(statements, 'dynamodb:Query')).toEqual([
      '${RegistryTableDB777839.Arn}',
      '${RegistryTableDB777839.Arn}/index/byStatus',
    ]);
    expect(resourcesGranted(statements, 'dynamodb:Scan')).toEqual([]);
    expect(resourcesGranted(statements, 'sns:Publish')).toEqual(['${NotificationsTopicAE679CBD}']);
    expect(resourcesGranted(statements, 'kms:GenerateDataKey*')).toEqual(['${NotificationsKeyADCFA950.Arn}']);
  });
});
