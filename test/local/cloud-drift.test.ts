/**
 * Live drift in the local cloud, end to end: a model promoted from a dataset, drifted traffic sent
 * to its endpoint, the data capture in S3, an on-demand monitor run (as `mlops monitor`) that
 * publishes drift metrics into the local metric store, the feature-drift alarm going to ALARM, and
 * the incident the alarm-events handler opens for it.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DRIFT_NAMESPACE } from '../../core/domain/drift-metrics';
import { LocalCloud } from '../../local/cloud';
import { churnCsv, churnRequests } from '../../local/demo/dataset';
import { s3ClientConfig } from '../../local/services/s3-server';
import { until } from '../support/until';

// 360 simulated seconds per real second: the drift alarms' one-hour period lasts 10 real seconds.
const TIME_SCALE = 360;

describe('live drift in the local cloud', () => {
  let dir: string;
  let cloud: LocalCloud | undefined;

  beforeAll(async () => {
    // vitest.config.ts turns Powertools metrics off for every test; this one is about them. The
    // handler modules (and their Metrics instances) are loaded by LocalCloud.start, after this.
    process.env.POWERTOOLS_METRICS_DISABLED = 'false';
    dir = await mkdtemp(join(tmpdir(), 'mlops-drift-'));
    cloud = await LocalCloud.start({
      dir,
      s3Port: 0,
      dynamodbPort: 0,
      timeScale: TIME_SCALE,
      quiet: true,
      handlerLogLevel: 'SILENT',
      monitorSchedule: false,
    });
  });
  afterAll(async () => {
    await cloud?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('drifted traffic to a promoted model raises its feature-drift alarm and opens an incident', async () => {
    const c = cloud!;
    const registry = c.context.registry;
    const s3 = new S3Client(s3ClientConfig(c.env.s3Endpoint));
    try {
      await s3.send(
        new PutObjectCommand({
          Bucket: c.env.bucket,
          Key: 'models/churn/config.json',
          Body: JSON.stringify({ labelColumn: 'churned' }),
        }),
      );
      await s3.send(
        new PutObjectCommand({
          Bucket: c.env.bucket,
          Key: 'datasets/churn/customers.csv',
          Body: churnCsv({ rows: 1500, seed: 1 }),
        }),
      );
    } finally {
      s3.destroy();
    }
    const promoted = await until(
      'the version in production',
      async () => {
        await c.bus.drain();
        const [first] = await registry.listVersions('churn');
        return first?.status === 'PRODUCTION' ? first : undefined;
      },
      60_000,
    );
    const names = c.context.names.alarms('churn');
    expect(c.alarms.describe(names.featureDrift)?.input).toMatchObject({
      Namespace: DRIFT_NAMESPACE,
      MetricName: 'FeatureDriftMax',
      Dimensions: [{ Name: 'Model', Value: 'churn' }],
      Threshold: 0.2,
    });
    expect(c.alarms.describe(names.predictionDrift)).toBeDefined();
    expect(
      await c.context.objects.readText(c.env.bucket, `reports/churn/${promoted.datasetId}/statistics.json`),
    ).toBeDefined();

    // Too little traffic: nothing is published.
    const quiet = await c.monitor({ model: 'churn', windowMinutes: 10 });
    expect(quiet).toMatchObject({ kind: 'monitored', models: [{ kind: 'skipped', model: 'churn' }] });

    // Drifted traffic: newer, more expensive customers, 10 rows per request.
    const url = c.endpoints.endpointUrl(c.context.names.endpoint('churn'))!;
    const rows = churnRequests(600, 7, 1);
    for (let i = 0; i < rows.length; i += 10) {
      const response = await fetch(`${url}/invocations`, {
        method: 'POST',
        headers: { 'content-type': 'text/csv', accept: 'text/csv' },
        body: rows.slice(i, i + 10).join('\n'),
      });
      expect(response.status).toBe(200);
      await response.text();
    }
    // The capture buffer is written every 5 seconds.
    await until(
      'the captured traffic in S3',
      async () => {
        const objects = await c.context.objects.list(c.env.bucket, 'capture/churn/');
        let lines = 0;
        for (const object of objects) {
          const text = await c.context.objects.readText(c.env.bucket, object.key);
          lines += (text ?? '').split('\n').filter(Boolean).length;
        }
        return lines >= 60 ? lines : undefined;
      },
      15_000,
    );

    const outcome = await c.monitor({ model: 'churn', windowMinutes: 10 });
    if (outcome.kind !== 'monitored') throw new Error(`monitor refused: ${JSON.stringify(outcome)}`);
    const [result] = outcome.models;
    if (result?.kind !== 'published') throw new Error(`not published: ${JSON.stringify(result)}`);
    expect(result.figures.capturedRecords).toBe(600);
    expect(result.figures.featureDriftMax).toBeGreaterThan(0.2);
    expect(result.drifted).toEqual(expect.arrayContaining(['tenure_months', 'monthly_charges']));
    const series = c.metrics
      .series()
      .filter((s) => s.namespace === DRIFT_NAMESPACE && s.dimensions.Model === 'churn')
      .map((s) => s.name)
      .sort();
    expect(series).toEqual(['CapturedRecords', 'FeatureDriftMax', 'MeanPredictionShift', 'PredictionDrift']);

    // The data point's period completes within one scaled hour; then the alarm evaluates it.
    const alarmed = await until(
      'the feature-drift alarm in ALARM',
      () => {
        c.alarms.evaluateNow();
        return Promise.resolve(c.alarms.describe(names.featureDrift)?.state === 'ALARM' ? true : undefined);
      },
      15_000,
    );
    expect(alarmed).toBe(true);
    const incident = await until(
      'the drift incident',
      async () => {
        await c.bus.drain();
        return (await registry.listIncidents('churn')).find((i) => i.alarmName === names.featureDrift);
      },
      15_000,
    );
    expect(incident).toMatchObject({ model: 'churn', version: promoted.version });
    expect(c.bus.deadLetters()).toEqual([]);
  }, 150_000);
});
