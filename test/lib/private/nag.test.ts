import { Stack } from 'aws-cdk-lib';
import { afterAll, describe, expect, it } from 'vitest';
import { acknowledge, flattenForNag } from '../../../lib/private/nag';
import { cleanupOutdirs, constructTestStack } from '../helpers';

afterAll(cleanupOutdirs);

describe('flattenForNag', () => {
  it('flattens like cdk-nag: Refs and GetAtts in angle brackets, joins joined', () => {
    expect(flattenForNag('arn:aws:s3:::b/*')).toBe('arn:aws:s3:::b/*');
    expect(
      flattenForNag({
        'Fn::Join': [
          '',
          ['arn:', { Ref: 'AWS::Partition' }, ':x:', { 'Fn::GetAtt': ['Bucket', 'Arn'] }, '/*'],
        ],
      }),
    ).toBe('arn:<AWS::Partition>:x:<Bucket.Arn>/*');
    expect(flattenForNag({ 'Fn::Sub': 'arn:${AWS::Partition}:y' })).toBe('arn:<AWS::Partition>:y');
  });

  it('matches a formatted ARN with tokens', () => {
    const stack = constructTestStack();
    const arn = Stack.of(stack).formatArn({
      service: 'sagemaker',
      resource: 'endpoint',
      resourceName: 'mlops-*',
    });
    expect(flattenForNag(stack.resolve(arn))).toBe(
      'arn:<AWS::Partition>:sagemaker:<AWS::Region>:<AWS::AccountId>:endpoint/mlops-*',
    );
  });
});

describe('acknowledge', () => {
  it('refuses a reason that explains nothing', () => {
    const stack = constructTestStack();
    expect(() => acknowledge(stack, 'AwsSolutions-S1', 'ok')).toThrow(
      'the acknowledgement of AwsSolutions-S1 at TestStack needs a real reason (at least 40 characters)',
    );
  });
});
