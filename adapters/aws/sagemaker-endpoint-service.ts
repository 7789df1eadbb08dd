/**
 * SageMaker adapter of the {@link EndpointService} port. Where this stands: adapter; the deployment
 * use cases create models, endpoint configs and endpoints through it, and roll new configs out with
 * a guarded blue/green update.
 *
 * SageMaker reports most "already exists" and "not found" conditions as a `ValidationException`
 * with a fixed message prefix rather than a dedicated error code; the prefixes matched here are
 * the ones the SageMaker operator for Kubernetes (aws/amazon-sagemaker-operator-for-k8s,
 * clientwrapper) and the SageMaker Python SDK (`session.create_model`) match.
 */
import {
  CreateEndpointCommand,
  CreateEndpointConfigCommand,
  CreateModelCommand,
  DeleteEndpointCommand,
  DescribeEndpointCommand,
  UpdateEndpointCommand,
  type CreateEndpointConfigCommandInput,
  type DeploymentConfig,
  type ProductionVariantInstanceType,
  type SageMakerClient,
  type TrafficRoutingConfig,
} from '@aws-sdk/client-sagemaker';
import type {
  EndpointConfigSpec,
  EndpointDescription,
  EndpointService,
  ModelSpec,
  RolloutPolicy,
} from '../../core/ports/endpoint-service';
import { isErrorWith } from './aws-errors';
import { toTags } from './tags';

/**
 * Documented limits of a blue/green update (SageMaker API reference):
 * TrafficRoutingConfig.WaitIntervalInSeconds 0..3600; BlueGreenUpdatePolicy.TerminationWaitInSeconds
 * 0..3600 and MaximumExecutionTimeoutInSeconds 600..28800 ("should be larger than the total waiting
 * time"); CanarySize must be <= 50% of the variant's instances, LinearStepSize 10..50%
 * (CapacitySize.Value >= 1); AutoRollbackConfig.Alarms 1..10 items.
 */
export const BLUE_GREEN_LIMITS = {
  waitIntervalSeconds: { min: 0, max: 3600 },
  terminationWaitSeconds: { min: 0, max: 3600 },
  maxExecutionTimeoutSeconds: { min: 600, max: 28800 },
  canaryPercent: { min: 1, max: 50 },
  linearStepPercent: { min: 10, max: 50 },
  maxRollbackAlarms: 10,
} as const;

/**
 * Time allowed, on top of the waits, for SageMaker to provision and health-check the new (green)
 * fleet and to shift traffic: instance endpoints usually take 5-15 minutes to come up.
 */
export const FLEET_PROVISIONING_ALLOWANCE_SECONDS = 1800;

const ALREADY_EXISTING_MODEL = 'Cannot create already existing model';
const ALREADY_EXISTING_CONFIG = 'Cannot create already existing endpoint configuration';
const ALREADY_EXISTING_ENDPOINT = 'Cannot create already existing endpoint';
const ENDPOINT_NOT_FOUND = 'Could not find endpoint';
const ENDPOINT_IN_PROGRESS = 'Cannot update in-progress endpoint';

const IN_PROGRESS_STATUSES: ReadonlySet<string> = new Set([
  'Creating',
  'Updating',
  'SystemUpdating',
  'RollingBack',
]);

export class SageMakerEndpointService implements EndpointService {
  /**
   * @param client the SageMaker client
   * @param executionRoleArn the role hosted models run with (reads the artifact from S3)
   */
  constructor(
    private readonly client: SageMakerClient,
    private readonly executionRoleArn: string,
  ) {}

  async ensureModel(spec: ModelSpec): Promise<void> {
    try {
      await this.client.send(
        new CreateModelCommand({
          ModelName: spec.modelName,
          ExecutionRoleArn: this.executionRoleArn,
          PrimaryContainer: { Image: spec.image, ModelDataUrl: spec.artifactUri },
          Tags: toTags(spec.tags),
        }),
      );
    } catch (error) {
      // Model names are derived from model + version: an existing one is this very model.
      if (isErrorWith(error, 'ValidationException', ALREADY_EXISTING_MODEL)) return;
      throw error;
    }
  }

  async ensureEndpointConfig(spec: EndpointConfigSpec): Promise<void> {
    try {
      await this.client.send(new CreateEndpointConfigCommand(buildCreateEndpointConfigRequest(spec)));
    } catch (error) {
      if (isErrorWith(error, 'ValidationException', ALREADY_EXISTING_CONFIG)) return;
      throw error;
    }
  }

  async describeEndpoint(endpointName: string): Promise<EndpointDescription | undefined> {
    let endpoint;
    try {
      endpoint = await this.client.send(new DescribeEndpointCommand({ EndpointName: endpointName }));
    } catch (error) {
      if (isErrorWith(error, 'ValidationException', ENDPOINT_NOT_FOUND)) return undefined;
      throw error;
    }
    if (endpoint.EndpointStatus === undefined)
      throw new Error(`endpoint "${endpointName}" was described without a status`);
    // During an update EndpointConfigName is still the serving (blue) config and the target is in
    // PendingDeploymentSummary; a create in progress may have no summary and names its own config.
    const pending =
      endpoint.PendingDeploymentSummary?.EndpointConfigName ??
      (endpoint.EndpointStatus === 'Creating' ? endpoint.EndpointConfigName : undefined);
    return {
      endpointName: endpoint.EndpointName ?? endpointName,
      status: endpoint.EndpointStatus,
      configName: endpoint.EndpointConfigName ?? '',
      ...(pending !== undefined ? { pendingConfigName: pending } : {}),
      ...(endpoint.FailureReason !== undefined ? { failureReason: endpoint.FailureReason } : {}),
      ...(endpoint.LastModifiedTime !== undefined
        ? { lastModifiedAt: endpoint.LastModifiedTime.toISOString() }
        : {}),
    };
  }

  async createEndpoint(
    endpointName: string,
    configName: string,
    tags: Readonly<Record<string, string>>,
  ): Promise<void> {
    try {
      await this.client.send(
        new CreateEndpointCommand({
          EndpointName: endpointName,
          EndpointConfigName: configName,
          Tags: toTags(tags),
        }),
      );
    } catch (error) {
      // A redelivered event: the endpoint exists (creating, or already serving). The caller reads
      // its state from DescribeEndpoint / the endpoint state-change events.
      if (isErrorWith(error, 'ValidationException', ALREADY_EXISTING_ENDPOINT)) return;
      throw error;
    }
  }

  async updateEndpoint(endpointName: string, configName: string, policy: RolloutPolicy): Promise<void> {
    const request = {
      EndpointName: endpointName,
      EndpointConfigName: configName,
      DeploymentConfig: buildDeploymentConfig(policy),
    };
    try {
      await this.client.send(new UpdateEndpointCommand(request));
    } catch (error) {
      // SageMaker refuses any update while one is in progress. When the update in progress is
      // this very one (a redelivered event), there is nothing to do; otherwise the error stands
      // and the event is retried once the endpoint has settled.
      if (
        isErrorWith(error, 'ValidationException', ENDPOINT_IN_PROGRESS) &&
        (await this.isUpdatingTo(endpointName, configName))
      )
        return;
      throw error;
    }
  }

  async deleteEndpoint(endpointName: string): Promise<void> {
    try {
      await this.client.send(new DeleteEndpointCommand({ EndpointName: endpointName }));
    } catch (error) {
      // Already gone: done. (While the endpoint is still Creating, SageMaker answers
      // "Cannot update in-progress endpoint": that error stands and the caller retries.)
      if (isErrorWith(error, 'ValidationException', ENDPOINT_NOT_FOUND)) return;
      throw error;
    }
  }

  /** Whether the endpoint is mid-deployment towards `configName`. */
  private async isUpdatingTo(endpointName: string, configName: string): Promise<boolean> {
    const endpoint = await this.describeEndpoint(endpointName);
    return (
      endpoint !== undefined &&
      IN_PROGRESS_STATUSES.has(endpoint.status) &&
      endpoint.pendingConfigName === configName
    );
  }
}

/** The CreateEndpointConfig request for a spec. */
export function buildCreateEndpointConfigRequest(spec: EndpointConfigSpec): CreateEndpointConfigCommandInput {
  const hosting = spec.hosting;
  const variant =
    hosting.type === 'instance'
      ? {
          VariantName: spec.variantName,
          ModelName: spec.modelName,
          InstanceType: hosting.instanceType as ProductionVariantInstanceType,
          InitialInstanceCount: hosting.initialInstanceCount,
          InitialVariantWeight: 1,
        }
      : {
          VariantName: spec.variantName,
          ModelName: spec.modelName,
          ServerlessConfig: { MemorySizeInMB: hosting.memorySizeMb, MaxConcurrency: hosting.maxConcurrency },
        };
  if (!Number.isInteger(spec.capturePercent) || spec.capturePercent < 0 || spec.capturePercent > 100) {
    throw new Error(
      `capturePercent must be an integer from 0 to 100 (DataCaptureConfig.InitialSamplingPercentage); got ${spec.capturePercent}`,
    );
  }
  // Serverless endpoints do not support data capture ("Feature exclusions", SageMaker Serverless
  // Inference guide): CreateEndpointConfig would be refused, so capture is only set on instance
  // endpoints. Drift monitoring then has no captured traffic for serverless models.
  const capture = hosting.type === 'instance' && spec.capturePercent > 0;
  return {
    EndpointConfigName: spec.configName,
    ProductionVariants: [variant],
    ...(capture
      ? {
          DataCaptureConfig: {
            EnableCapture: true,
            InitialSamplingPercentage: spec.capturePercent,
            DestinationS3Uri: spec.captureUri,
            CaptureOptions: [{ CaptureMode: 'Input' }, { CaptureMode: 'Output' }],
            CaptureContentTypeHeader: {
              CsvContentTypes: ['text/csv'],
              JsonContentTypes: ['application/json'],
            },
          },
        }
      : {}),
    Tags: toTags(spec.tags),
  };
}

/**
 * The blue/green DeploymentConfig of a rollout, every value clamped to the documented limits
 * ({@link BLUE_GREEN_LIMITS}). The wait interval is also shortened when the rollout's waits would
 * not fit the maximum execution timeout of 8 hours.
 */
export function buildDeploymentConfig(policy: RolloutPolicy): DeploymentConfig {
  if (policy.rollbackAlarms.length > BLUE_GREEN_LIMITS.maxRollbackAlarms) {
    throw new Error(
      `a rollout can be guarded by at most ${BLUE_GREEN_LIMITS.maxRollbackAlarms} alarms (AutoRollbackConfig.Alarms); got ${policy.rollbackAlarms.length}`,
    );
  }
  const termination = clamp(policy.terminationWaitSeconds, BLUE_GREEN_LIMITS.terminationWaitSeconds);
  const steps = shiftSteps(policy);
  // Room left for the waits once the old fleet's termination wait and provisioning are counted.
  const waitBudget =
    BLUE_GREEN_LIMITS.maxExecutionTimeoutSeconds.max - termination - FLEET_PROVISIONING_ALLOWANCE_SECONDS;
  const wait = Math.min(
    clamp(policy.bakeSeconds, BLUE_GREEN_LIMITS.waitIntervalSeconds),
    Math.floor(waitBudget / steps),
  );
  const timeout = clamp(
    steps * wait + termination + FLEET_PROVISIONING_ALLOWANCE_SECONDS,
    BLUE_GREEN_LIMITS.maxExecutionTimeoutSeconds,
  );

  let routing: TrafficRoutingConfig;
  switch (policy.strategy) {
    case 'canary':
      routing = {
        Type: 'CANARY',
        WaitIntervalInSeconds: wait,
        CanarySize: {
          Type: 'CAPACITY_PERCENT',
          Value: clamp(policy.stepPercent, BLUE_GREEN_LIMITS.canaryPercent),
        },
      };
      break;
    case 'linear':
      routing = {
        Type: 'LINEAR',
        WaitIntervalInSeconds: wait,
        LinearStepSize: {
          Type: 'CAPACITY_PERCENT',
          Value: clamp(policy.stepPercent, BLUE_GREEN_LIMITS.linearStepPercent),
        },
      };
      break;
    case 'all_at_once':
      routing = { Type: 'ALL_AT_ONCE', WaitIntervalInSeconds: wait };
      break;
  }
  return {
    BlueGreenUpdatePolicy: {
      TrafficRoutingConfiguration: routing,
      TerminationWaitInSeconds: termination,
      MaximumExecutionTimeoutInSeconds: timeout,
    },
    // AutoRollbackConfig.Alarms needs at least one item: left out when the rollout has no alarms.
    ...(policy.rollbackAlarms.length > 0
      ? { AutoRollbackConfiguration: { Alarms: policy.rollbackAlarms.map((AlarmName) => ({ AlarmName })) } }
      : {}),
  };
}

/**
 * How many baking waits a rollout goes through (an upper bound): canary bakes after the canary and
 * after the rest, linear after each step, all-at-once once.
 */
function shiftSteps(policy: RolloutPolicy): number {
  switch (policy.strategy) {
    case 'canary':
      return 2;
    case 'linear':
      return Math.ceil(100 / clamp(policy.stepPercent, BLUE_GREEN_LIMITS.linearStepPercent));
    case 'all_at_once':
      return 1;
  }
}

function clamp(value: number, range: { readonly min: number; readonly max: number }): number {
  const rounded = Math.round(Number.isFinite(value) ? value : range.min);
  return Math.min(range.max, Math.max(range.min, rounded));
}
