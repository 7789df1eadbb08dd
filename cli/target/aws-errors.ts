/**
 * AWS SDK errors turned into what the operator should do (credentials missing, access denied),
 * as {@link CliError}s. Where this stands: CLI target for AWS.
 */
import { CliError, EXIT } from '../command';

const CREDENTIAL_ERRORS = new Set(['CredentialsProviderError', 'ProviderError', 'TokenProviderError']);
const DENIED = new Set([
  'AccessDenied',
  'AccessDeniedException',
  'UnauthorizedOperation',
  'AuthorizationError',
]);
const EXPIRED = new Set([
  'ExpiredToken',
  'ExpiredTokenException',
  'InvalidClientTokenId',
  'UnrecognizedClientException',
]);

/**
 * A {@link CliError} that says what to do about an AWS error met while `doing` something, or the
 * error itself when it is not one of the known kinds (a CliError already, or a bug).
 */
export function explainAwsError(error: unknown, doing: string): unknown {
  if (error instanceof CliError || !(error instanceof Error)) return error;
  if (CREDENTIAL_ERRORS.has(error.name) || /Could not load credentials/i.test(error.message)) {
    return new CliError(
      `no AWS credentials found while ${doing}: configure them (aws configure, aws sso login, AWS_PROFILE, or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY), or drop --stack to use the local cloud`,
      EXIT.failure,
      { cause: error },
    );
  }
  if (/Region is missing/i.test(error.message)) {
    return new CliError(`no AWS Region while ${doing}: pass --region or set AWS_REGION`, EXIT.usage, {
      cause: error,
    });
  }
  if (EXPIRED.has(error.name)) {
    return new CliError(
      `your AWS credentials were refused while ${doing} (${error.name}): renew them`,
      EXIT.failure,
      {
        cause: error,
      },
    );
  }
  if (DENIED.has(error.name)) {
    return new CliError(
      `access denied while ${doing}: ${error.message}\nAsk for the stack's managed policy (outputs ReadOnlyPolicyArn for reads, OperatorPolicyArn for approve/reject/rollback/retrain/upload/dlq --redrive)`,
      EXIT.failure,
      { cause: error },
    );
  }
  return error;
}
