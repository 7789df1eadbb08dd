/**
 * Test support for the registry store suites (the contract run against every store, and the
 * DynamoDB store's own tests): unique model names, strictly increasing timestamps, datasets,
 * version registrations, transition requests, notifications, and walks through the status machine
 * to put a version in any status.
 */
import { expect } from 'vitest';
import {
  VERSION_TRANSITIONS,
  type AuditEvent,
  type DatasetRecord,
  type VersionStatus,
} from '../../core/domain/registry';
import type { Notification } from '../../core/ports/monitoring';
import type { NewVersion, RegistryStore, TransitionRequest } from '../../core/ports/registry-store';

let modelCount = 0;
/** A model name no other test of this process uses. */
export function uniqueModel(label: string): string {
  modelCount += 1;
  return `${label}-${modelCount}`;
}

let tick = 0;
/** Strictly increasing ISO timestamps. */
export function nextAt(): string {
  tick += 1;
  return new Date(Date.UTC(2026, 0, 1) + tick * 1000).toISOString();
}

/** An audit line with the given id. */
export function audit(model: string, eventId: string, fields: Partial<AuditEvent> = {}): AuditEvent {
  return { model, at: nextAt(), eventId, type: 'TEST', actor: 'test', reason: 'because', ...fields };
}

/** An accepted dataset with a profile. */
export function dataset(
  model: string,
  datasetId: string,
  overrides: Partial<DatasetRecord> = {},
): DatasetRecord {
  return {
    model,
    datasetId,
    sourceUri: `s3://data/datasets/${model}/${datasetId}.csv`,
    contentHash: `hash-${datasetId}`,
    status: 'ACCEPTED',
    profile: {
      rows: 100,
      trainRows: 80,
      validationRows: 20,
      columns: [{ name: 'label', type: 'numeric', missing: 0, min: 0, max: 1 }],
    },
    createdAt: nextAt(),
    ...overrides,
  };
}

/**
 * A dataset and its version (TRAINING, job `mlops-<model>-v<n>-abcd`, which ResourceNames('mlops')
 * parses), with an `undefined` field the stores must drop rather than refuse.
 */
export function newVersion(model: string, datasetId: string): NewVersion {
  const ds = dataset(model, datasetId);
  return {
    dataset: ds,
    buildVersion: (version) => ({
      model,
      version,
      status: 'TRAINING',
      datasetId,
      trainingJobName: `mlops-${model}-v${version}-abcd`,
      image: 'xgboost:1.7-1',
      hyperparameters: { num_round: '10' },
      objectiveMetric: 'validation:auc',
      metrics: undefined,
      createdAt: ds.createdAt,
      updatedAt: ds.createdAt,
    }),
    audit: {
      model,
      at: ds.createdAt,
      eventId: `register-${datasetId}`,
      type: 'VERSION_REGISTERED',
      actor: 'ingest',
      to: 'TRAINING',
      reason: 'new dataset',
    },
  };
}

/** A transition request with its audit line (a fresh timestamp each call). */
export function transition(
  model: string,
  version: number,
  from: VersionStatus[],
  to: VersionStatus,
  set: TransitionRequest['set'] = {},
): TransitionRequest {
  const at = nextAt();
  return {
    model,
    version,
    from,
    to,
    set: { ...set, updatedAt: at },
    audit: {
      model,
      at,
      eventId: `${version}-${from.join('|')}-${to}`,
      type: 'VERSION_TRANSITION',
      actor: 'test',
      version,
      from: from.join('|'),
      to,
      reason: 'test',
    },
  };
}

/** A notification of the given kind. */
export function notice(model: string, kind: Notification['kind'] = 'training-failed'): Notification {
  return { kind, model, subject: `${model}: ${kind}`, message: 'what happened' };
}

/** The transition with a notification on its audit line. */
export function notifying(request: TransitionRequest, kind?: Notification['kind']): TransitionRequest {
  return { ...request, audit: { ...request.audit, notification: notice(request.model, kind) } };
}

/** The shortest path of allowed transitions from TRAINING to `status` (breadth-first on the table). */
export function pathTo(status: VersionStatus): [VersionStatus, VersionStatus][] {
  const previous = new Map<VersionStatus, VersionStatus>();
  const queue: VersionStatus[] = ['TRAINING'];
  const seen = new Set<VersionStatus>(queue);
  while (queue.length > 0) {
    const from = queue.shift()!;
    for (const to of VERSION_TRANSITIONS[from]) {
      if (seen.has(to)) continue;
      seen.add(to);
      previous.set(to, from);
      queue.push(to);
    }
  }
  if (!seen.has(status)) throw new Error(`${status} cannot be reached from TRAINING`);
  const path: [VersionStatus, VersionStatus][] = [];
  for (let to = status; to !== 'TRAINING';) {
    const from = previous.get(to)!;
    path.unshift([from, to]);
    to = from;
  }
  return path;
}

/**
 * Registers a version of a new model and walks it to `status` with `transitionVersion` only (no
 * rollout lock: DEPLOYING and PRODUCTION are reached without `startDeployment` and `promote`).
 */
export async function versionIn(
  store: RegistryStore,
  label: string,
  status: VersionStatus,
): Promise<{ model: string; version: number }> {
  const model = uniqueModel(label);
  const { version } = await store.registerDatasetAndVersion(newVersion(model, 'ds'));
  const n = version!.version;
  for (const [from, to] of pathTo(status))
    expect(await store.transitionVersion(transition(model, n, [from], to)), `${from} -> ${to}`).toBe(true);
  expect((await store.getVersion(model, n))?.status).toBe(status);
  return { model, version: n };
}

/**
 * Registers a version of `model` from `datasetId` and walks it to `status` as the use cases do:
 * DEPLOYING through `startDeployment`, so the model's challenger is this version.
 */
export async function registeredIn(
  store: RegistryStore,
  model: string,
  datasetId: string,
  status: 'TRAINING' | 'TRAINED' | 'APPROVED' | 'DEPLOYING',
): Promise<number> {
  const { version } = await store.registerDatasetAndVersion(newVersion(model, datasetId));
  const n = version!.version;
  const path: [VersionStatus, VersionStatus][] = [
    ['TRAINING', 'TRAINED'],
    ['TRAINED', 'APPROVED'],
  ];
  for (const [from, to] of path) {
    if (from === status) return n;
    expect(await store.transitionVersion(transition(model, n, [from], to))).toBe(true);
  }
  if (status === 'DEPLOYING')
    expect(await store.startDeployment(transition(model, n, ['APPROVED'], 'DEPLOYING'))).toBe(true);
  return n;
}
