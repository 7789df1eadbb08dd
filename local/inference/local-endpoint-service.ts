/**
 * Local adapter of the {@link EndpointService} port: SageMaker hosting on one laptop. Where this
 * stands: adapter (the local twin of `adapters/aws/sagemaker-endpoint-service.ts`); the deployment
 * use cases drive it exactly as they drive SageMaker, and read it back through `describeEndpoint`
 * and "SageMaker Endpoint State Change" events.
 *
 * Each endpoint is a stable front server (one port for its whole life: its URL never changes)
 * routing to one or two fleets, each a real HTTP inference server ({@link InferenceServer}) serving
 * the model artifact (`model.tar.gz`) read from S3. Updates are blue/green: the green fleet starts
 * and must pass `/ping`, traffic shifts per the rollout policy (canary, linear, all at once) with a
 * baking wait after every shift while the rollback alarms are polled; an alarm in ALARM sends all
 * traffic back to blue (InService on the old config with a FailureReason), otherwise blue is
 * stopped after the termination wait. Waits are simulated seconds scaled by {@link LocalTime}.
 *
 * Models, configs and endpoints (with their ports) persist in `<root>/state.json`; after a restart
 * {@link LocalEndpointService.restore} brings endpoints back on the same ports.
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { get } from 'node:http';
import { join } from 'node:path';
import {
  EndpointRequestRejected,
  type EndpointConfigSpec,
  type EndpointDescription,
  type EndpointService,
  type ModelSpec,
  type RolloutPolicy,
} from '../../core/ports/endpoint-service';
import type { ObjectStore } from '../../core/ports/object-store';
import type { Log } from '../../core/use-cases/context';
import {
  cloudEvent,
  LOCAL_ACCOUNT,
  LOCAL_REGION,
  type AlarmStateReader,
  type CloudEvent,
  type EventPublisher,
  type LoadedModel,
  type LocalTime,
  type MetricSink,
} from '../contracts';
import { DataCapture, parseS3Uri } from './data-capture';
import { FrontServer, type Fault, type FleetTarget } from './front-server';
import { InferenceServer } from './inference-server';

export type { Fault } from './front-server';

/** What a {@link LocalEndpointService} needs from the rest of the local cloud, and its tuning. */
export interface LocalEndpointServiceOptions {
  /** Where state lives (`.mlops-local/endpoints`): `<root>/state.json`. */
  readonly root: string;
  /** Reads model artifacts, writes captured data. */
  readonly objects: ObjectStore;
  readonly events: EventPublisher;
  readonly metrics: MetricSink;
  readonly alarms: AlarmStateReader;
  readonly time: LocalTime;
  /** @default '127.0.0.1' */
  readonly host?: string;
  /** Loads a `model.tar.gz`. @default `loadModelArtifact` of `local/training/model-artifact` */
  readonly loadModel?: (tarGz: Uint8Array) => Promise<LoadedModel>;
  readonly log?: Log;
  /** Real milliseconds between data-capture writes. @default 5000 */
  readonly captureFlushIntervalMs?: number;
}

type Status = EndpointDescription['status'];

/** An endpoint as persisted. */
interface EndpointRecord {
  endpointName: string;
  endpointArn: string;
  status: Status;
  configName: string;
  pendingConfigName?: string;
  failureReason?: string;
  /** Epoch milliseconds. */
  creationTime: number;
  lastModifiedTime: number;
  tags: Record<string, string>;
  /** The front server's port, kept for the endpoint's whole life. */
  port?: number;
}

interface StateFile {
  version: 1;
  models: Record<string, ModelSpec>;
  configs: Record<string, EndpointConfigSpec>;
  endpoints: Record<string, EndpointRecord>;
}

/** A running fleet: one inference server and its data capture. */
interface Fleet {
  readonly configName: string;
  readonly variantName: string;
  readonly server: InferenceServer;
  readonly capture?: DataCapture;
}

/** What runs for an endpoint. */
interface Runtime {
  front?: FrontServer;
  blue?: Fleet;
  green?: Fleet;
  greenWeight: number;
  fault?: Fault;
  operation?: Promise<void>;
}

/** SageMaker reports its API errors as ValidationException with a fixed message (see the AWS twin). */
export class SageMakerValidationError extends Error {
  override readonly name = 'ValidationException';
}

/** A fleet that could not start: the message is the endpoint's FailureReason. */
class FleetError extends Error {
  override readonly name = 'FleetError';
}

const IN_PROGRESS: ReadonlySet<Status> = new Set(['Creating', 'Updating', 'SystemUpdating', 'RollingBack']);
/** SageMaker's timeout for one `/ping` request. */
const PING_TIMEOUT_MS = 2_000;
const MODEL_ARTIFACT_MODULE = '../../local/training/model-artifact';

const silent: Log = { debug() {}, info() {}, warn() {}, error() {} };

/**
 * SageMaker hosting on this machine behind the {@link EndpointService} port: models, configs and
 * endpoints served by local inference servers, blue/green updates, state kept across restarts (see
 * the header).
 */
export class LocalEndpointService implements EndpointService {
  private readonly log: Log;
  private readonly host: string;
  private readonly loadModel: (tarGz: Uint8Array) => Promise<LoadedModel>;
  private readonly runtimes = new Map<string, Runtime>();
  private loading: Promise<StateFile> | undefined;
  private saving: Promise<void> = Promise.resolve();
  private shutdown = new AbortController();

  constructor(private readonly options: LocalEndpointServiceOptions) {
    this.log = options.log ?? silent;
    this.host = options.host ?? '127.0.0.1';
    this.loadModel = options.loadModel ?? defaultLoadModel;
  }

  async ensureModel(spec: ModelSpec): Promise<void> {
    const state = await this.state();
    if (state.models[spec.modelName]) return;
    state.models[spec.modelName] = spec;
    await this.persist();
  }

  async ensureEndpointConfig(spec: EndpointConfigSpec): Promise<void> {
    if (!Number.isInteger(spec.capturePercent) || spec.capturePercent < 0 || spec.capturePercent > 100) {
      throw new EndpointRequestRejected(
        `capturePercent must be an integer from 0 to 100 (DataCaptureConfig.InitialSamplingPercentage); got ${spec.capturePercent}`,
      );
    }
    const state = await this.state();
    if (state.configs[spec.configName]) return;
    state.configs[spec.configName] = spec;
    await this.persist();
  }

  async describeEndpoint(endpointName: string): Promise<EndpointDescription | undefined> {
    const record = (await this.state()).endpoints[endpointName];
    return record ? describe(record) : undefined;
  }

  async createEndpoint(
    endpointName: string,
    configName: string,
    tags: Readonly<Record<string, string>>,
  ): Promise<void> {
    const state = await this.state();
    // Already exists (a redelivered event): its state is read from describeEndpoint and events.
    if (state.endpoints[endpointName]) return;
    if (!state.configs[configName]) {
      throw new EndpointRequestRejected(`Could not find endpoint configuration "${configArn(configName)}".`);
    }
    const now = Date.now();
    const record: EndpointRecord = {
      endpointName,
      endpointArn: endpointArn(endpointName),
      status: 'Creating',
      configName,
      pendingConfigName: configName,
      creationTime: now,
      lastModifiedTime: now,
      tags: { ...tags },
    };
    state.endpoints[endpointName] = record;
    this.emit(record);
    await this.persist();
    this.track(endpointName, this.provision(record));
  }

  async updateEndpoint(endpointName: string, configName: string, policy: RolloutPolicy): Promise<void> {
    const state = await this.state();
    const record = state.endpoints[endpointName];
    if (!record)
      throw new SageMakerValidationError(`Could not find endpoint "${endpointArn(endpointName)}".`);
    if (!state.configs[configName]) {
      throw new EndpointRequestRejected(`Could not find endpoint configuration "${configArn(configName)}".`);
    }
    if (IN_PROGRESS.has(record.status)) {
      // The very update in progress (a redelivered event): nothing to do.
      if (record.pendingConfigName === configName) return;
      throw new SageMakerValidationError(`Cannot update in-progress endpoint "${record.endpointArn}".`);
    }
    if (record.status !== 'InService') {
      throw new SageMakerValidationError(
        `Cannot update endpoint "${record.endpointArn}" because it is in status ${record.status}.`,
      );
    }
    // Already serving that config: nothing to roll out.
    if (record.configName === configName) return;
    const steps = trafficSteps(policy);
    await this.transition(record, {
      status: 'Updating',
      pendingConfigName: configName,
      failureReason: undefined,
    });
    this.track(endpointName, this.rollout(record, configName, policy, steps));
  }

  async deleteEndpoint(endpointName: string): Promise<void> {
    const state = await this.state();
    const record = state.endpoints[endpointName];
    if (!record) return;
    if (IN_PROGRESS.has(record.status)) {
      throw new SageMakerValidationError(`Cannot update in-progress endpoint "${record.endpointArn}".`);
    }
    await this.transition(record, { status: 'Deleting' });
    await this.stopRuntime(endpointName);
    this.runtimes.delete(endpointName);
    delete state.endpoints[endpointName];
    await this.persist();
  }

  /** The endpoint's stable URL (its front server), while it runs. */
  endpointUrl(endpointName: string): string | undefined {
    return this.runtimes.get(endpointName)?.front?.url;
  }

  /**
   * After a restart: brings endpoints back from `<root>/state.json` on their former ports.
   * InService endpoints serve again; an update that was in progress ends rolled back (InService on
   * the old config); a creation in progress starts over; a deletion in progress completes.
   */
  async restore(): Promise<void> {
    if (this.shutdown.signal.aborted) this.shutdown = new AbortController();
    const state = await this.state();
    for (const record of Object.values(state.endpoints)) {
      const name = record.endpointName;
      if (this.runtimes.get(name)?.front || this.runtimes.get(name)?.operation) continue;
      switch (record.status) {
        case 'InService':
          this.track(name, this.bringBack(record));
          break;
        case 'Updating':
        case 'SystemUpdating':
        case 'RollingBack':
          this.track(
            name,
            this.bringBack(
              record,
              `The update to ${record.pendingConfigName ?? 'a new endpoint configuration'} was interrupted when the local cloud stopped; the endpoint was rolled back to ${record.configName}.`,
            ),
          );
          break;
        case 'Creating':
          this.track(name, this.provision(record));
          break;
        case 'Deleting':
          delete state.endpoints[name];
          await this.persist();
          break;
        default:
          break;
      }
    }
    await Promise.all([...this.runtimes.values()].flatMap((rt) => rt.operation ?? []));
  }

  /** Stops every server (captured data is flushed) and saves state; `restore` brings them back. */
  async close(): Promise<void> {
    this.shutdown.abort();
    await Promise.all([...this.runtimes.values()].flatMap((rt) => rt.operation ?? []));
    await Promise.all([...this.runtimes.keys()].map((name) => this.stopRuntime(name)));
    this.runtimes.clear();
    if (this.loading) await this.persist();
    this.shutdown = new AbortController();
  }

  /** Injects a fault (demo): a share of 500s and/or added latency, on the green fleet or all traffic. */
  injectFault(endpointName: string, fault: Fault): void {
    if (fault.errorRate !== undefined && !(fault.errorRate >= 0 && fault.errorRate <= 1)) {
      throw new Error(`errorRate must be between 0 and 1, got ${fault.errorRate}`);
    }
    if (fault.addedLatencyMs !== undefined && !(fault.addedLatencyMs >= 0)) {
      throw new Error(`addedLatencyMs must be >= 0, got ${fault.addedLatencyMs}`);
    }
    const rt = this.runtime(endpointName);
    rt.fault = { ...fault };
    rt.front?.injectFault(rt.fault);
  }

  clearFault(endpointName: string): void {
    const rt = this.runtimes.get(endpointName);
    if (!rt) return;
    rt.fault = undefined;
    rt.front?.injectFault(undefined);
  }

  /** The inference servers behind the endpoint now (tests, demo): blue serves, green is being rolled out. */
  fleetUrls(endpointName: string): { blue?: string; green?: string; greenPercent: number } {
    const rt = this.runtimes.get(endpointName);
    return {
      ...(rt?.blue ? { blue: rt.blue.server.url } : {}),
      ...(rt?.green ? { green: rt.green.server.url } : {}),
      greenPercent: Math.round((rt?.greenWeight ?? 0) * 100),
    };
  }

  /** Resolves once no create/update is in progress for the endpoint, with its description. */
  async waitForStable(endpointName: string): Promise<EndpointDescription> {
    for (;;) {
      const operation = this.runtimes.get(endpointName)?.operation;
      if (!operation) break;
      await operation;
    }
    const description = await this.describeEndpoint(endpointName);
    if (!description) throw new Error(`endpoint ${endpointName} does not exist`);
    return description;
  }

  // --- creation, rollout, restore -------------------------------------------------------------

  private async provision(record: EndpointRecord): Promise<void> {
    const signal = this.shutdown.signal;
    const name = record.endpointName;
    let fleet: Fleet | undefined;
    try {
      fleet = await this.startFleet(name, record.configName);
      if (signal.aborted) return await stopFleet(fleet);
      await this.openFront(record, fleet);
    } catch (error) {
      if (fleet) await stopFleet(fleet);
      if (signal.aborted) return;
      this.log.warn('endpoint creation failed', { endpoint: name, error: String(error) });
      await this.transition(record, {
        status: 'Failed',
        pendingConfigName: undefined,
        failureReason: reasonOf(error),
      });
      return;
    }
    await this.transition(record, {
      status: 'InService',
      pendingConfigName: undefined,
      failureReason: undefined,
    });
  }

  /** Restarts an endpoint's serving fleet and front after a restart of the local cloud. */
  private async bringBack(record: EndpointRecord, rolledBackReason?: string): Promise<void> {
    const signal = this.shutdown.signal;
    let fleet: Fleet | undefined;
    try {
      fleet = await this.startFleet(record.endpointName, record.configName);
      if (signal.aborted) return await stopFleet(fleet);
      await this.openFront(record, fleet);
    } catch (error) {
      if (fleet) await stopFleet(fleet);
      if (signal.aborted) return;
      await this.transition(record, {
        status: 'Failed',
        pendingConfigName: undefined,
        failureReason: reasonOf(error),
      });
      return;
    }
    if (rolledBackReason) {
      await this.transition(record, {
        status: 'InService',
        pendingConfigName: undefined,
        failureReason: rolledBackReason,
      });
    } else {
      await this.persist();
    }
    this.log.info('endpoint restored', {
      endpoint: record.endpointName,
      url: this.endpointUrl(record.endpointName),
    });
  }

  /** Starts (or re-opens, on its former port) the endpoint's front with `fleet` as blue. */
  private async openFront(record: EndpointRecord, fleet: Fleet): Promise<void> {
    const rt = this.runtime(record.endpointName);
    const frontOptions = {
      endpointName: record.endpointName,
      metrics: this.options.metrics,
      host: this.host,
      log: this.log,
    };
    let front: FrontServer;
    try {
      front = await FrontServer.start({ ...frontOptions, port: record.port ?? 0 });
    } catch (error) {
      if (record.port === undefined || (error as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw error;
      this.log.warn('former endpoint port is taken; the endpoint gets a new URL', {
        endpoint: record.endpointName,
        port: record.port,
      });
      front = await FrontServer.start({ ...frontOptions, port: 0 });
    }
    rt.front = front;
    rt.blue = fleet;
    rt.green = undefined;
    rt.greenWeight = 0;
    front.route(target(fleet));
    front.injectFault(rt.fault);
    record.port = front.port;
  }

  private async rollout(
    record: EndpointRecord,
    configName: string,
    policy: RolloutPolicy,
    steps: number[],
  ): Promise<void> {
    const signal = this.shutdown.signal;
    const name = record.endpointName;
    const rt = this.runtime(name);
    let green: Fleet;
    try {
      green = await this.startFleet(name, configName);
    } catch (error) {
      if (signal.aborted) return;
      await this.rollBack(record, `Failed to update endpoint to ${configName}: ${reasonOf(error)}`);
      return;
    }
    if (signal.aborted) return await stopFleet(green);
    if (!rt.front || !rt.blue) {
      await stopFleet(green);
      await this.rollBack(
        record,
        `Failed to update endpoint to ${configName}: the endpoint is not running in this process (restore() brings endpoints back after a restart).`,
      );
      return;
    }
    rt.green = green;
    for (const weight of steps) {
      rt.greenWeight = weight;
      rt.front.route(target(rt.blue), target(green), weight);
      this.log.info('traffic shifted', {
        endpoint: name,
        configName,
        greenPercent: Math.round(weight * 100),
      });
      const firing = await this.bake(policy, signal);
      if (signal.aborted) return;
      if (firing) {
        await this.rollBack(
          record,
          `Endpoint update to ${configName} was rolled back because alarm ${firing} went into ALARM state while ${Math.round(weight * 100)}% of traffic was on the new fleet.`,
        );
        return;
      }
    }
    // All traffic is on green: the old fleet stays up for the termination wait, then goes.
    await sleep(this.options.time.ms(policy.terminationWaitSeconds), signal);
    if (signal.aborted) return;
    const blue = rt.blue;
    rt.blue = green;
    rt.green = undefined;
    rt.greenWeight = 0;
    rt.front.route(target(green));
    await rt.front.drained(target(blue));
    await stopFleet(blue);
    await this.transition(record, {
      status: 'InService',
      configName,
      pendingConfigName: undefined,
      failureReason: undefined,
    });
  }

  /** All traffic back to blue, green stopped, InService on the old config with the reason. */
  private async rollBack(record: EndpointRecord, reason: string): Promise<void> {
    const rt = this.runtime(record.endpointName);
    rt.greenWeight = 0;
    rt.front?.route(rt.blue ? target(rt.blue) : undefined);
    const green = rt.green;
    rt.green = undefined;
    if (green) {
      await rt.front?.drained(target(green));
      await stopFleet(green);
    }
    this.log.warn('endpoint update rolled back', { endpoint: record.endpointName, reason });
    await this.transition(record, {
      status: 'InService',
      pendingConfigName: undefined,
      failureReason: reason,
    });
  }

  /**
   * One baking wait: polls the rollback alarms until the wait is over. Returns the first alarm
   * found in ALARM, if any.
   */
  private async bake(policy: RolloutPolicy, signal: AbortSignal): Promise<string | undefined> {
    const total = this.options.time.ms(policy.bakeSeconds);
    const end = Date.now() + total;
    const poll = Math.max(5, Math.min(250, total / 5));
    for (;;) {
      const firing = this.firingAlarm(policy.rollbackAlarms);
      if (firing) return firing;
      const left = end - Date.now();
      if (left <= 0 || signal.aborted) return undefined;
      await sleep(Math.min(poll, left), signal);
    }
  }

  private firingAlarm(names: readonly string[]): string | undefined {
    if (names.length === 0) return undefined;
    try {
      const states = this.options.alarms.states(names);
      return names.find((name) => states.get(name) === 'ALARM');
    } catch (error) {
      this.log.warn('alarm states unavailable; the rollout goes on', { error: String(error) });
      return undefined;
    }
  }

  /** Reads the config's model artifact, loads it, starts an inference server and pings it. */
  private async startFleet(endpointName: string, configName: string): Promise<Fleet> {
    const state = await this.state();
    const config = state.configs[configName];
    if (!config) throw new FleetError(`Could not find endpoint configuration "${configArn(configName)}".`);
    const variant = config.variantName;
    const model = state.models[config.modelName];
    if (!model) throw new FleetError(`Could not find model "${modelArn(config.modelName)}".`);

    const bytes = await this.readArtifact(model.artifactUri, variant);
    let loaded: LoadedModel;
    try {
      loaded = await this.loadModel(bytes);
    } catch (error) {
      throw new FleetError(
        `The primary container for production variant ${variant} did not pass the ping health check: the model artifact ${model.artifactUri} could not be loaded (${errorText(error)}).`,
      );
    }
    // Serverless endpoints do not support data capture (as in the AWS adapter: SageMaker refuses it).
    const capture =
      config.hosting.type === 'instance' && config.capturePercent > 0
        ? new DataCapture({
            objects: this.options.objects,
            destinationS3Uri: config.captureUri,
            endpointName,
            variantName: variant,
            samplingPercentage: config.capturePercent,
            ...(this.options.captureFlushIntervalMs !== undefined
              ? { flushIntervalMs: this.options.captureFlushIntervalMs }
              : {}),
            log: this.log,
          })
        : undefined;
    const server = await InferenceServer.start({
      model: loaded,
      host: this.host,
      log: this.log,
      ...(capture ? { onInvocation: (record) => capture.capture(record) } : {}),
    });
    const fleet: Fleet = { configName, variantName: variant, server, ...(capture ? { capture } : {}) };
    if (!(await pingOk(server.url))) {
      await stopFleet(fleet);
      throw new FleetError(
        `The primary container for production variant ${variant} did not pass the ping health check. Please check CloudWatch logs for this endpoint.`,
      );
    }
    return fleet;
  }

  private async readArtifact(uri: string, variant: string): Promise<Uint8Array> {
    const downloadFailure = `Failed to download model data for container "container_1" (production variant ${variant}) from URL: "${uri}". Please ensure that there is an object located at the URL and that the role passed to CreateModel has permissions to download the object.`;
    let location: { bucket: string; prefix: string };
    try {
      location = parseS3Uri(uri);
    } catch {
      throw new FleetError(downloadFailure);
    }
    let object;
    try {
      object = await this.options.objects.read(location.bucket, location.prefix);
    } catch (error) {
      throw new FleetError(`${downloadFailure} (${errorText(error)})`);
    }
    if (!object) throw new FleetError(downloadFailure);
    const chunks: Uint8Array[] = [];
    for await (const chunk of object.body) chunks.push(chunk);
    return Buffer.concat(chunks);
  }

  // --- plumbing ---------------------------------------------------------------------------------

  private runtime(endpointName: string): Runtime {
    let rt = this.runtimes.get(endpointName);
    if (!rt) {
      rt = { greenWeight: 0 };
      this.runtimes.set(endpointName, rt);
    }
    return rt;
  }

  /** Runs an operation in the background; `waitForStable` and `close` wait for it. Never rejects. */
  private track(endpointName: string, task: Promise<void>): void {
    const rt = this.runtime(endpointName);
    const operation: Promise<void> = task
      .catch((error: unknown) => {
        this.log.error('endpoint operation failed', { endpoint: endpointName, error: String(error) });
      })
      .then(() => {
        if (rt.operation === operation) rt.operation = undefined;
      });
    rt.operation = operation;
  }

  private async stopRuntime(endpointName: string): Promise<void> {
    const rt = this.runtimes.get(endpointName);
    if (!rt) return;
    const { front, blue, green } = rt;
    rt.front = undefined;
    rt.blue = undefined;
    rt.green = undefined;
    await Promise.all([front?.stop(), blue && stopFleet(blue), green && stopFleet(green)]);
  }

  /** Applies a status change, stamps it, saves it and publishes the state-change event. */
  private async transition(
    record: EndpointRecord,
    patch: Partial<Pick<EndpointRecord, 'status' | 'configName' | 'pendingConfigName' | 'failureReason'>>,
  ): Promise<void> {
    for (const [key, value] of Object.entries(patch) as [keyof typeof patch, string | undefined][]) {
      if (value === undefined) delete record[key];
      else (record as unknown as Record<string, string>)[key] = value;
    }
    record.lastModifiedTime = Math.max(Date.now(), record.lastModifiedTime);
    this.emit(record);
    await this.persist();
  }

  private emit(record: EndpointRecord): void {
    const config = this.loadedState?.configs[record.configName];
    const event: CloudEvent = cloudEvent({
      detailType: 'SageMaker Endpoint State Change',
      source: 'aws.sagemaker',
      resources: [record.endpointArn],
      detail: {
        EndpointName: record.endpointName,
        EndpointArn: record.endpointArn,
        EndpointConfigName: record.configName,
        ProductionVariants: [
          config?.hosting.type === 'instance'
            ? { DesiredWeight: 1.0, DesiredInstanceCount: config.hosting.initialInstanceCount }
            : { DesiredWeight: 1.0 },
        ],
        EndpointStatus: upperSnake(record.status),
        CreationTime: record.creationTime,
        LastModifiedTime: record.lastModifiedTime,
        ...(record.failureReason !== undefined ? { FailureReason: record.failureReason } : {}),
        Tags: Object.entries(record.tags).map(([Key, Value]) => ({ Key, Value })),
      },
    });
    try {
      this.options.events.publish(event);
    } catch (error) {
      this.log.error('endpoint event not published', { endpoint: record.endpointName, error: String(error) });
    }
  }

  private loadedState: StateFile | undefined;

  private state(): Promise<StateFile> {
    this.loading ??= (async () => {
      let state: StateFile;
      try {
        state = JSON.parse(await readFile(this.stateFile(), 'utf8')) as StateFile;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
        state = { version: 1, models: {}, configs: {}, endpoints: {} };
      }
      this.loadedState = state;
      return state;
    })();
    return this.loading;
  }

  /** Saves state (writes are serialised; each replaces the file atomically). */
  private persist(): Promise<void> {
    const write = async () => {
      const state = this.loadedState;
      if (!state) return;
      await mkdir(this.options.root, { recursive: true });
      const tmp = `${this.stateFile()}.${process.pid}.tmp`;
      await writeFile(tmp, JSON.stringify(state, null, 2) + '\n', 'utf8');
      await rename(tmp, this.stateFile());
    };
    this.saving = this.saving.then(write, write);
    return this.saving;
  }

  private stateFile(): string {
    return join(this.options.root, 'state.json');
  }
}

/**
 * The green fleet's share of traffic after each shift: canary = [size, 100%], linear = steps of
 * the step size up to 100%, all at once = [100%]. A baking wait follows every shift.
 */
export function trafficSteps(policy: RolloutPolicy): number[] {
  if (policy.strategy === 'all_at_once') return [1];
  const step = policy.stepPercent;
  if (!(step > 0)) {
    throw new EndpointRequestRejected(`a ${policy.strategy} rollout needs a step size above 0%; got ${step}`);
  }
  if (step >= 100) return [1];
  if (policy.strategy === 'canary') return [step / 100, 1];
  const steps: number[] = [];
  for (let percent = step; percent < 100; percent += step) steps.push(percent / 100);
  steps.push(1);
  return steps;
}

function describe(record: EndpointRecord): EndpointDescription {
  return {
    endpointName: record.endpointName,
    status: record.status,
    configName: record.configName,
    ...(record.pendingConfigName !== undefined ? { pendingConfigName: record.pendingConfigName } : {}),
    ...(record.failureReason !== undefined ? { failureReason: record.failureReason } : {}),
    lastModifiedAt: new Date(record.lastModifiedTime).toISOString(),
  };
}

function target(fleet: Fleet): FleetTarget {
  return { url: fleet.server.url, variantName: fleet.variantName };
}

async function stopFleet(fleet: Fleet): Promise<void> {
  await fleet.server.stop();
  await fleet.capture?.close();
}

/** `InService` → `IN_SERVICE`, as EndpointStatus appears in events. */
export function upperSnake(status: string): string {
  return status.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase();
}

function endpointArn(name: string): string {
  return `arn:aws:sagemaker:${LOCAL_REGION}:${LOCAL_ACCOUNT}:endpoint/${name.toLowerCase()}`;
}

function configArn(name: string): string {
  return `arn:aws:sagemaker:${LOCAL_REGION}:${LOCAL_ACCOUNT}:endpoint-config/${name.toLowerCase()}`;
}

function modelArn(name: string): string {
  return `arn:aws:sagemaker:${LOCAL_REGION}:${LOCAL_ACCOUNT}:model/${name.toLowerCase()}`;
}

function reasonOf(error: unknown): string {
  return error instanceof FleetError ? error.message : `Internal error: ${errorText(error)}`;
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted || ms <= 0) return resolve();
    const onAbort = () => {
      clearTimeout(timer);
      resolve();
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** GET /ping answers 200 within SageMaker's 2-second timeout (a few tries). */
async function pingOk(url: string): Promise<boolean> {
  for (let attempt = 0; attempt < 3; attempt++) {
    if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, 100));
    const status = await new Promise<number | undefined>((resolve) => {
      const req = get(`${url}/ping`, { agent: false, timeout: PING_TIMEOUT_MS }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode));
      });
      req.on('timeout', () => req.destroy(new Error('ping timed out')));
      req.on('error', () => resolve(undefined));
    });
    if (status === 200) return true;
  }
  return false;
}

/** The local trainer's artifact loader, imported only when first needed. */
async function defaultLoadModel(tarGz: Uint8Array): Promise<LoadedModel> {
  const module = (await import(/* @vite-ignore */ MODEL_ARTIFACT_MODULE)) as {
    loadModelArtifact(tarGz: Uint8Array): Promise<LoadedModel>;
  };
  return module.loadModelArtifact(tarGz);
}
