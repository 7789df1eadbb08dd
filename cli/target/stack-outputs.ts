/**
 * A deployed stack's outputs (CloudFormation DescribeStacks), by output key: how `--stack` finds
 * the bucket, table, functions and queues. Where this stands: CLI target for AWS.
 */
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { CliError, EXIT } from '../command';
import { explainAwsError } from './aws-errors';

/** The outputs of one stack, by their `OutputKey`. */
export type StackOutputs = Readonly<Record<string, string>>;

/** Reads the outputs of `stack`; a stack that does not exist is exit code 3 with what to check. */
export async function readStackOutputs(
  cloudFormation: CloudFormationClient,
  stack: string,
  region: string,
): Promise<StackOutputs> {
  let answer;
  try {
    answer = await cloudFormation.send(new DescribeStacksCommand({ StackName: stack }));
  } catch (error) {
    // CloudFormation answers a missing stack with ValidationError "Stack with id X does not exist".
    if ((error as Error).name === 'ValidationError' && /does not exist/.test((error as Error).message)) {
      throw new CliError(
        `no stack ${stack} in ${region}: check --stack (the name given to \`cdk deploy\`) and --region (or AWS_REGION)`,
        EXIT.notFound,
        { cause: error },
      );
    }
    throw explainAwsError(error, `reading the outputs of stack ${stack}`);
  }
  const outputs: Record<string, string> = {};
  for (const output of answer.Stacks?.[0]?.Outputs ?? []) {
    if (output.OutputKey && output.OutputValue !== undefined) outputs[output.OutputKey] = output.OutputValue;
  }
  return outputs;
}

/** The value of output `key`, or an error saying the stack predates it (deploy the current version). */
export function requireOutput(outputs: StackOutputs, key: string, stack: string): string {
  const value = outputs[key];
  if (value === undefined || value === '') {
    throw new CliError(
      `stack ${stack} has no ${key} output: it was deployed by an older version of serverless-mlops; run \`cdk deploy\` with this one`,
      EXIT.failure,
    );
  }
  return value;
}
