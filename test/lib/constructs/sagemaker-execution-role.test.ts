import { Match, Template } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DataBucket } from '../../../lib/constructs/data-bucket';
import { SageMakerExecutionRole } from '../../../lib/constructs/sagemaker-execution-role';
import {
  cleanupOutdirs,
  constructTestStack,
  grants,
  resourcesGranted,
  roleStatements,
  type StatementJson,
} from '../helpers';

afterAll(cleanupOutdirs);

function build(extraImageRepositoryArns?: string[]): Template {
  const stack = constructTestStack();
  const data = new DataBucket(stack, 'Data');
  new SageMakerExecutionRole(stack, 'SageMaker', {
    data,
    resourcePrefix: 'mlops',
    ...(extraImageRepositoryArns ? { extraImageRepositoryArns } : {}),
  });
  return Template.fromStack(stack);
}

describe('SageMakerExecutionRole', () => {
  let template: Template;
  let s: StatementJson[];
  beforeAll(() => {
    template = build();
    s = roleStatements(template, 'SageMakerRole');
  });

  it('trusts only SageMaker acting for this account', () => {
    template.hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: {
        Statement: [
          {
            Action: 'sts:AssumeRole',
            Effect: 'Allow',
            Principal: { Service: 'sagemaker.amazonaws.com' },
            Condition: { StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } },
          },
        ],
      },
      ManagedPolicyArns: Match.absent(),
    });
  });

  it('reads prepared/ and script sources, writes and reads artifacts/, writes capture/, lists two prefixes only', () => {
    const bucket = (
      s.find((st) => st.Sid === 'ListPreparedAndArtifacts')?.Resource as { 'Fn::GetAtt': string[] }
    )['Fn::GetAtt'][0];
    const objects = (prefix: string) => `\${${bucket}.Arn}/${prefix}*`;
    expect(resourcesGranted(s, 's3:GetObject')).toEqual([
      objects('artifacts/'),
      objects('models/*/code/'),
      objects('prepared/'),
    ]);
    expect(resourcesGranted(s, 's3:PutObject')).toEqual([objects('artifacts/'), objects('capture/')]);
    expect(grants(s, 's3:ListBucket')).toEqual([
      {
        resources: [`\${${bucket}.Arn}`],
        condition: { StringLike: { 's3:prefix': ['prepared/*', 'artifacts/*'] } },
      },
    ]);
    expect(resourcesGranted(s, 's3:DeleteObject')).toEqual([]);
  });

  it('pulls only the XGBoost repositories (and configured ones), logs and metrics under SageMaker', () => {
    expect(resourcesGranted(s, 'ecr:BatchGetImage')).toEqual([
      'arn:${AWS::Partition}:ecr:${AWS::Region}:*:repository/sagemaker-xgboost',
    ]);
    expect(resourcesGranted(s, 'ecr:GetAuthorizationToken')).toEqual(['*']);
    expect(resourcesGranted(s, 'logs:PutLogEvents')).toEqual([
      'arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:/aws/sagemaker/*',
    ]);
    expect(grants(s, 'cloudwatch:PutMetricData')).toEqual([
      {
        resources: ['*'],
        condition: {
          StringEquals: {
            'cloudwatch:namespace': ['/aws/sagemaker/TrainingJobs', '/aws/sagemaker/Endpoints'],
          },
        },
      },
    ]);
    expect(resourcesGranted(s, 'cloudwatch:DescribeAlarms')).toEqual([
      'arn:${AWS::Partition}:cloudwatch:${AWS::Region}:${AWS::AccountId}:alarm:mlops-*',
    ]);
    const actions = new Set(s.flatMap((st) => (Array.isArray(st.Action) ? st.Action : [st.Action])));
    expect([...actions].sort()).toEqual([
      'cloudwatch:DescribeAlarms',
      'cloudwatch:PutMetricData',
      'ecr:BatchCheckLayerAvailability',
      'ecr:BatchGetImage',
      'ecr:GetAuthorizationToken',
      'ecr:GetDownloadUrlForLayer',
      'logs:CreateLogGroup',
      'logs:CreateLogStream',
      'logs:DescribeLogStreams',
      'logs:PutLogEvents',
      's3:GetObject',
      's3:ListBucket',
      's3:PutObject',
    ]);
  });

  it('adds configured image repositories and rejects anything that is not an ECR repository ARN', () => {
    const repo = 'arn:aws:ecr:eu-west-1:123456789012:repository/team/churn-trainer';
    expect(resourcesGranted(roleStatements(build([repo]), 'SageMakerRole'), 'ecr:BatchGetImage')).toContain(
      repo,
    );
    expect(() => build(['123456789012.dkr.ecr.eu-west-1.amazonaws.com/churn'])).toThrow(
      'extraImageRepositoryArns: "123456789012.dkr.ecr.eu-west-1.amazonaws.com/churn" is not an ECR repository ARN (arn:aws:ecr:<region>:<12-digit account>:repository/<name>)',
    );
  });
});
