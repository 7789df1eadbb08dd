/**
 * Narrow cdk-nag acknowledgements. Where this stands: infrastructure helper used by the constructs.
 *
 * cdk-nag 3 reports each IAM wildcard as its own finding, `AwsSolutions-IAM5[Resource::<flat ARN>]`
 * or `AwsSolutions-IAM5[Action::<action>]`, where the ARN is the resolved CloudFormation value
 * flattened the way cdk-nag flattens it (`{Ref: X}` -> `<X>`, `Fn::GetAtt [X, Arn]` -> `<X.Arn>`,
 * `Fn::Join` joined). These helpers build exactly those ids so that each acknowledgement covers
 * one resource pattern on one construct and nothing else.
 */
import { Stack, Validations } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';

/** Minimum length of an acknowledgement reason: a reason must say why, not just "ok". */
export const MIN_REASON_LENGTH = 40;

/** Acknowledges one cdk-nag finding on one construct (and its children). */
export function acknowledge(scope: IConstruct, id: string, reason: string): void {
  if (reason.trim().length < MIN_REASON_LENGTH) {
    throw new Error(
      `the acknowledgement of ${id} at ${scope.node.path} needs a real reason (at least ${MIN_REASON_LENGTH} characters)`,
    );
  }
  Validations.of(scope).acknowledge({ id, reason });
}

/** Acknowledges the IAM5 finding for a wildcard resource (a string that may hold tokens). */
export function acknowledgeWildcardResource(scope: IConstruct, resource: string, reason: string): void {
  acknowledge(
    scope,
    `AwsSolutions-IAM5[Resource::${flattenForNag(Stack.of(scope).resolve(resource))}]`,
    reason,
  );
}

/** Acknowledges the IAM5 finding for a wildcard action, e.g. `kms:GenerateDataKey*`. */
export function acknowledgeWildcardAction(scope: IConstruct, action: string, reason: string): void {
  acknowledge(scope, `AwsSolutions-IAM5[Action::${action}]`, reason);
}

/** Flattens a resolved CloudFormation value the way cdk-nag's `flattenCfnReference` does. */
export function flattenForNag(value: unknown): string {
  if (value === undefined) return '';
  if (typeof value === 'string') return value.replace(/\$\{/g, '<').replace(/}/g, '>');
  if (value !== null && typeof value === 'object') {
    const node = value as Record<string, unknown>;
    if (Array.isArray(node['Fn::Join'])) {
      const [delimiter, items] = node['Fn::Join'] as [string, unknown[]];
      return items.map(flattenForNag).join(delimiter);
    }
    if (node['Fn::Sub'] !== undefined) return flattenForNag(node['Fn::Sub']);
    if (Array.isArray(node['Fn::GetAtt'])) {
      const [resource, attribute] = node['Fn::GetAtt'] as [unknown, unknown];
      return `<${flattenForNag(resource)}.${flattenForNag(attribute)}>`;
    }
    if (node['Fn::ImportValue'] !== undefined) return flattenForNag(node['Fn::ImportValue']);
    if (node.Ref !== undefined) return `<${flattenForNag(node.Ref)}>`;
  }
  return JSON.stringify(value);
}
