/**
 * The local cloud's metric store and alarms on disk (issue 9): written as they change, coalesced,
 * without a stop, and found again by a start after a `kill -9` (simulated: the first run is never
 * stopped or flushed).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { buildModelAlarmRequests } from '../../adapters/aws/cloudwatch-alarm-service';
import type { Log } from '../../core/use-cases/context';
import { openMetricStore, startAlarmEvaluator } from '../../local/cloud-services';
import { localTime, type CloudEvent } from '../../local/contracts';
import { LocalMetricStore } from '../../local/metrics/metric-store';
import { StartedParts } from '../../local/started-parts';
import { churnAlarmsSpec } from '../support/alarm-spec';
import { until } from '../support/until';

const dir = mkdtempSync(join(tmpdir(), 'cloud-services-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const fresh = (name: string) => join(dir, `${++n}-${name}`);

const warnings: string[] = [];
const log: Log = {
  debug: () => undefined,
  info: () => undefined,
  warn: (message) => void warnings.push(message),
  error: (message) => void warnings.push(message),
};
const running: StartedParts[] = [];
afterEach(async () => {
  for (const parts of running.splice(0)) await parts.stopAll();
  warnings.length = 0;
});

const spec = churnAlarmsSpec();
/** Time scale 1: the evaluator's own timer (every 60 s) does not run during a test. */
function alarmsOn(file: string) {
  const parts = new StartedParts();
  running.push(parts);
  const events: CloudEvent[] = [];
  const started = startAlarmEvaluator(
    { metrics: new LocalMetricStore(), events: { publish: (e) => void events.push(e) }, time: localTime(1) },
    file,
    log,
    parts,
  );
  return { ...started, events };
}
const onDisk = (file: string) =>
  JSON.parse(readFileSync(file, 'utf8')) as {
    version: number;
    alarms: { input: { AlarmName: string }; state: string; reason: string; updatedAt: string }[];
  };
const saved = (file: string, name: string) => onDisk(file).alarms.find((a) => a.input.AlarmName === name);

describe('alarms.json', () => {
  it('has a state change within the write delay, without a stop, and a start after a kill finds it', async () => {
    const file = fresh('alarms.json');
    const first = alarmsOn(file);
    /** alarms.json once `ready` holds for it (written while the first run still runs: no stop, no flush). */
    const written = (what: string, ready: (content: ReturnType<typeof onDisk>) => boolean) =>
      until(
        what,
        () => {
          try {
            const content = onDisk(file);
            return Promise.resolve(ready(content) ? content : undefined);
          } catch {
            return Promise.resolve(undefined); // not written yet
          }
        },
        3000,
        20,
      );
    for (const request of buildModelAlarmRequests(spec)) first.alarms.putMetricAlarm(request);
    await written('the alarms in alarms.json', (content) => content.alarms.length === 5);
    // A state change alone is written too.
    first.alarms.setState(spec.names.errorRate, 'ALARM', 'Threshold Crossed: testing');
    const at = first.alarms.describe(spec.names.errorRate)!.updatedAt.toISOString();
    const content = await written(
      'the ALARM state in alarms.json',
      () => saved(file, spec.names.errorRate)?.state === 'ALARM',
    );
    expect(content.version).toBe(2);
    expect(content.alarms).toHaveLength(5);

    // kill -9: the first run is abandoned as it is; a second start on the same file.
    const second = alarmsOn(file);
    expect(second.alarms.names().sort()).toEqual(Object.values(spec.names).sort());
    expect(second.alarms.describe(spec.names.errorRate)).toMatchObject({
      state: 'ALARM',
      reason: 'Threshold Crossed: testing',
      input: buildModelAlarmRequests(spec)[2],
    });
    expect(second.alarms.describe(spec.names.errorRate)!.updatedAt.toISOString()).toBe(at);
    expect(second.alarms.describe(spec.names.latency)!.state).toBe('INSUFFICIENT_DATA');
    // Restoring is not a transition: nothing is published, so no incident opens again.
    expect(second.events).toEqual([]);

    // The next evaluation moves on from the restored state (no traffic: notBreaching -> OK).
    const changes = second.alarms.evaluateNow();
    const errorRate = changes.find((change) => change.alarmName === spec.names.errorRate);
    expect(errorRate).toMatchObject({ previousState: 'ALARM', state: 'OK' });
  });

  it('brings back the alarms of an older local cloud (requests only), their state starting over', () => {
    const file = fresh('alarms.json');
    writeFileSync(file, JSON.stringify(buildModelAlarmRequests(spec)));
    const { alarms } = alarmsOn(file);
    expect(alarms.names()).toHaveLength(5);
    expect(alarms.describe(spec.names.errorRate)!.state).toBe('INSUFFICIENT_DATA');
  });

  it('skips an alarm it cannot restore, with a warning, and keeps the others', () => {
    const file = fresh('alarms.json');
    const [latency, invocations] = buildModelAlarmRequests(spec);
    const ok = {
      input: latency,
      state: 'OK',
      reason: 'fine',
      reasonData: '',
      updatedAt: '2025-06-03T11:00:00.000Z',
    };
    writeFileSync(
      file,
      JSON.stringify({ version: 2, alarms: [ok, { ...ok, input: invocations, state: 'ON_FIRE' }] }),
    );
    const { alarms } = alarmsOn(file);
    expect(alarms.names()).toEqual([spec.names.latency]);
    expect(alarms.describe(spec.names.latency)!.state).toBe('OK');
    expect(warnings).toEqual([expect.stringContaining('could not restore an alarm')]);
  });

  it('starts with no alarm, and a warning, from a file that is not an alarms file', () => {
    const file = fresh('alarms.json');
    writeFileSync(file, '{"version":3}');
    expect(alarmsOn(file).alarms.names()).toEqual([]);
    expect(warnings).toEqual([expect.stringContaining('not an alarms file')]);
  });
});

describe('metrics.json', () => {
  it('has a data point within the write delay, without a stop, and a start after a kill reads it', async () => {
    const file = fresh('metrics.json');
    const parts = new StartedParts();
    running.push(parts);
    const { metrics } = await openMetricStore(file, log, parts);
    const datum = {
      namespace: 'ServerlessMlops/Drift',
      name: 'FeatureDriftMax',
      dimensions: { Model: 'churn' },
      value: 0.62,
      unit: 'None' as const,
      timestamp: new Date('2025-06-03T11:00:00.000Z'),
    };
    metrics.put(datum);
    await until(
      'the point in metrics.json',
      () => {
        try {
          return Promise.resolve(readFileSync(file, 'utf8').includes('0.62') ? true : undefined);
        } catch {
          return Promise.resolve(undefined);
        }
      },
      3000,
      20,
    );
    // kill -9, then a start on the same file.
    const again = await openMetricStore(file, log, new StartedParts());
    expect(
      again.metrics.query({
        namespace: datum.namespace,
        name: datum.name,
        dimensions: datum.dimensions,
        stat: 'Maximum',
        periodMs: 3_600_000,
        start: new Date('2025-06-03T11:00:00.000Z'),
        end: new Date('2025-06-03T12:00:00.000Z'),
      }),
    ).toEqual([{ timestamp: datum.timestamp, value: 0.62 }]);
  });
});
