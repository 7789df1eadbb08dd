/**
 * MlopsFunction: the Lambda defaults every handler shares. Where this stands: infrastructure
 * (lib/constructs); IngestPipeline builds its function with it, EventHandler, DriftMonitor and
 * Reconciler theirs through lib/private/rule-function.ts.
 *
 * Node.js 24 on ARM64, bundled locally by esbuild (no Docker) as ESM with the AWS SDK v3 inside
 * the bundle, source maps on, X-Ray active, Powertools settings in the environment, an explicit
 * log group with a retention, and an explicit role that can only write to that log group (no
 * AWSLambdaBasicExecutionRole managed policy, whose logs permissions span every log group).
 */
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { DEPS_LOCK_FILE, PROJECT_ROOT } from '../paths';
import { acknowledge } from '../private/nag';

/** Powertools log levels. */
export type PowertoolsLogLevel = 'DEBUG' | 'INFO' | 'WARN' | 'ERROR';

/** The CloudWatch namespace of the product's metrics (Powertools Metrics / EMF). */
export const METRICS_NAMESPACE = 'ServerlessMlops';

/**
 * ESM bundles that contain CommonJS dependencies call `require`, which ESM does not define.
 * The banner defines it from `import.meta.url`; the import is aliased so it cannot collide with
 * a `createRequire` import inside the bundle.
 */
export const ESM_REQUIRE_BANNER =
  "import { createRequire as __mlopsCreateRequire } from 'node:module'; const require = __mlopsCreateRequire(import.meta.url);";

/** One handler function: its entry, service name, sizes, environment and log settings. */
export interface MlopsFunctionProps {
  /** Absolute path of the handler's entry file; it must export `handler`. */
  readonly entry: string;
  /** Powertools service name (POWERTOOLS_SERVICE_NAME), e.g. `ingest`. */
  readonly serviceName: string;
  /**
   * Description shown in the Lambda console.
   * @default - none
   */
  readonly description?: string;
  /**
   * Memory in MB.
   * @default 512
   */
  readonly memorySize?: number;
  /**
   * Function timeout.
   * @default Duration.seconds(30)
   */
  readonly timeout?: Duration;
  /**
   * Environment variables added to the shared ones (NODE_OPTIONS and the Powertools settings).
   * @default - none
   */
  readonly environment?: Readonly<Record<string, string>>;
  /**
   * Retention of the function's log group.
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * Powertools log level (POWERTOOLS_LOG_LEVEL).
   * @default 'INFO'
   */
  readonly logLevel?: PowertoolsLogLevel;
  /**
   * Removal policy of the log group.
   * @default RemovalPolicy.RETAIN
   */
  readonly logRemovalPolicy?: RemovalPolicy;
  /**
   * Lambda asynchronous invocation settings (retries and on-failure destination), used by
   * EventBridge-invoked handlers.
   * @default - Lambda's defaults (2 retries, no destination)
   */
  readonly asyncInvoke?: {
    readonly retryAttempts: number;
    readonly maxEventAge?: Duration;
    readonly onFailure?: lambda.IDestination;
  };
}

/** A handler function with the project's Lambda defaults. */
export class MlopsFunction extends Construct {
  readonly function: NodejsFunction;
  readonly role: iam.Role;
  readonly logGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: MlopsFunctionProps) {
    super(scope, id);
    const memorySize = props.memorySize ?? 512;
    if (!Number.isInteger(memorySize) || memorySize < 128 || memorySize > 10240) {
      throw new Error(`memorySize must be an integer between 128 and 10240 MB, got ${memorySize}`);
    }

    this.logGroup = new logs.LogGroup(this, 'LogGroup', {
      retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
      removalPolicy: props.logRemovalPolicy ?? RemovalPolicy.RETAIN,
    });

    this.role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `Execution role of the ${props.serviceName} handler`,
    });
    // logs:CreateLogStream + logs:PutLogEvents on this function's log group only.
    this.logGroup.grantWrite(this.role);

    this.function = new NodejsFunction(this, 'Function', {
      entry: props.entry,
      handler: 'handler',
      runtime: lambda.Runtime.NODEJS_24_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize,
      timeout: props.timeout ?? Duration.seconds(30),
      description: props.description,
      role: this.role,
      logGroup: this.logGroup,
      tracing: lambda.Tracing.ACTIVE,
      projectRoot: PROJECT_ROOT,
      depsLockFilePath: DEPS_LOCK_FILE,
      environment: {
        NODE_OPTIONS: '--enable-source-maps',
        POWERTOOLS_SERVICE_NAME: props.serviceName,
        POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
        POWERTOOLS_LOG_LEVEL: props.logLevel ?? 'INFO',
        ...props.environment,
      },
      bundling: {
        forceDockerBundling: false,
        minify: true,
        sourceMap: true,
        format: OutputFormat.ESM,
        mainFields: ['module', 'main'],
        target: 'node24',
        banner: ESM_REQUIRE_BANNER,
        // Bundle the AWS SDK v3 too: a pinned, tree-shaken SDK instead of the runtime's copy.
        externalModules: [],
      },
      ...(props.asyncInvoke
        ? {
            retryAttempts: props.asyncInvoke.retryAttempts,
            ...(props.asyncInvoke.maxEventAge ? { maxEventAge: props.asyncInvoke.maxEventAge } : {}),
            ...(props.asyncInvoke.onFailure ? { onFailure: props.asyncInvoke.onFailure } : {}),
          }
        : {}),
    });

    // Tracing.ACTIVE adds xray:PutTraceSegments and xray:PutTelemetryRecords on "*" to this role.
    acknowledge(
      this.role,
      'AwsSolutions-IAM5[Resource::*]',
      'X-Ray tracing: xray:PutTraceSegments and xray:PutTelemetryRecords support no resource-level permissions (Service Authorization Reference, AWS X-Ray: no resource type for these actions), so they must use "*".',
    );
  }
}
