/**
 * The monitor handler: scheduled events monitor the last complete hour before the event's time
 * (a retried delivery monitors the same window), `{ "model": ... }` runs on demand over the hour
 * ending now, anything else is dropped as malformed. The EMF adapter prints exactly the metrics
 * the drift alarms watch.
 */
import { describe, expect, it, vi } from 'vitest';
import { createEmfMetrics, EmfMetricsPublisher } from '../../../adapters/aws/emf-metrics-publisher';
import { ResourceNames } from '../../../core/domain/naming';
import type { MetricBatch } from '../../../core/ports/metrics';
import type { RegistryStore } from '../../../core/ports/registry-store';
import { silentLog, type MlopsContext } from '../../../core/use-cases/context';
import { createMonitorHandler } from '../../../lambdas/monitor/handler';
import { lambdaContext } from '../../support/pipeline-harness';

const NOW = new Date('2025-06-03T12:10:00.000Z');

function harness(models: string[] = [], options: { throttledModel?: string } = {}) {
  const asked: string[] = [];
  const read: string[] = [];
  const registry = {
    listVersionsByStatus: (status: string) => {
      asked.push(status);
      return Promise.resolve(
        models.map((model) => ({ model, version: 1, status: 'PRODUCTION', datasetId: 'ds' })),
      );
    },
    getModel: () => Promise.resolve(undefined),
  } as unknown as RegistryStore;
  const ctx = {
    registry,
    objects: {
      readText: (_bucket: string, key: string) => {
        read.push(key);
        if (options.throttledModel && key.includes(`/${options.throttledModel}/`)) {
          return Promise.reject(Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' }));
        }
        return Promise.resolve(undefined);
      },
      list: () => Promise.resolve([]),
    },
    clock: { now: () => NOW },
    names: new ResourceNames('mlops'),
    log: silentLog,
    bucket: 'data',
    region: 'us-east-1',
  } as unknown as MlopsContext;
  const published: MetricBatch[] = [];
  const handler = createMonitorHandler(() => ctx, {
    publish: (b) => {
      published.push(b);
      return Promise.resolve();
    },
  });
  return { handler, asked, read, published };
}

const scheduled = (time: string) => ({
  version: '0',
  id: 'e1',
  'detail-type': 'Scheduled Event',
  source: 'aws.events',
  account: '123456789012',
  time,
  region: 'us-east-1',
  resources: ['arn:aws:events:us-east-1:123456789012:rule/mlops-drift'],
  detail: {},
});

describe('monitor handler', () => {
  it('a scheduled event monitors the last complete hour before its time, whenever it is delivered', async () => {
    const { handler, asked } = harness();
    const outcome = await handler(scheduled('2025-06-03T09:00:12Z'), lambdaContext);
    expect(outcome).toEqual({
      kind: 'monitored',
      window: {
        start: '2025-06-03T08:00:00.000Z',
        end: '2025-06-03T09:00:00.000Z',
        id: '20250603T080000Z-20250603T090000Z',
      },
      models: [],
    });
    expect(asked).toEqual(['PRODUCTION']);
  });

  it('an on-demand request monitors the window ending now, for one model', async () => {
    const { handler } = harness(['churn', 'fraud']);
    const outcome = await handler({ model: 'churn' });
    expect(outcome).toMatchObject({
      kind: 'monitored',
      window: { start: '2025-06-03T11:10:00.000Z', end: '2025-06-03T12:10:00.000Z' },
      models: [{ kind: 'skipped', model: 'churn', why: 'the model has no config' }],
    });
    expect(await handler({ windowMinutes: 5 })).toMatchObject({
      window: { start: '2025-06-03T12:05:00.000Z' },
      models: [{ model: 'churn' }, { model: 'fraud' }],
    });
    expect(await handler(undefined)).toMatchObject({ kind: 'monitored' });
  });

  it('fails the invocation once the other models are done when one could not be monitored, so the window is retried', async () => {
    const { handler, read } = harness(['churn', 'fraud'], { throttledModel: 'churn' });
    await expect(handler(scheduled('2025-06-03T09:00:12Z'), lambdaContext)).rejects.toThrow(
      /window 20250603T080000Z-20250603T090000Z failed for churn v1 \(ThrottlingException: Rate exceeded\)/,
    );
    // fraud was monitored all the same (its summary looked up), churn's failure did not stop it.
    expect(read.filter((key) => key.endsWith('drift.json')).map((key) => key.split('/')[1])).toEqual([
      'churn',
      'fraud',
    ]);
  });

  it.each([
    ['a bad model name', { model: 'Bad Name' }],
    ['an unknown field', { model: 'churn', extra: 1 }],
    ['a zero window', { windowMinutes: 0 }],
    ['another event', { ...scheduled('2025-06-03T09:00:12Z'), 'detail-type': 'Object Created' }],
    ['a scheduled event without a time', { ...scheduled('x'), time: undefined }],
  ])('drops %s as malformed', async (_what, event) => {
    const { handler, asked } = harness();
    expect(await handler(event)).toEqual({ kind: 'malformed' });
    expect(asked).toEqual([]);
  });
});

describe('EmfMetricsPublisher', () => {
  it('prints one EMF document: the namespace, only the Model dimension, the batch timestamp', async () => {
    // Powertools' documented switch for tests: created with POWERTOOLS_DEV on, a Metrics instance
    // prints through the global `console` (metrics stay enabled: POWERTOOLS_METRICS_DISABLED wins).
    vi.stubEnv('POWERTOOLS_DEV', 'true');
    vi.stubEnv('POWERTOOLS_METRICS_DISABLED', 'false');
    const metrics = createEmfMetrics('ServerlessMlops/Drift');
    vi.unstubAllEnvs();
    const lines: string[] = [];
    const log = vi.spyOn(console, 'log').mockImplementation((line: string) => void lines.push(line));
    try {
      const publisher = new EmfMetricsPublisher(metrics, 'ServerlessMlops/Drift');
      const batch: MetricBatch = {
        namespace: 'ServerlessMlops/Drift',
        dimensions: { Model: 'churn' },
        timestamp: new Date(Date.now() - 60_000),
        metrics: [
          { name: 'FeatureDriftMax', value: 0.42, unit: 'None' },
          { name: 'CapturedRecords', value: 600, unit: 'Count' },
        ],
      };
      await publisher.publish(batch);
      await publisher.publish({ ...batch, dimensions: { Model: 'fraud' } });
      expect(lines.map((line) => JSON.parse(line) as unknown)).toEqual([
        {
          _aws: {
            Timestamp: batch.timestamp.getTime(),
            CloudWatchMetrics: [
              {
                Namespace: 'ServerlessMlops/Drift',
                Dimensions: [['Model']],
                Metrics: [
                  { Name: 'FeatureDriftMax', Unit: 'None' },
                  { Name: 'CapturedRecords', Unit: 'Count' },
                ],
              },
            ],
          },
          Model: 'churn',
          FeatureDriftMax: 0.42,
          CapturedRecords: 600,
        },
        expect.objectContaining({ Model: 'fraud' }),
      ]);
      await expect(publisher.publish({ ...batch, namespace: 'Other' })).rejects.toThrow(
        'this publisher writes namespace ServerlessMlops/Drift, not Other',
      );
    } finally {
      log.mockRestore();
    }
  });
});
