import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { describe, expect, it } from 'vitest';
import { parseEmf } from '../../../local/metrics/emf';

// What Powertools Metrics prints for a handler (one JSON object per line).
const POWERTOOLS_LINE = JSON.stringify({
  _aws: {
    Timestamp: 1748948709412,
    CloudWatchMetrics: [
      {
        Namespace: 'ServerlessMlops',
        Dimensions: [['service', 'model']],
        Metrics: [
          { Name: 'DriftScore', Unit: 'None' },
          { Name: 'RowsScored', Unit: 'Count' },
          { Name: 'ScoringTime', Unit: 'Milliseconds', StorageResolution: 1 },
        ],
      },
    ],
  },
  service: 'monitor',
  model: 'churn',
  coldStart: true, // metadata: ignored
  DriftScore: 0.27,
  RowsScored: [120, 80],
  ScoringTime: 35,
});

describe('parseEmf', () => {
  it('reads a Powertools line: every metric, every value, the dimensions, the timestamp', () => {
    const at = new Date(1748948709412);
    const dims = { service: 'monitor', model: 'churn' };
    expect(parseEmf(POWERTOOLS_LINE)).toEqual([
      {
        namespace: 'ServerlessMlops',
        name: 'DriftScore',
        dimensions: dims,
        value: 0.27,
        unit: 'None',
        timestamp: at,
      },
      {
        namespace: 'ServerlessMlops',
        name: 'RowsScored',
        dimensions: dims,
        value: 120,
        unit: 'Count',
        timestamp: at,
      },
      {
        namespace: 'ServerlessMlops',
        name: 'RowsScored',
        dimensions: dims,
        value: 80,
        unit: 'Count',
        timestamp: at,
      },
      {
        namespace: 'ServerlessMlops',
        name: 'ScoringTime',
        dimensions: dims,
        value: 35,
        unit: 'Milliseconds',
        timestamp: at,
      },
    ]);
  });

  it('reads what the installed Powertools Metrics actually serializes', () => {
    const metrics = new Metrics({ namespace: 'ServerlessMlops', serviceName: 'ingest' });
    metrics.addDimension('model', 'churn');
    metrics.addMetric('DatasetsAccepted', MetricUnit.Count, 1);
    metrics.addMetric('Rows', MetricUnit.Count, 500);
    metrics.addMetric('Throughput', MetricUnit.CountPerSecond, 3);
    const data = parseEmf(JSON.stringify(metrics.serializeMetrics()));
    expect(data.map((d) => [d.name, d.value, d.unit])).toEqual([
      ['DatasetsAccepted', 1, 'Count'],
      ['Rows', 500, 'Count'],
      ['Throughput', 3, 'None'], // a unit outside MetricDatum's set
    ]);
    expect(data[0]?.dimensions).toEqual({ service: 'ingest', model: 'churn' });
    expect(data[0]?.namespace).toBe('ServerlessMlops');
  });

  it('yields one metric per dimension set, and none for an empty set', () => {
    const line = {
      _aws: {
        Timestamp: 0,
        CloudWatchMetrics: [
          { Namespace: 'N', Dimensions: [['a'], ['a', 'b'], []], Metrics: [{ Name: 'x' }] },
        ],
      },
      a: '1',
      b: '2',
      x: 7,
    };
    expect(parseEmf(line).map((d) => d.dimensions)).toEqual([{ a: '1' }, { a: '1', b: '2' }, {}]);
    expect(
      parseEmf({
        ...line,
        _aws: {
          ...line._aws,
          CloudWatchMetrics: [{ Namespace: 'N', Dimensions: [], Metrics: [{ Name: 'x' }] }],
        },
      }),
    ).toMatchObject([{ dimensions: {}, unit: 'None', value: 7 }]);
  });

  it('uses the current time without a Timestamp', () => {
    const now = new Date('2025-06-03T11:00:00Z');
    const [d] = parseEmf(
      { _aws: { CloudWatchMetrics: [{ Namespace: 'N', Dimensions: [], Metrics: [{ Name: 'x' }] }] }, x: 1 },
      { now: () => now },
    );
    expect(d?.timestamp).toEqual(now);
  });

  it.each([
    ['plain text', 'START RequestId: 1 Version: $LATEST'],
    ['a JSON log line', '{"level":"INFO","message":"hello"}'],
    ['extra data after the object', `${POWERTOOLS_LINE} trailing`],
    ['broken JSON', '{"_aws":'],
    ['a JSON array', '[1,2]'],
  ])('ignores %s', (_name, line) => {
    expect(parseEmf(line)).toEqual([]);
  });

  it.each([
    ['a missing value', { Metrics: [{ Name: 'absent' }] }, /absent/],
    ['a string value', { Metrics: [{ Name: 's' }] }, /"s" must be a number/],
    ['a missing dimension', { Dimensions: [['nope']] }, /dimension "nope"/],
    ['no namespace', { Namespace: '' }, /Namespace/],
  ])('reports an invalid EMF document: %s', (_name, override, reason) => {
    const reasons: string[] = [];
    const doc = {
      _aws: {
        Timestamp: 0,
        CloudWatchMetrics: [{ Namespace: 'N', Dimensions: [], Metrics: [{ Name: 'x' }], ...override }],
      },
      x: 1,
      s: 'text',
    };
    expect(parseEmf(JSON.stringify(doc), { onInvalid: (r) => reasons.push(r) })).toEqual([]);
    expect(reasons).toEqual([expect.stringMatching(reason)]);
  });
});
