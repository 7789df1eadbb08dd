/**
 * Port: model hosting. Where this stands: core port; SageMaker endpoints in AWS, local HTTP
 * inference servers in the local cloud. Every `ensure*` call is idempotent by name.
 */

/** A deployable model: the artifact and the image that serves it. */
export interface ModelSpec {
  readonly modelName: string;
  readonly image: string;
  readonly artifactUri: string;
  readonly tags: Readonly<Record<string, string>>;
}

/** How an endpoint config hosts one model, with data capture on. */
export interface EndpointConfigSpec {
  readonly configName: string;
  readonly modelName: string;
  readonly variantName: string;
  readonly hosting:
    | { readonly type: 'instance'; readonly instanceType: string; readonly initialInstanceCount: number }
    | { readonly type: 'serverless'; readonly memorySizeMb: number; readonly maxConcurrency: number };
  /** `s3://` prefix captured requests and responses go to, and the share of requests captured. */
  readonly captureUri: string;
  readonly capturePercent: number;
  readonly tags: Readonly<Record<string, string>>;
}

/** Blue/green rollout for an endpoint update. */
export interface RolloutPolicy {
  readonly strategy: 'canary' | 'linear' | 'all_at_once';
  /** Canary size or linear step, as a percentage of the fleet (rounded up to whole instances). */
  readonly stepPercent: number;
  /**
   * Instances of the variant being rolled out (its `initialInstanceCount`); absent for a serverless
   * variant. Canary and linear sizes are shares of it, so those strategies need it.
   */
  readonly instanceCount?: number;
  readonly bakeSeconds: number;
  readonly terminationWaitSeconds: number;
  /** Alarms that, in ALARM during the rollout, make the service roll back. */
  readonly rollbackAlarms: readonly string[];
}

/** The endpoint as the service reports it now. */
export interface EndpointDescription {
  readonly endpointName: string;
  readonly status:
    | 'OutOfService'
    | 'Creating'
    | 'Updating'
    | 'SystemUpdating'
    | 'RollingBack'
    | 'InService'
    | 'Deleting'
    | 'Failed'
    | 'UpdateRollbackFailed';
  /** The endpoint config currently serving (during an update: still the old, blue one). */
  readonly configName: string;
  /** During a create or update: the config being rolled out (DescribeEndpoint's PendingDeploymentSummary). */
  readonly pendingConfigName?: string;
  readonly failureReason?: string;
  readonly lastModifiedAt?: string;
}

/**
 * Hosting models on endpoints. The calls that create or change something (`ensure*`,
 * `createEndpoint`, `updateEndpoint`) throw {@link EndpointRequestRejected} when the service
 * refuses the request itself, for good (an invalid config, a service quota); any other error
 * (throttling, a server fault, an endpoint busy with another change) is transient and rethrown
 * as is, so that the event is retried.
 */
export interface EndpointService {
  /**
   * Registers the model (image and artifact) for hosting. A model of that name that exists already
   * is taken as this one (names come from model and version) and left as it is.
   */
  ensureModel(spec: ModelSpec): Promise<void>;
  /** Creates the endpoint config; as with `ensureModel`, one that exists by name is left as it is. */
  ensureEndpointConfig(spec: EndpointConfigSpec): Promise<void>;
  /** The endpoint, or undefined when it does not exist. */
  describeEndpoint(endpointName: string): Promise<EndpointDescription | undefined>;
  /**
   * Starts creating the endpoint on a config. Returns once the request is accepted, not once the
   * endpoint serves: its state change event (or `describeEndpoint`) tells the outcome. No-op
   * when an endpoint of that name exists (a redelivered event).
   */
  createEndpoint(
    endpointName: string,
    configName: string,
    tags: Readonly<Record<string, string>>,
  ): Promise<void>;
  /**
   * Moves the endpoint to a new config with a blue/green rollout guarded by alarms. Returns once the
   * update is accepted; no-op when this very update is already in progress (a redelivered event).
   */
  updateEndpoint(endpointName: string, configName: string, policy: RolloutPolicy): Promise<void>;
  /** Deletes an endpoint (used only for one that failed before it ever served). No-op when missing. */
  deleteEndpoint(endpointName: string): Promise<void>;
}

/**
 * The hosting service refused a request; sending the same request again cannot succeed. The
 * version being rolled out ends DEPLOY_FAILED with this message as its reason.
 */
export class EndpointRequestRejected extends Error {
  override readonly name = 'EndpointRequestRejected';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}
