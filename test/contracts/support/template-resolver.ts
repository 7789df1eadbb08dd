/**
 * Turns a synthesized CloudFormation template into concrete policy documents, as they would read
 * once deployed. Where this stands: test infrastructure for the IAM contract
 * (test/contracts/iam-contract.test.ts).
 *
 * `Ref`, `Fn::GetAtt`, `Fn::Join`, `Fn::Sub`, `Fn::Select` and `Fn::Split` are resolved against
 * pseudo parameters (partition, region, account) and a map of physical names per logical id: the
 * test substitutes its own resources (the harness's bucket, table, topic and SageMaker role) for
 * the template's. A resource that is not mapped gets a placeholder ARN of its type (a queue, a log
 * group): nothing the handlers call in the scenario, so a placeholder can only make a call fail,
 * never pass.
 */

/** A template as `Template.toJSON()` returns it. */
export interface TemplateJson {
  readonly Resources: Record<
    string,
    { readonly Type: string; readonly Properties?: Record<string, unknown> }
  >;
}

/** The deployed identity of one template resource: what `Ref` and `Fn::GetAtt` return. */
export interface PhysicalResource {
  readonly ref: string;
  /** `Fn::GetAtt` attributes, e.g. `{ Arn: 'arn:aws:s3:::bucket' }`. */
  readonly attributes?: Readonly<Record<string, string>>;
}

/** Where and as what the template is deployed. */
export interface DeploymentSite {
  readonly partition: string;
  readonly region: string;
  readonly account: string;
  /** Physical resources by logical id. */
  readonly resources: Readonly<Record<string, PhysicalResource>>;
}

/** An IAM policy document (resolved). */
export interface PolicyDocument {
  readonly Version?: string;
  readonly Statement: readonly Record<string, unknown>[];
}

/** Resolves the intrinsic functions of one template for one deployment site. */
export class TemplateResolver {
  constructor(
    readonly template: TemplateJson,
    readonly site: DeploymentSite,
  ) {}

  /** Resolves every intrinsic function in `value` (deeply). */
  resolve(value: unknown): unknown {
    if (Array.isArray(value)) return value.map((item) => this.resolve(item));
    if (value === null || typeof value !== 'object') return value;
    const node = value as Record<string, unknown>;
    const keys = Object.keys(node);
    if (keys.length === 1 && (keys[0] === 'Ref' || keys[0]!.startsWith('Fn::'))) return this.intrinsic(node);
    return Object.fromEntries(keys.map((key) => [key, this.resolve(node[key])]));
  }

  /** Resolves `value` and requires a string. */
  resolveString(value: unknown): string {
    const resolved = this.resolve(value);
    if (typeof resolved !== 'string') throw new Error(`expected a string, got ${JSON.stringify(resolved)}`);
    return resolved;
  }

  /** What `Ref` returns for a logical id or a pseudo parameter. */
  ref(name: string): string {
    const pseudo: Record<string, string> = {
      'AWS::Partition': this.site.partition,
      'AWS::Region': this.site.region,
      'AWS::AccountId': this.site.account,
      'AWS::URLSuffix': 'amazonaws.com',
      'AWS::StackName': 'ServerlessMlops',
      'AWS::NoValue': '',
    };
    if (name in pseudo) return pseudo[name]!;
    const mapped = this.site.resources[name];
    if (mapped) return mapped.ref;
    this.typeOf(name); // must exist
    return name;
  }

  /** What `Fn::GetAtt` returns. */
  getAtt(logicalId: string, attribute: string): string {
    const mapped = this.site.resources[logicalId]?.attributes?.[attribute];
    if (mapped !== undefined) return mapped;
    const type = this.typeOf(logicalId);
    if (attribute !== 'Arn') return `${logicalId}.${attribute}`;
    // A placeholder ARN of the resource's service (AWS::SQS::Queue -> sqs).
    const service = type.split('::')[1]!.toLowerCase();
    return `arn:${this.site.partition}:${service}:${this.site.region}:${this.site.account}:${logicalId}`;
  }

  private typeOf(logicalId: string): string {
    const resource = this.template.Resources[logicalId];
    if (!resource) throw new Error(`the template has no resource ${logicalId}`);
    return resource.Type;
  }

  private intrinsic(node: Record<string, unknown>): unknown {
    if ('Ref' in node) return this.ref(String(node.Ref));
    if ('Fn::GetAtt' in node) {
      const raw = node['Fn::GetAtt'];
      const parts: unknown[] = Array.isArray(raw) ? raw : String(raw).split('.');
      const [logicalId, attribute] = parts;
      return this.getAtt(String(logicalId), String(attribute));
    }
    if ('Fn::Join' in node) {
      const [delimiter, parts] = node['Fn::Join'] as [string, unknown];
      const list = this.resolve(parts);
      if (!Array.isArray(list)) throw new Error(`Fn::Join of ${JSON.stringify(list)}`);
      return list.map((part) => String(part)).join(delimiter);
    }
    if ('Fn::Sub' in node) {
      const raw = node['Fn::Sub'];
      const [text, variables] = Array.isArray(raw)
        ? [String(raw[0]), (this.resolve(raw[1]) as Record<string, unknown>) ?? {}]
        : [String(raw), {}];
      return text.replace(/\$\{([^}!][^}]*)\}/g, (_match, name: string) => {
        if (name in variables) return String(variables[name]);
        const dot = name.indexOf('.');
        return dot > 0 ? this.getAtt(name.slice(0, dot), name.slice(dot + 1)) : this.ref(name);
      });
    }
    if ('Fn::Select' in node) {
      const [index, list] = node['Fn::Select'] as [unknown, unknown];
      const resolved = this.resolve(list);
      if (!Array.isArray(resolved)) throw new Error(`Fn::Select of ${JSON.stringify(resolved)}`);
      return resolved[Number(this.resolve(index))];
    }
    if ('Fn::Split' in node) {
      const [delimiter, text] = node['Fn::Split'] as [string, unknown];
      return this.resolveString(text).split(delimiter);
    }
    throw new Error(`unsupported intrinsic function ${JSON.stringify(node)}`);
  }

  /**
   * The identity policies attached to a role in the template (inline `Policies`, and every
   * `AWS::IAM::Policy` / `AWS::IAM::ManagedPolicy` naming it), resolved, and its permissions
   * boundary if the template defines one. AWS managed policies (ARNs without a document here) are
   * left out: that can only deny more, never allow more.
   */
  rolePolicies(roleLogicalId: string): {
    identityPolicies: { name: string; policy: PolicyDocument }[];
    permissionsBoundary?: PolicyDocument;
  } {
    const role = this.template.Resources[roleLogicalId];
    if (role?.Type !== 'AWS::IAM::Role') throw new Error(`${roleLogicalId} is not an AWS::IAM::Role`);
    const identityPolicies: { name: string; policy: PolicyDocument }[] = [];
    for (const inline of (role.Properties?.Policies as { PolicyName: unknown; PolicyDocument: unknown }[]) ??
      [])
      identityPolicies.push({
        name: this.resolveString(inline.PolicyName),
        policy: this.resolve(inline.PolicyDocument) as PolicyDocument,
      });
    const attachedManaged = new Set(
      ((role.Properties?.ManagedPolicyArns as unknown[]) ?? [])
        .filter((arn) => typeof arn === 'object' && arn !== null && 'Ref' in arn)
        .map((arn) => String(arn.Ref)),
    );
    for (const [logicalId, resource] of Object.entries(this.template.Resources)) {
      if (resource.Type !== 'AWS::IAM::Policy' && resource.Type !== 'AWS::IAM::ManagedPolicy') continue;
      const roles = ((resource.Properties?.Roles as unknown[]) ?? []).map((r) => JSON.stringify(r));
      if (!roles.includes(JSON.stringify({ Ref: roleLogicalId })) && !attachedManaged.has(logicalId))
        continue;
      identityPolicies.push({
        name: logicalId,
        policy: this.resolve(resource.Properties?.PolicyDocument) as PolicyDocument,
      });
    }
    const boundaryRef = role.Properties?.PermissionsBoundary as { Ref?: string } | undefined;
    const boundary = boundaryRef?.Ref ? this.template.Resources[boundaryRef.Ref] : undefined;
    return {
      identityPolicies,
      ...(boundary
        ? { permissionsBoundary: this.resolve(boundary.Properties?.PolicyDocument) as PolicyDocument }
        : {}),
    };
  }

  /**
   * The document of a customer-managed policy of the template (`AWS::IAM::ManagedPolicy`),
   * resolved: what a user or role it is attached to is allowed.
   */
  managedPolicy(logicalId: string): PolicyDocument {
    const policy = this.template.Resources[logicalId];
    if (policy?.Type !== 'AWS::IAM::ManagedPolicy')
      throw new Error(`${logicalId} is not an AWS::IAM::ManagedPolicy`);
    return this.resolve(policy.Properties?.PolicyDocument) as PolicyDocument;
  }

  /**
   * The resource policies of the template, by the resolved ARN they protect: bucket policies (by
   * bucket ARN), KMS key policies (by key ARN), SNS topic policies (by topic ARN), SQS queue
   * policies (by queue ARN).
   */
  resourcePolicies(): Map<string, PolicyDocument> {
    const policies = new Map<string, PolicyDocument>();
    for (const [logicalId, resource] of Object.entries(this.template.Resources)) {
      const props = resource.Properties ?? {};
      if (resource.Type === 'AWS::S3::BucketPolicy') {
        policies.set(
          `arn:${this.site.partition}:s3:::${this.resolveString(props.Bucket)}`,
          this.resolve(props.PolicyDocument) as PolicyDocument,
        );
      } else if (resource.Type === 'AWS::KMS::Key') {
        policies.set(this.getAtt(logicalId, 'Arn'), this.resolve(props.KeyPolicy) as PolicyDocument);
      } else if (resource.Type === 'AWS::SNS::TopicPolicy') {
        for (const topic of (props.Topics as unknown[]) ?? [])
          policies.set(this.resolveString(topic), this.resolve(props.PolicyDocument) as PolicyDocument);
      } else if (resource.Type === 'AWS::SQS::QueuePolicy') {
        // Queues are named by URL (a queue's Ref); policies are looked up by ARN.
        for (const queue of (props.Queues as unknown[]) ?? []) {
          const ref = (queue as { Ref?: unknown } | null)?.Ref;
          if (typeof ref !== 'string')
            throw new Error(
              `${logicalId}: a queue policy names its queue by ${JSON.stringify(queue)}, not Ref`,
            );
          policies.set(this.getAtt(ref, 'Arn'), this.resolve(props.PolicyDocument) as PolicyDocument);
        }
      }
    }
    return policies;
  }

  /** The KMS key ARN a bucket's default encryption uses, if SSE-KMS (undefined for SSE-S3). */
  bucketKmsKey(bucketLogicalId: string): string | undefined {
    const encryption = this.resolve(
      this.template.Resources[bucketLogicalId]?.Properties?.BucketEncryption,
    ) as
      | {
          ServerSideEncryptionConfiguration?: {
            ServerSideEncryptionByDefault?: { SSEAlgorithm?: string; KMSMasterKeyID?: string };
          }[];
        }
      | undefined;
    const rule = encryption?.ServerSideEncryptionConfiguration?.[0]?.ServerSideEncryptionByDefault;
    if (!rule?.SSEAlgorithm?.startsWith('aws:kms')) return undefined;
    // No KMSMasterKeyID: the AWS managed key aws/s3, whose key policy lets every principal of the account use it through S3.
    return (
      rule.KMSMasterKeyID ??
      `arn:${this.site.partition}:kms:${this.site.region}:${this.site.account}:alias/aws/s3`
    );
  }

  /** The KMS key ARN of a queue's SSE-KMS, if any (undefined for SSE-SQS and unencrypted queues). */
  queueKmsKey(queueLogicalId: string): string | undefined {
    const key = this.template.Resources[queueLogicalId]?.Properties?.KmsMasterKeyId;
    if (key === undefined) return undefined;
    const resolved = this.resolveString(key);
    // An alias or bare key id (e.g. the AWS managed `alias/aws/sqs`) as the key's ARN.
    return resolved.startsWith('arn:')
      ? resolved
      : `arn:${this.site.partition}:kms:${this.site.region}:${this.site.account}:${resolved.startsWith('alias/') ? resolved : `key/${resolved}`}`;
  }

  /** The KMS key ARN an SNS topic is encrypted with, if any. */
  topicKmsKey(topicLogicalId: string): string | undefined {
    const key = this.template.Resources[topicLogicalId]?.Properties?.KmsMasterKeyId;
    return key === undefined ? undefined : this.resolveString(key);
  }
}
