/**
 * What an operator command works against: the local cloud or a deployed stack, behind small
 * interfaces so each command is the same in both worlds and is tested with fakes. Where this
 * stands: CLI plumbing; cli/target/local-target.ts and cli/target/aws-target.ts build them,
 * cli/target/resolve.ts picks one from the command line.
 */
import type {
  AuditEvent,
  DatasetRecord,
  IncidentRecord,
  ModelRecord,
  VersionRecord,
} from '../../core/domain/registry';
import type { OperatorCommand, OperatorResult } from '../../core/domain/operator-commands';

/**
 * The registry reads the CLI makes, all keyed (GetItem and Query, never Scan): the subset of the
 * RegistryStore port (core/ports/registry-store.ts) that `DynamoDbRegistryStore` implements.
 */
export interface RegistryReader {
  listModels(): Promise<ModelRecord[]>;
  getModel(model: string): Promise<ModelRecord | undefined>;
  /** Oldest first. */
  listVersions(model: string): Promise<VersionRecord[]>;
  getVersion(model: string, version: number): Promise<VersionRecord | undefined>;
  listDatasets(model: string): Promise<DatasetRecord[]>;
  getDataset(model: string, datasetId: string): Promise<DatasetRecord | undefined>;
  /** Oldest first. */
  listAudit(model: string): Promise<AuditEvent[]>;
  /** Newest first. */
  listIncidents(model: string): Promise<IncidentRecord[]>;
  listOpenIncidents(): Promise<IncidentRecord[]>;
  getIncident(model: string, incidentId: string): Promise<IncidentRecord | undefined>;
}

/** One alarm of a model as the alarm service sees it now. */
export interface AlarmState {
  readonly name: string;
  /** `OK`, `ALARM` or `INSUFFICIENT_DATA`. */
  readonly state: string;
  readonly reason: string;
  readonly updatedAt: string;
  readonly threshold?: number;
  /** The model the alarm watches, when the name is one of the product's. */
  readonly model?: string;
}

/** The product's alarms and their current states (CloudWatch DescribeAlarms, or the control API). */
export interface AlarmReader {
  /** The alarms of these models (by name, so an IAM policy can grant exactly the model alarms). */
  listAlarms(models: readonly string[]): Promise<AlarmState[]>;
}

/** Sends an operator command to the stack's operator function (or the local cloud's) and returns its answer. */
export interface OperatorClient {
  send(command: OperatorCommand): Promise<OperatorResult>;
}

/** Bytes sent so far of an upload, and its size when known. */
export interface UploadProgress {
  readonly loaded: number;
  readonly total?: number;
}

/** Where an uploaded object ended, as S3 answered. */
export interface UploadedObject {
  readonly bucket: string;
  readonly key: string;
  readonly bytes: number;
  /** Without the quotes S3 puts around it (as its events carry it). */
  readonly etag?: string;
  readonly versionId?: string;
}

/** Uploads a file into the data bucket (multipart for large files). */
export interface DatasetUploader {
  upload(file: string, key: string, onProgress: (progress: UploadProgress) => void): Promise<UploadedObject>;
}

/** Where a command runs: the local cloud, or a deployed stack through the user's own AWS credentials. */
export interface Target {
  readonly kind: 'local' | 'aws';
  /** For messages: `local cloud in .mlops-local`, `stack ServerlessMlops (eu-west-1)`. */
  readonly description: string;
  readonly bucket: string;
  /** The stack's resource prefix (alarm, endpoint and job names), when known. */
  readonly resourcePrefix?: string;
  readonly registry: RegistryReader;
  readonly alarms: AlarmReader;
  readonly operator: OperatorClient;
  readonly uploader: DatasetUploader;
  /** Who runs the command, for the audit trail: STS caller ARN in AWS, `local:<os user>` locally. */
  actor(): Promise<string>;
  /** Releases the SDK clients. */
  close(): void;
}

/** How the command line names the target. */
export interface TargetOptions {
  /** The local cloud's folder (default `.mlops-local`). */
  readonly dir: string;
  /** A deployed stack's name: AWS instead of the local cloud. */
  readonly stack?: string;
  readonly region?: string;
}

/** Builds the target a command line names; injected into the commands so tests pass fakes. */
export type TargetResolver = (options: TargetOptions) => Promise<Target>;
