/**
 * Test support for the DynamoDB registry store's integration tests: unique model names, strictly
 * increasing timestamps, version registrations and transition requests, and a walk through the
 * status machine to put a version in any status.
 */
import { expect } from 'vitest';
import type { DynamoDbRegistryStore } from '../../../adapters/dynamodb/dynamodb-registry-store';
import { VERSION_TRANSITIONS, type AuditEvent, type VersionStatus } from '../../../core/domain/registry';
import type { NewVersion, TransitionRequest } from '../../../core/ports/registry-store';

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

/** A dataset and its version (TRAINING, job `mlops-<model>-v<n>-abcd`, which ResourceNames('mlops') parses). */
export function newVersion(model: string, datasetId: string): NewVersion {
  const createdAt = nextAt();
  return {
    dataset: {
      model,
      datasetId,
      sourceUri: `s3://data/datasets/${model}/${datasetId}.csv`,
      status: 'ACCEPTED',
      createdAt,
    },
    buildVersion: (version) => ({
      model,
      version,
      status: 'TRAINING',
      datasetId,
      trainingJobName: `mlops-${model}-v${version}-abcd`,
      image: 'xgboost:1.7-1',
      hyperparameters: { num_round: '10' },
      objectiveMetric: 'validation:auc',
      createdAt,
      updatedAt: createdAt,
    }),
    audit: {
      model,
      at: createdAt,
      eventId: `register-${datasetId}`,
      type: 'VERSION_REGISTERED',
      actor: 'test',
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

/** Registers a version of a new model and walks it through allowed transitions to `status`. */
export async function versionIn(
  store: DynamoDbRegistryStore,
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
