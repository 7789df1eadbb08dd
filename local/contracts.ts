/**
 * The local cloud's internal contracts: how its parts (event bus, trainer, endpoints, metrics and
 * alarms, supervisor) talk to each other. Where this stands: local runtime, outside the core; the
 * core and the handlers never import anything from `local/`.
 */
import { randomUUID } from 'node:crypto';

/** The account id the local cloud puts in ARNs and events. */
export const LOCAL_ACCOUNT = '000000000000';
/** The region the local cloud claims to be. */
export const LOCAL_REGION = 'us-east-1';

/**
 * The local cloud's one credential pair, s3rver's fixed `S3RVER`/`S3RVER`: the S3 API verifies
 * signatures made with it and DynamoDB Local answers no other access key. Public, as printed: it
 * shows that an AWS client made a request, not who.
 */
export const LOCAL_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } as const;

/** An event in EventBridge's envelope, exactly as AWS delivers it to a rule's target. */
export interface CloudEvent<D = Record<string, unknown>> {
  readonly version: '0';
  readonly id: string;
  readonly 'detail-type': string;
  readonly source: string;
  readonly account: string;
  readonly time: string;
  readonly region: string;
  readonly resources: readonly string[];
  readonly detail: D;
}

/** What differs between two {@link CloudEvent}s; {@link cloudEvent} fills in the rest of the envelope. */
export interface CloudEventParts<D> {
  /** The event's `detail-type`, e.g. `'Object Created'`. */
  readonly detailType: string;
  /** The emitting service, e.g. `'aws.s3'`. */
  readonly source: string;
  /** ARNs of the resources the event is about. */
  readonly resources: readonly string[];
  /** The event's payload, in the emitting service's own shape. */
  readonly detail: D;
  /** When it happened (a valid date). @default now */
  readonly time?: Date | undefined;
  /** The event's id, for a caller that must know it in advance. @default a fresh UUID */
  readonly id?: string | undefined;
}

/**
 * Puts `detail` in EventBridge's envelope as the local cloud's account and region deliver it: the
 * one place the local services build the events they publish, so every one has the same shape.
 */
export function cloudEvent<D>(parts: CloudEventParts<D>): CloudEvent<D> {
  return {
    version: '0',
    id: parts.id ?? randomUUID(),
    'detail-type': parts.detailType,
    source: parts.source,
    account: LOCAL_ACCOUNT,
    time: eventTime(parts.time ?? new Date()),
    region: LOCAL_REGION,
    resources: [...parts.resources],
    detail: parts.detail,
  };
}

/**
 * An envelope's `time` as EventBridge writes it: ISO 8601 in UTC to the second, without
 * milliseconds (`2019-12-01T00:00:00Z`, as in AWS's sample events). Throws a RangeError for an
 * invalid date.
 */
export function eventTime(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** Where local services put the events AWS would send to EventBridge. */
export interface EventPublisher {
  /** Queues an event for delivery; never throws (delivery and retries are the bus's job). */
  publish(event: CloudEvent): void;
}

/** One metric data point, as PutMetricData (or SageMaker's own endpoint metrics) would record it. */
export interface MetricDatum {
  readonly namespace: string;
  readonly name: string;
  readonly dimensions: Readonly<Record<string, string>>;
  readonly value: number;
  readonly unit: 'Count' | 'Microseconds' | 'Milliseconds' | 'Seconds' | 'Percent' | 'None';
  readonly timestamp: Date;
}

/** Where local services write metrics. */
export interface MetricSink {
  put(datum: MetricDatum): void;
}

/** Reads alarm states (local endpoints use it to roll back a blue/green update). */
export interface AlarmStateReader {
  /** Current state of each named alarm that exists. */
  states(names: readonly string[]): ReadonlyMap<string, 'OK' | 'ALARM' | 'INSUFFICIENT_DATA'>;
}

/**
 * Local time. AWS counts alarm periods and bake times in minutes; the local cloud can run them
 * faster: `scale` simulated seconds pass per real second (1 = real time). Only waits and metric
 * periods are scaled; timestamps are real.
 */
export interface LocalTime {
  readonly scale: number;
  /** Real milliseconds for a duration given in simulated seconds. */
  ms(simulatedSeconds: number): number;
}

/** A {@link LocalTime} running `scale` times faster than real time; throws unless `scale` > 0. */
export function localTime(scale = 1): LocalTime {
  if (!(scale > 0)) throw new Error(`time scale must be > 0, got ${scale}`);
  return { scale, ms: (seconds) => (seconds * 1000) / scale };
}

/**
 * The artifact a local built-in training job writes (inside `model.tar.gz`) and a local endpoint
 * serves: `model.json` holding a {@link LocalModelDocument}.
 */
export const LOCAL_MODEL_FILE = 'model.json';

/** A trained model as loaded by an inference server. */
export interface LoadedModel {
  /** Number of feature columns a request row must have (label excluded). */
  readonly featureCount: number;
  /** Predictions for rows of features (null = missing), one number per row (a probability for binary). */
  predict(rows: readonly (readonly (number | null)[])[]): number[];
}
