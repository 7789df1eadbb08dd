/**
 * DataBucket: the S3 bucket datasets are dropped into and everything derived from them is written
 * to (prefixes in BUCKET_PREFIXES, core/domain/naming.ts), plus its access-log bucket. Where this
 * stands: infrastructure (lib/constructs); the ingest rule listens to its EventBridge events.
 *
 * Encryption is SSE-S3 (S3-managed keys), on purpose:
 * - the server access-log bucket must use SSE-S3: S3 log delivery does not support SSE-KMS
 *   target buckets (S3 User Guide, "Enabling Amazon S3 server access logging");
 * - for the data bucket, SageMaker training jobs, endpoint data capture and the handlers all read
 *   and write it; with SSE-S3 none of them needs a KMS grant, and idle costs stay at zero (no key,
 *   no per-request KMS charges). Access is still governed by IAM, TLS is enforced, and public
 *   access is blocked.
 */
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { BUCKET_PREFIXES } from '../../core/domain/naming';
import { acknowledge } from '../private/nag';

/** Retention and removal of the data bucket and its access-log bucket. */
export interface DataBucketProps {
  /**
   * What happens to both buckets when they leave the stack. With DESTROY the deletion fails while
   * objects remain (no auto-delete custom resource is added).
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * How long a noncurrent (overwritten or deleted) object version is kept.
   * @default Duration.days(90)
   */
  readonly noncurrentVersionRetention?: Duration;
  /**
   * How long server access logs are kept.
   * @default Duration.days(365)
   */
  readonly accessLogRetention?: Duration;
}

/** The data bucket (versioned, private, TLS-only, EventBridge on) and its access-log bucket. */
export class DataBucket extends Construct {
  readonly bucket: s3.Bucket;
  readonly accessLogBucket: s3.Bucket;
  /** The bucket's top-level prefixes. */
  static readonly PREFIXES = BUCKET_PREFIXES;

  constructor(scope: Construct, id: string, props: DataBucketProps = {}) {
    super(scope, id);
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    const noncurrentDays = (props.noncurrentVersionRetention ?? Duration.days(90)).toDays({
      integral: false,
    });
    const logDays = (props.accessLogRetention ?? Duration.days(365)).toDays({ integral: false });
    if (!Number.isInteger(noncurrentDays) || noncurrentDays < 1) {
      throw new Error(
        `noncurrentVersionRetention must be a whole number of days >= 1, got ${noncurrentDays}`,
      );
    }
    if (!Number.isInteger(logDays) || logDays < 1) {
      throw new Error(`accessLogRetention must be a whole number of days >= 1, got ${logDays}`);
    }

    this.accessLogBucket = new s3.Bucket(this, 'AccessLogs', {
      encryption: s3.BucketEncryption.S3_MANAGED,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      // No objectOwnership here: with @aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy (cdk.json)
      // log delivery is granted by bucket policy and S3's default (BucketOwnerEnforced) applies.
      removalPolicy,
      lifecycleRules: [
        {
          id: 'expire-access-logs',
          enabled: true,
          expiration: Duration.days(logDays),
          abortIncompleteMultipartUploadAfter: Duration.days(7),
        },
      ],
    });
    acknowledge(
      this.accessLogBucket,
      'AwsSolutions-S1',
      'This is the server access-log target of the data bucket; logging a log bucket into itself creates a feedback loop and into another bucket only moves the problem (S3 User Guide recommends a separate, unlogged target).',
    );

    this.bucket = new s3.Bucket(this, 'Bucket', {
      encryption: s3.BucketEncryption.S3_MANAGED,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      versioned: true,
      removalPolicy,
      serverAccessLogsBucket: this.accessLogBucket,
      serverAccessLogsPrefix: 'data-bucket/',
      lifecycleRules: [
        {
          id: 'expire-noncurrent-versions',
          enabled: true,
          noncurrentVersionExpiration: Duration.days(noncurrentDays),
        },
        {
          id: 'abort-incomplete-multipart-uploads',
          enabled: true,
          abortIncompleteMultipartUploadAfter: Duration.days(7),
        },
        { id: 'remove-expired-delete-markers', enabled: true, expiredObjectDeleteMarker: true },
      ],
    });
    // EventBridge notifications through the native CloudFormation property instead of the L2's
    // `eventBridgeEnabled: true`, which deploys a custom-resource Lambda (Python runtime, managed
    // policy, s3:PutBucketNotification on "*") just to flip this one switch.
    const cfnBucket = this.bucket.node.defaultChild as s3.CfnBucket;
    cfnBucket.notificationConfiguration = { eventBridgeConfiguration: { eventBridgeEnabled: true } };
  }

  /** `arn:...:<bucket>/<prefix>*` for one of the bucket's prefixes, e.g. `prepared/`. */
  objectsArn(prefix: string): string {
    return this.bucket.arnForObjects(`${prefix}*`);
  }
}
