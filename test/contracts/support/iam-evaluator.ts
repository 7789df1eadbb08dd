/**
 * A real IAM policy evaluation of one request: identity policies of the calling role, its
 * permissions boundary, and the resource policy of the target (bucket policy, KMS key policy,
 * topic policy), with AWS's evaluation logic as implemented by @cloud-copilot/iam-simulate
 * (explicit deny, then allows from identity or resource policies, same-account rules, KMS key
 * policies that must trust the account before IAM policies count). Where this stands: test
 * infrastructure for the IAM contract (test/contracts/iam-contract.test.ts).
 */
import { getDenialReasons, runSimulation, type Simulation } from '@cloud-copilot/iam-simulate';
import type { RequiredPermission } from './iam-actions';
import type { PolicyDocument } from './template-resolver';

/** The caller: a role's session and the policies that apply to it. */
export interface IamPrincipal {
  /** The session ARN, `arn:aws:sts::<account>:assumed-role/<role>/<session>`. */
  readonly sessionArn: string;
  /** The role ARN (`aws:PrincipalArn`). */
  readonly roleArn: string;
  readonly account: string;
  readonly identityPolicies: readonly { name: string; policy: PolicyDocument }[];
  readonly permissionsBoundary?: PolicyDocument;
}

/** The decision on one request. */
export interface IamDecision {
  readonly allowed: boolean;
  /** `Allowed`, `ImplicitlyDenied`, `ExplicitlyDenied`, or `InvalidRequest`. */
  readonly result: string;
  /** Why it was denied, in words (empty when allowed). */
  readonly reason: string;
}

/** Finds the resource policy that governs an ARN (bucket policy for its objects too). */
export function resourcePolicyFor(
  resource: string,
  policies: ReadonlyMap<string, PolicyDocument>,
): PolicyDocument | undefined {
  const s3 = /^arn:[^:]+:s3:::([^/]+)/.exec(resource);
  if (s3) return policies.get(s3[0]);
  return policies.get(resource);
}

/** Evaluates `permission` for `principal`, with the target's resource policy if it has one. */
export async function evaluatePermission(
  principal: IamPrincipal,
  permission: RequiredPermission,
  resourcePolicies: ReadonlyMap<string, PolicyDocument>,
): Promise<IamDecision> {
  const resourcePolicy = resourcePolicyFor(permission.resource, resourcePolicies);
  const simulation: Simulation = {
    request: {
      principal: principal.sessionArn,
      action: permission.action,
      resource: {
        resource: permission.resource,
        // S3 ARNs carry no account: the bucket is the caller's (same-account evaluation).
        accountId: principal.account,
      },
      contextVariables: {
        'aws:PrincipalArn': principal.roleArn,
        'aws:PrincipalAccount': principal.account,
        'aws:PrincipalType': 'AssumedRole',
        ...permission.context,
      },
    },
    identityPolicies: principal.identityPolicies.map((p) => ({ name: p.name, policy: p.policy })),
    serviceControlPolicies: [],
    resourceControlPolicies: [],
    ...(resourcePolicy ? { resourcePolicy } : {}),
    ...(principal.permissionsBoundary
      ? { permissionBoundaryPolicies: [{ name: 'boundary', policy: principal.permissionsBoundary }] }
      : {}),
  };
  const outcome = await runSimulation(simulation, {});
  if (outcome.resultType === 'error') {
    return {
      allowed: false,
      result: 'InvalidRequest',
      reason: `the simulator refused the request: ${outcome.errors.message} ${JSON.stringify(outcome.errors)}`,
    };
  }
  if (outcome.overallResult === 'Allowed') return { allowed: true, result: 'Allowed', reason: '' };
  const analyses =
    outcome.resultType === 'single' ? [outcome.result.analysis] : outcome.results.map((r) => r.analysis);
  const kms = /^arn:[^:]+:kms:/.test(permission.resource);
  const denials = analyses
    .flatMap((analysis) => getDenialReasons(analysis))
    // In the same account a resource policy need not allow (the identity policy is enough), except a
    // KMS key policy: that "no allow" is only a reason for keys.
    .filter((denial) => kms || denial.denialType === 'Explicit' || denial.policyType !== 'resource');
  const reasons = denials.map((denial) => {
    if (denial.denialType === 'Explicit') {
      const where =
        denial.policyType === 'resource'
          ? 'the resource policy'
          : `${denial.policyType} policy ${denial.policyIdentifier ?? ''}`.trim();
      return `explicitly denied by ${where}, statement ${denial.statementId ?? `#${denial.statementIndex}`}`;
    }
    const what: Record<string, string> = {
      identity: 'no statement of the role allows it',
      resource: 'the key policy does not allow it (nor trust the account for IAM policies)',
      pb: 'the permissions boundary does not allow it',
      scp: 'a service control policy does not allow it',
      rcp: 'a resource control policy does not allow it',
      vpce: 'a VPC endpoint policy does not allow it',
      's3-bpa': 'S3 Block Public Access blocks it',
    };
    return `implicitly denied: ${what[denial.policyType] ?? denial.policyType}`;
  });
  return {
    allowed: false,
    result: outcome.overallResult,
    reason: [...new Set(reasons)].join('; ') || outcome.overallResult,
  };
}
