/**
 * What every use case is given: the ports, the clock and the naming scheme. Where this stands:
 * core; the handlers build one per cold start from real adapters, tests and the local cloud build
 * their own.
 */
import type { ResourceNames } from '../domain/naming';
import type { Clock } from '../ports/clock';
import type { EndpointService } from '../ports/endpoint-service';
import type { AlarmService, Notifier } from '../ports/monitoring';
import type { ObjectStore } from '../ports/object-store';
import type { RegistryStore } from '../ports/registry-store';
import type { TrainingService } from '../ports/training-service';

/** Anything with the four usual log methods (Powertools' Logger fits). */
export interface Log {
  debug(message: string, ...extra: unknown[]): void;
  info(message: string, ...extra: unknown[]): void;
  warn(message: string, ...extra: unknown[]): void;
  error(message: string, ...extra: unknown[]): void;
}

/** The ports and settings the use cases share. */
export interface MlopsContext {
  readonly registry: RegistryStore;
  readonly objects: ObjectStore;
  readonly training: TrainingService;
  readonly endpoints: EndpointService;
  readonly alarms: AlarmService;
  readonly notifier: Notifier;
  readonly clock: Clock;
  readonly names: ResourceNames;
  readonly log: Log;
  /** The data bucket. */
  readonly bucket: string;
  /** The region, for regional image URIs. */
  readonly region: string;
  /** Parsed JSON merged under every model's config (the stack's defaults), if any. */
  readonly defaultModelConfig?: Readonly<Record<string, unknown>>;
}

/** A silent log for tests. */
export const silentLog: Log = { debug() {}, info() {}, warn() {}, error() {} };

/** Stable id for an audit line built from the parts that identify the change. */
export function auditId(...parts: (string | number | undefined)[]): string {
  return parts.filter((p) => p !== undefined).join(':');
}
