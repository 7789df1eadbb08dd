/**
 * Test helpers for the CDK assertion tests: apps with the project's feature flags (cdk.json
 * context), a temporary outdir each, deleted by `cleanupOutdirs()` in `afterAll`.
 *
 * Most tests skip asset bundling (`aws:cdk:bundling-stacks: []`) and aws-cdk-lib's built-in
 * CloudFormation validation (`builtinCloudFormationValidation: false`, an App prop), which costs
 * seconds per stack; test/lib/full-synth.test.ts keeps both on.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { App, type AppProps, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { PROJECT_ROOT } from '../../lib/paths';
import { ServerlessMlopsStack, type ServerlessMlopsStackProps } from '../../lib/serverless-mlops-stack';

const outdirs: string[] = [];

/** The feature flags of cdk.json, as the CLI would pass them. */
export function cdkJsonContext(): Record<string, unknown> {
  const cdkJson = JSON.parse(fs.readFileSync(path.join(PROJECT_ROOT, 'cdk.json'), 'utf8')) as {
    context?: Record<string, unknown>;
  };
  return cdkJson.context ?? {};
}

/** A fresh temporary outdir, removed by {@link cleanupOutdirs}. */
export function tempOutdir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mlops-cdk-test-'));
  outdirs.push(dir);
  return dir;
}

/** Deletes every outdir created so far. */
export function cleanupOutdirs(): void {
  for (const dir of outdirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
}

/** App options for a fast test: own outdir, cdk.json flags, no bundling, no built-in CFN validation. */
export function fastAppProps(context: Record<string, unknown> = {}): AppProps {
  return {
    outdir: tempOutdir(),
    builtinCloudFormationValidation: false,
    context: { ...cdkJsonContext(), 'aws:cdk:bundling-stacks': [], ...context },
  };
}

/** A fast App. */
export function fastApp(context: Record<string, unknown> = {}): App {
  return new App(fastAppProps(context));
}

/** A bare stack in a fast App, for construct tests. */
export function constructTestStack(): Stack {
  return new Stack(fastApp(), 'TestStack');
}

/** The full stack in a fast App, and its template. */
export function synthMlopsStack(props: ServerlessMlopsStackProps = {}): {
  stack: ServerlessMlopsStack;
  template: Template;
} {
  const stack = new ServerlessMlopsStack(fastApp(), 'ServerlessMlops', props);
  return { stack, template: Template.fromStack(stack) };
}

/** A CloudFormation resource in a template JSON. */
export interface CfnResourceJson {
  readonly Type: string;
  readonly Properties?: Record<string, unknown>;
}

/** The template's resources of one type by logical id: `Template.findResources`, whose values are `any`, typed. */
export function resourcesOfType(template: Template, type: string): Record<string, CfnResourceJson> {
  return template.findResources(type) as Record<string, CfnResourceJson>;
}

/** One IAM policy statement as rendered in a template. */
export interface StatementJson {
  readonly Sid?: string;
  readonly Effect: 'Allow' | 'Deny';
  readonly Action: string | string[];
  readonly Resource?: unknown;
  readonly Condition?: Record<string, Record<string, unknown>>;
}

/** The statements of a resource policy (a bucket's, a queue's): its `PolicyDocument.Statement`. */
export function policyDocumentStatements(resource: CfnResourceJson): StatementJson[] {
  return (resource.Properties?.PolicyDocument as { Statement: StatementJson[] }).Statement;
}

/** Every identity-policy statement in the template (AWS::IAM::Policy and inline role policies), with its logical id. */
export function identityStatements(template: Template): { logicalId: string; statement: StatementJson }[] {
  const out: { logicalId: string; statement: StatementJson }[] = [];
  const resources = template.toJSON().Resources as Record<string, CfnResourceJson>;
  for (const [logicalId, resource] of Object.entries(resources)) {
    const documents: unknown[] = [];
    if (resource.Type === 'AWS::IAM::Policy' || resource.Type === 'AWS::IAM::ManagedPolicy')
      documents.push(resource.Properties?.PolicyDocument);
    if (resource.Type === 'AWS::IAM::Role') {
      for (const policy of (resource.Properties?.Policies as { PolicyDocument: unknown }[] | undefined) ?? [])
        documents.push(policy.PolicyDocument);
    }
    for (const document of documents) {
      for (const statement of (document as { Statement: StatementJson[] }).Statement)
        out.push({ logicalId, statement });
    }
  }
  return out;
}

/** Statements of the policy attached to the role whose logical id starts with `rolePrefix`. */
export function roleStatements(template: Template, rolePrefix: string): StatementJson[] {
  const resources = template.toJSON().Resources as Record<string, CfnResourceJson>;
  const out: StatementJson[] = [];
  for (const resource of Object.values(resources)) {
    if (resource.Type !== 'AWS::IAM::Policy') continue;
    const roles = (resource.Properties?.Roles as { Ref: string }[] | undefined) ?? [];
    if (roles.some((role) => role.Ref.startsWith(rolePrefix))) {
      out.push(...(resource.Properties?.PolicyDocument as { Statement: StatementJson[] }).Statement);
    }
  }
  if (out.length === 0) throw new Error(`no policy attached to a role starting with ${rolePrefix}`);
  return out;
}

/** Actions of a statement as an array. */
export function actionsOf(statement: StatementJson): string[] {
  return Array.isArray(statement.Action) ? statement.Action : [statement.Action];
}

/** Resources of a statement as an array. */
export function resourcesOf(statement: StatementJson): unknown[] {
  return Array.isArray(statement.Resource) ? statement.Resource : [statement.Resource];
}

/** Flattens a CloudFormation string value (Fn::Join of Refs and GetAtts) for readable assertions. */
export function flat(value: unknown): string {
  if (typeof value === 'string') return value;
  const node = value as Record<string, unknown>;
  if (Array.isArray(node['Fn::Join'])) {
    const [delimiter, parts] = node['Fn::Join'] as [string, unknown[]];
    return parts.map(flat).join(delimiter);
  }
  if (typeof node.Ref === 'string') return `\${${node.Ref}}`;
  if (Array.isArray(node['Fn::GetAtt'])) return `\${${(node['Fn::GetAtt'] as string[]).join('.')}}`;
  return JSON.stringify(value);
}

/** The statements of `role` that grant `action`, with their resources flattened. */
export function grants(
  statements: StatementJson[],
  action: string,
): { resources: string[]; condition?: StatementJson['Condition'] }[] {
  return statements
    .filter((s) => s.Effect === 'Allow' && actionsOf(s).includes(action))
    .map((s) => ({
      resources: resourcesOf(s).map(flat),
      ...(s.Condition ? { condition: s.Condition } : {}),
    }));
}

/** Every resource `action` is granted on, across the statements. */
export function resourcesGranted(statements: StatementJson[], action: string): string[] {
  return grants(statements, action)
    .flatMap((g) => g.resources)
    .sort();
}
