/**
 * The operator's read commands (`models`, `versions`, `show`, `incidents`, `incident`) on a real
 * registry: DynamoDB Local (the run's shared one) seeded through the DynamoDB store, with fake
 * alarm states. Asserts each `--json` shape, the tables, colour rules and exit codes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoDbRegistryStore } from '../../../adapters/dynamodb/dynamodb-registry-store';
import { createIncidentCommand, createIncidentsCommand } from '../../../cli/commands/incidents';
import { createModelsCommand } from '../../../cli/commands/models';
import { createShowCommand, createVersionsCommand } from '../../../cli/commands/versions';
import type { CliCommand } from '../../../cli/command';
import type { AlarmState } from '../../../cli/target/target';
import { createRegistryTable, startDynamoDbLocal, type DynamoDbLocal } from '../../support/dynamodb-local';
import {
  audit,
  newVersion,
  nextAt,
  registeredIn,
  transition,
} from '../../support/registry-store-contract-fixtures';
import { captureIo, fakeTarget, run } from '../support/cli-fakes';

const TABLE = 'cli-reads';
let local: DynamoDbLocal;
let store: DynamoDbRegistryStore;
let incidentId: string;

const ALARMS: AlarmState[] = [
  {
    name: 'mlops-churn-feature-drift',
    state: 'ALARM',
    reason: 'drift',
    updatedAt: '2026-01-01T00:00:00Z',
    model: 'churn',
  },
  {
    name: 'mlops-churn-error-rate',
    state: 'OK',
    reason: 'fine',
    updatedAt: '2026-01-01T00:00:00Z',
    model: 'churn',
  },
  {
    name: 'mlops-fraud-feature-drift',
    state: 'OK',
    reason: 'fine',
    updatedAt: '2026-01-01T00:00:00Z',
    model: 'fraud',
  },
];

beforeAll(async () => {
  local = await startDynamoDbLocal();
  await createRegistryTable(local.client, TABLE);
  store = new DynamoDbRegistryStore(local.documentClient, TABLE);
  // churn: v1 in production (the champion), v2 waiting for approval, an open incident on v1.
  const v1 = await registeredIn(store, 'churn', 'day-1', 'TRAINED');
  await store.transitionVersion(
    transition('churn', v1, ['TRAINED'], 'APPROVED', { metrics: { 'validation:auc': 0.91 } }),
  );
  await store.startDeployment(transition('churn', v1, ['APPROVED'], 'DEPLOYING'));
  await store.promote({
    model: 'churn',
    version: v1,
    at: nextAt(),
    audit: audit('churn', 'promote-1', { version: v1, type: 'PROMOTED', to: 'PRODUCTION' }),
  });
  const v2 = await registeredIn(store, 'churn', 'day-2', 'TRAINED');
  await store.transitionVersion(
    transition('churn', v2, ['TRAINED'], 'PENDING_APPROVAL', {
      metrics: { 'validation:auc': 0.93 },
      gate: { passed: true, checks: [{ name: 'threshold', passed: true, detail: 'auc 0.93 >= 0.8' }] },
    }),
  );
  const openedAt = nextAt();
  incidentId = `mlops-churn-feature-drift@${openedAt}`;
  await store.openIncident(
    {
      model: 'churn',
      alarmName: 'mlops-churn-feature-drift',
      incidentId,
      status: 'OPEN',
      openedAt,
      reason: 'Threshold Crossed: 0.62 > 0.2',
      version: v1,
      policy: 'retrain',
      evidence: {
        threshold: 0.2,
        comparison: 'GreaterThanThreshold',
        datapoints: [{ at: openedAt, value: 0.62 }],
        driftedFeatures: [{ feature: 'tenure', distance: 0.62, psi: 1.4 }],
      },
      timeToDetectSeconds: 120,
      action: {
        kind: 'retrain',
        status: 'started',
        at: openedAt,
        detail: 'retraining from day-2',
        version: 3,
      },
    },
    audit('churn', 'incident', { type: 'INCIDENT_OPENED', version: v1 }),
  );
  // fraud: one version still training. leads: a training that failed.
  await store.registerDatasetAndVersion(newVersion('fraud', 'f-1'));
  const l1 = await registeredIn(store, 'leads', 'l-1', 'TRAINING');
  await store.transitionVersion(
    transition('leads', l1, ['TRAINING'], 'FAILED', { failureReason: 'AlgorithmError: bad label' }),
  );
});

afterAll(async () => {
  await local?.stop();
});

function commands(options: { alarms?: AlarmState[] | Error; resourcePrefix?: string } = {}): {
  list: CliCommand[];
  closed: () => number;
} {
  const { resolver, closed } = fakeTarget(store, {
    alarms: options.alarms ?? ALARMS,
    ...(options.resourcePrefix !== undefined ? { resourcePrefix: options.resourcePrefix } : {}),
  });
  return {
    list: [
      createModelsCommand(resolver),
      createVersionsCommand(resolver),
      createShowCommand(resolver),
      createIncidentsCommand(resolver),
      createIncidentCommand(resolver),
    ],
    closed,
  };
}

describe('mlops models', () => {
  it('lists the fleet worst first, in the documented JSON shape', async () => {
    const { list, closed } = commands();
    const result = await run(list, ['models', '--json']);
    expect(result.code).toBe(0);
    const out = result.json() as { target: string; alarmsError: null; models: Record<string, unknown>[] };
    expect(Object.keys(out).sort()).toEqual(['alarmsError', 'models', 'target']);
    expect(out.models.map((m) => [m.model, m.health])).toEqual([
      ['churn', 'incident'],
      ['leads', 'failed'],
      ['fraud', 'in-progress'],
    ]);
    const churn = out.models[0]!;
    expect(Object.keys(churn).sort()).toEqual(
      [
        'alarmPolicy',
        'alarmsFiring',
        'champion',
        'drift',
        'health',
        'lastData',
        'model',
        'newest',
        'openIncidents',
        'pendingApprovals',
        'versionCounts',
      ].sort(),
    );
    expect(churn).toMatchObject({
      champion: { version: 1, metric: { name: 'validation:auc', value: 0.91 } },
      newest: { version: 2, status: 'PENDING_APPROVAL', reason: null },
      openIncidents: 1,
      alarmsFiring: ['mlops-churn-feature-drift'],
      drift: 'ALARM',
      lastData: { datasetId: 'day-2', status: 'ACCEPTED', decision: null },
      pendingApprovals: [2],
      versionCounts: { PRODUCTION: 1, PENDING_APPROVAL: 1 },
      alarmPolicy: 'notify',
    });
    expect(out.models[1]).toMatchObject({
      champion: null,
      newest: { status: 'FAILED', reason: 'AlgorithmError: bad label' },
      drift: 'unknown',
    });
    expect(closed()).toBe(1); // the target's clients are released
  });

  it('filters by a version status, by health and by incidents', async () => {
    const models = async (...args: string[]) =>
      (
        (await run(commands().list, ['models', '--json', ...args])).json() as { models: { model: string }[] }
      ).models.map((m) => m.model);
    expect(await models('--status', 'PENDING_APPROVAL')).toEqual(['churn']);
    expect(await models('--status', 'TRAINING')).toEqual(['fraud']);
    expect(await models('--health', 'failed')).toEqual(['leads']);
    expect(await models('--with-incidents')).toEqual(['churn']);
  });

  it('prints a table, coloured only on a terminal without NO_COLOR', async () => {
    const plain = await run(commands().list, ['models']);
    expect(plain.stdout.split('\n')[0]).toMatch(
      /^MODEL\s+HEALTH\s+CHAMPION\s+METRIC\s+NEWEST\s+INCIDENTS\s+DRIFT\s+LAST DATA\s+PENDING$/,
    );
    expect(plain.stdout).toMatch(
      /churn\s+incident\s+v1\s+validation:auc 0.91\s+v2 PENDING_APPROVAL\s+1\s+ALARM/,
    );
    expect(plain.stdout).not.toContain('\u001b[');
    const tty = await run(commands().list, ['models'], captureIo({ tty: true }));
    expect(tty.stdout).toContain('\u001b[31m');
    const noColor = await run(commands().list, ['models'], captureIo({ tty: true, env: { NO_COLOR: '1' } }));
    expect(noColor.stdout).not.toContain('\u001b[');
  });

  it('still lists the fleet when the alarm states cannot be read, and says why', async () => {
    const result = await run(commands({ alarms: new Error('GET /alarms answered 500') }).list, ['models']);
    expect(result.code).toBe(0);
    expect(result.stderr).toContain('alarm states unavailable');
    const json = (await run(commands({ alarms: new Error('down') }).list, ['models', '--json'])).json();
    expect(json).toMatchObject({ alarmsError: 'down' });
  });

  it('refuses a bad filter (exit 2) before resolving any target', async () => {
    const { list } = commands();
    const result = await run(list, ['models', '--status', 'BROKEN']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--status must be one of TRAINING');
    expect((await run(list, ['models', '--region', 'eu-west-1'])).code).toBe(2);
  });
});

describe('mlops versions and show', () => {
  it('lists versions newest first with the champion marked', async () => {
    const result = await run(commands().list, ['versions', 'churn', '--json']);
    expect(result.code).toBe(0);
    const out = result.json() as { versions: Record<string, unknown>[] };
    expect(out).toMatchObject({ model: 'churn', champion: 1, challenger: null });
    expect(out.versions.map((v) => [v.version, v.status, v.champion])).toEqual([
      [2, 'PENDING_APPROVAL', false],
      [1, 'PRODUCTION', true],
    ]);
    expect(Object.keys(out.versions[0]!).sort()).toEqual([
      'champion',
      'createdAt',
      'datasetId',
      'gatePassed',
      'metric',
      'origin',
      'reason',
      'status',
      'updatedAt',
      'version',
    ]);
    expect(out.versions[0]).toMatchObject({
      gatePassed: true,
      origin: 'upload',
      metric: { name: 'validation:auc', value: 0.93 },
    });
    const table = await run(commands().list, ['versions', 'churn']);
    expect(table.stdout).toMatch(/\*v1\s+PRODUCTION/);
  });

  it('shows the champion’s lineage and its own timeline by default', async () => {
    const result = await run(commands().list, ['show', 'churn', '--json']);
    expect(result.code).toBe(0);
    const out = result.json() as {
      version: { version: number };
      lineage: Record<string, unknown>;
      timeline: { version: number }[];
    };
    expect(out.version.version).toBe(1);
    expect(Object.keys(out.lineage).sort()).toEqual([
      'artifact',
      'contentHash',
      'dataQuality',
      'datasetUri',
      'endpoint',
      'endpointConfig',
      'gateChecks',
      'hyperparameters',
      'image',
      'metrics',
      'origin',
      'rows',
      'trainingJob',
    ]);
    expect(out.lineage).toMatchObject({
      datasetUri: 's3://data/datasets/churn/day-1.csv',
      contentHash: 'hash-day-1',
      rows: 100,
      trainingJob: 'mlops-churn-v1-abcd',
      hyperparameters: { num_round: '10' },
    });
    expect(out.timeline.length).toBeGreaterThan(2);
    expect(out.timeline.every((line) => line.version === 1)).toBe(true);
    const text = await run(commands().list, ['show', 'churn', '2']);
    expect(text.stdout).toContain('churn v2  PENDING_APPROVAL');
    expect(text.stdout).toContain('pass  threshold: auc 0.93 >= 0.8');
  });

  it('answers 3 for a model or version that does not exist, 2 for a bad version', async () => {
    const missing = await run(commands().list, ['versions', 'nope']);
    expect(missing.code).toBe(3);
    expect(missing.stderr).toContain('no model "nope"');
    expect((await run(commands().list, ['show', 'churn', '9'])).code).toBe(3);
    expect((await run(commands().list, ['show', 'churn', 'x'])).code).toBe(2);
    expect((await run(commands().list, ['show', 'Bad_Name'])).code).toBe(2);
  });
});

describe('mlops incidents and incident', () => {
  it('lists open incidents with their policy action', async () => {
    const result = await run(commands().list, ['incidents', '--open', '--json']);
    expect(result.code).toBe(0);
    const out = result.json() as { incidents: Record<string, unknown>[] };
    expect(out.incidents).toHaveLength(1);
    expect(Object.keys(out.incidents[0]!).sort()).toEqual([
      'action',
      'alarmName',
      'incidentId',
      'model',
      'openedAt',
      'policy',
      'reason',
      'resolvedAt',
      'status',
      'timeToDetectSeconds',
      'timeToRecoverSeconds',
      'version',
    ]);
    expect(out.incidents[0]).toMatchObject({
      incidentId,
      model: 'churn',
      version: 1,
      policy: 'retrain',
      action: { kind: 'retrain', status: 'started' },
      timeToDetectSeconds: 120,
      timeToRecoverSeconds: null,
    });
    const all = (await run(commands().list, ['incidents', '--model', 'fraud', '--json'])).json();
    expect(all).toEqual({ incidents: [] });
  });

  it('shows one incident with its evidence, finding the model from the alarm name', async () => {
    for (const prefix of ['mlops', undefined]) {
      const result = await run(commands(prefix ? { resourcePrefix: prefix } : {}).list, [
        'incident',
        incidentId,
        '--json',
      ]);
      expect(result.code).toBe(0);
      expect(result.json()).toMatchObject({
        incident: {
          incidentId,
          evidence: { driftedFeatures: [{ feature: 'tenure', distance: 0.62, psi: 1.4 }] },
        },
      });
    }
    const text = await run(commands().list, ['incident', incidentId]);
    expect(text.stdout).toMatch(/tenure\s+0.62\s+1.4/);
    expect(text.stdout).toContain('time to detect  2m00s');
    expect(text.stdout).toContain('retrain started');
  });

  it('answers 3 for an unknown incident and 2 for what is not an incident id', async () => {
    expect(
      (await run(commands().list, ['incident', 'mlops-churn-error-rate@2020-01-01T00:00:00.000Z'])).code,
    ).toBe(3);
    expect((await run(commands().list, ['incident', 'nonsense'])).code).toBe(2);
  });
});
