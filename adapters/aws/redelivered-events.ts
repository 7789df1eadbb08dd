/**
 * The events the reconciler re-delivers, in EventBridge's envelope, shaped as AWS sends them (S3
 * User Guide, "EventBridge event message structure"; SageMaker Developer Guide, "Automating
 * SageMaker with EventBridge"). Where this stands: adapter helper, shared by the AWS re-delivery
 * adapter and the local cloud's. Each carries `replay-name` (the field EventBridge adds to
 * replayed events) so that logs tell a re-delivery from the original.
 */
import { randomUUID } from 'node:crypto';
import type { RedeliveredObject } from '../../core/ports/event-redelivery';

/** The `replay-name` of every re-delivered event. */
export const REDELIVERY_REPLAY_NAME = 'mlops-reconciler';

/** Where the event claims to come from. */
export interface EventOrigin {
  readonly region: string;
  readonly account: string;
  /** @default 'aws' */
  readonly partition?: string;
  /** @default now */
  readonly time?: Date;
}

/** EventBridge's envelope around a detail. */
export interface RedeliveredEvent<D> {
  readonly version: '0';
  readonly id: string;
  readonly 'detail-type': string;
  readonly source: string;
  readonly account: string;
  readonly time: string;
  readonly region: string;
  readonly resources: readonly string[];
  readonly detail: D;
  readonly 'replay-name': string;
}

function envelope<D>(
  origin: EventOrigin,
  source: string,
  detailType: string,
  resources: string[],
  detail: D,
): RedeliveredEvent<D> {
  return {
    version: '0',
    id: randomUUID(),
    'detail-type': detailType,
    source,
    account: origin.account,
    // EventBridge's `time` has second precision.
    time: (origin.time ?? new Date()).toISOString().replace(/\.\d{3}Z$/, 'Z'),
    region: origin.region,
    resources,
    detail,
    'replay-name': REDELIVERY_REPLAY_NAME,
  };
}

/** S3 "Object Created" for an object ingest never heard of. */
export function objectCreatedEvent(object: RedeliveredObject, origin: EventOrigin) {
  return envelope(
    origin,
    'aws.s3',
    'Object Created',
    [`arn:${origin.partition ?? 'aws'}:s3:::${object.bucket}`],
    {
      version: '0',
      bucket: { name: object.bucket },
      object: {
        key: object.key,
        size: object.size,
        ...(object.etag !== undefined ? { etag: object.etag } : {}),
        ...(object.versionId !== undefined ? { 'version-id': object.versionId } : {}),
        ...(object.sequencer !== undefined ? { sequencer: object.sequencer } : {}),
      },
      'request-id': REDELIVERY_REPLAY_NAME,
      requester: origin.account,
      reason: 'PutObject',
    },
  );
}

/** "SageMaker Training Job State Change" (TrainingJobStatus in the API's spelling, `Completed`). */
export function trainingJobStateChangeEvent(
  change: { jobName: string; status: string },
  origin: EventOrigin,
) {
  return envelope(
    origin,
    'aws.sagemaker',
    'SageMaker Training Job State Change',
    [
      `arn:${origin.partition ?? 'aws'}:sagemaker:${origin.region}:${origin.account}:training-job/${change.jobName}`,
    ],
    { TrainingJobName: change.jobName, TrainingJobStatus: change.status },
  );
}

/** "SageMaker Endpoint State Change" (EndpointStatus in the event's spelling, `IN_SERVICE`). */
export function endpointStateChangeEvent(
  change: { endpointName: string; status: string; configName?: string },
  origin: EventOrigin,
) {
  return envelope(
    origin,
    'aws.sagemaker',
    'SageMaker Endpoint State Change',
    [
      `arn:${origin.partition ?? 'aws'}:sagemaker:${origin.region}:${origin.account}:endpoint/${change.endpointName}`,
    ],
    {
      EndpointName: change.endpointName,
      EndpointStatus: eventStatus(change.status),
      ...(change.configName !== undefined ? { EndpointConfigName: change.configName } : {}),
    },
  );
}

/** `InService` -> `IN_SERVICE`, `UpdateRollbackFailed` -> `UPDATE_ROLLBACK_FAILED`. */
export function eventStatus(apiStatus: string): string {
  return apiStatus.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase();
}
