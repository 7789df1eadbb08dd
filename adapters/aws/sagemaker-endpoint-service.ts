/**
 * SageMaker adapter of the {@link EndpointService} port. Where this stands: adapter; the deployment
 * use cases create models, endpoint configs and endpoints through it, and roll new configs out with
 * a guarded blue/green update.
 *
 * SageMaker reports most "already exists" and "not found" conditions as a `ValidationException`
 * with a fixed message prefix rather than a dedicated error code; the prefixes matched here are
 * the ones the SageMaker operator for Kubernetes (aws/amazon-sagemaker-operator-for-k8s,
 * clientwrapper) and the SageMaker Python SDK (`session.create_model`) match.
 *
 * A request SageMaker refuses for good throws {@link EndpointRequestRejected} (see
 * {@link classifyRefusal}); every other error is rethrown as is, for the event to be retried.
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
import {
  EndpointRequestRejected,
  type EndpointConfigSpec,
  type EndpointDescription,
  type EndpointService,
  type ModelSpec,
  type RolloutPolicy,
} from '../../core/ports/endpoint-service';
import { trafficStepInstances } from '../../core/domain/model-config';
import { errorMessage, errorName, isErrorWith } from './aws-errors';
import { toTags } from './tags';

/**
 * Documented limits of a blue/green update (SageMaker API reference):
 * TrafficRoutingConfig.WaitIntervalInSeconds 0..3600; BlueGreenUpdatePolicy.TerminationWaitInSeconds
 * 0..3600 and MaximumExecutionTimeoutInSeconds 600..28800 ("should be larger than the total waiting
 * time"); AutoRollbackConfig.Alarms 1..10 items. The canary and linear sizes (at most 50%, and
 * 10-50%, of the variant's instances) live in the domain, where the config is validated against
 * them: BLUE_GREEN_SIZE_LIMITS and trafficStepInstances in core/domain/model-config.ts.
 */
export const BLUE_GREEN_LIMITS = {
  waitIntervalSeconds: { min: 0, max: 3600 },
  terminationWaitSeconds: { min: 0, max: 3600 },
  maxExecutionTimeoutSeconds: { min: 600, max: 28800 },
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

/**
 * ValidationExceptions about the endpoint's state of the moment rather than about the request:
 * retried, since the same request goes through once the endpoint has settled.
 * - "Cannot update in-progress endpoint": another create, update or rollback is running.
 * - An endpoint status named in the message (SageMaker's capitalised status names): the same
 *   condition worded otherwise, including an endpoint still being deleted.
 * - `Could not find endpoint "...` (not "... endpoint configuration"): the endpoint went away since
 *   it was described; the retried event describes it again and creates it.
 */
const TRANSIENT_VALIDATION: readonly RegExp[] = [
  new RegExp(ENDPOINT_IN_PROGRESS, 'i'),
  /\b(?:Creating|Updating|SystemUpdating|RollingBack|Deleting)\b/,
  /Could not find endpoint "/,
];

/**
 * The {@link EndpointService} port on SageMaker, built by the handlers' AWS context with the stack's
 * SageMaker execution role. A create that finds the resource there already succeeds (names are
 * derived from model and version), and so does an update that finds this very update in progress.
 */
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
      throw classifyRefusal(error, 'CreateModel', spec.modelName);
    }
  }

  async ensureEndpointConfig(spec: EndpointConfigSpec): Promise<void> {
    const request = unsendable('CreateEndpointConfig', spec.configName, () =>
      buildCreateEndpointConfigRequest(spec),
    );
    try {
      await this.client.send(new CreateEndpointConfigCommand(request));
    } catch (error) {
      if (isErrorWith(error, 'ValidationException', ALREADY_EXISTING_CONFIG)) return;
      throw classifyRefusal(error, 'CreateEndpointConfig', spec.configName);
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
      throw classifyRefusal(error, 'CreateEndpoint', `${endpointName} with ${configName}`);
    }
  }

  async updateEndpoint(endpointName: string, configName: string, policy: RolloutPolicy): Promise<void> {
    const subject = `${endpointName} to ${configName}`;
    const request = {
      EndpointName: endpointName,
      EndpointConfigName: configName,
      DeploymentConfig: unsendable('UpdateEndpoint', subject, () => buildDeploymentConfig(policy)),
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
      throw classifyRefusal(error, 'UpdateEndpoint', subject);
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

/**
 * The error a failed create/update call should throw: {@link EndpointRequestRejected} when
 * SageMaker refused the request for good, the SDK error itself when a retry can succeed.
 *
 * The SageMaker API Reference lists one error of their own for CreateModel, CreateEndpointConfig,
 * CreateEndpoint and UpdateEndpoint, `ResourceLimitExceeded` (HTTP 400; e.g.
 * https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_UpdateEndpoint.html#API_UpdateEndpoint_Errors),
 * besides the errors common to every action
 * (https://docs.aws.amazon.com/sagemaker/latest/APIReference/CommonErrors.html: AccessDeniedException,
 * ThrottlingException, ValidationError - `ValidationException` on the wire -, InternalFailure,
 * ServiceUnavailable...). Refused for good:
 * - `ValidationException`: the request breaks a constraint (an instance type unknown in the
 *   region, an alarm name SageMaker rejects, a config that no longer exists), except the ones
 *   about the endpoint's state of the moment ({@link TRANSIENT_VALIDATION}).
 * - `ResourceLimitExceeded`: an account quota (instances of a type for endpoint usage, number of
 *   endpoints). Unlike a training job's, an endpoint's capacity is held until someone deletes an
 *   endpoint or the quota is raised, not freed within the event's few retries; and a blue/green
 *   update needs the new fleet on top of the old one, so it cannot go through at all until then.
 * Retried: throttling, server faults, timeouts, and `AccessDeniedException`. Access denied is
 * the stack's own permissions (or IAM still propagating after a deploy), the same for every
 * version of every model: failing the versions would throw all of them away while the operator
 * fixes one policy. Retried, the event ends in the dead-letter queue (the stack alarms on it)
 * and the reconciler or a redrive re-sends the call once the permissions are right.
 */
function classifyRefusal(error: unknown, operation: string, subject: string): unknown {
  const name = errorName(error);
  const forGood =
    name === 'ResourceLimitExceeded' ||
    (name === 'ValidationException' && !TRANSIENT_VALIDATION.some((p) => p.test(errorMessage(error))));
  if (!forGood) return error;
  return new EndpointRequestRejected(
    `SageMaker refused ${operation} ${subject}: ${name}: ${errorMessage(error)}`,
    { cause: error },
  );
}

/**
 * Builds a request, turning a request SageMaker would refuse (the builders throw on values
 * outside the documented limits) into {@link EndpointRequestRejected}: it is never sent, and
 * sending it later would not help either.
 */
function unsendable<T>(operation: string, subject: string, build: () => T): T {
  try {
    return build();
  } catch (error) {
    throw new EndpointRequestRejected(
      `${operation} ${subject} was not sent, SageMaker would refuse it: ${errorMessage(error)}`,
      { cause: error },
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
 * The blue/green DeploymentConfig of a rollout, every wait clamped to the documented limits
 * ({@link BLUE_GREEN_LIMITS}). The wait interval is also shortened when the rollout's waits would
 * not fit the maximum execution timeout of 8 hours.
 *
 * Canary and linear sizes are sent as INSTANCE_COUNT, computed from the policy's percentage and
 * the variant's instances (core/domain/model-config.ts trafficStepInstances): SageMaker checks
 * them against "the variant's total instance count" (TrafficRoutingConfig), so a percentage alone
 * cannot be known valid. A size SageMaker would refuse (a canary on one instance, a step above half
 * the fleet) throws instead of being sent; the config schema refuses such configs up front.
 */
export function buildDeploymentConfig(policy: RolloutPolicy): DeploymentConfig {
  if (policy.rollbackAlarms.length > BLUE_GREEN_LIMITS.maxRollbackAlarms) {
    throw new Error(
      `a rollout can be guarded by at most ${BLUE_GREEN_LIMITS.maxRollbackAlarms} alarms (AutoRollbackConfig.Alarms); got ${policy.rollbackAlarms.length}`,
    );
  }
  const stepInstances = policy.strategy === 'all_at_once' ? undefined : stepSize(policy, policy.strategy);
  const termination = clamp(policy.terminationWaitSeconds, BLUE_GREEN_LIMITS.terminationWaitSeconds);
  const steps = shiftSteps(policy, stepInstances);
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
        CanarySize: { Type: 'INSTANCE_COUNT', Value: stepInstances! },
      };
      break;
    case 'linear':
      routing = {
        Type: 'LINEAR',
        WaitIntervalInSeconds: wait,
        LinearStepSize: { Type: 'INSTANCE_COUNT', Value: stepInstances! },
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

/** The instances a canary or each linear step turns on; throws when SageMaker would refuse the size. */
function stepSize(policy: RolloutPolicy, strategy: 'canary' | 'linear'): number {
  if (policy.instanceCount === undefined) {
    throw new Error(
      `a ${strategy} rollout needs the variant's instance count (its sizes are shares of it); a serverless variant rolls out all at once`,
    );
  }
  const step = trafficStepInstances(strategy, policy.stepPercent, policy.instanceCount);
  if (!step.ok) throw new Error(`invalid ${strategy} rollout: ${step.problem}`);
  return step.instances;
}

/**
 * How many baking waits a rollout goes through (an upper bound): canary bakes after the canary and
 * after the rest, linear after each step, all-at-once once.
 */
function shiftSteps(policy: RolloutPolicy, stepInstances: number | undefined): number {
  switch (policy.strategy) {
    case 'canary':
      return 2;
    case 'linear':
      return Math.ceil((policy.instanceCount ?? 1) / (stepInstances ?? 1));
    case 'all_at_once':
      return 1;
  }
}

function clamp(value: number, range: { readonly min: number; readonly max: number }): number {
  const rounded = Math.round(Number.isFinite(value) ? value : range.min);
  return Math.min(range.max, Math.max(range.min, rounded));
}
