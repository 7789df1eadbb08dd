import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { MetricDatum } from '../../../local/contracts';
import {
  captureHandlerOutput,
  handlerConsole,
  invoke,
  loadHandlerModules,
  sqsBatch,
} from '../../../local/services/lambda-runtime';

/** Powertools instances created as a handler module creates them, at load. */
async function loadPowertools() {
  // vitest.config.ts turns metrics off for every test; the runtime's own default is on.
  const disabled = process.env.POWERTOOLS_METRICS_DISABLED;
  delete process.env.POWERTOOLS_METRICS_DISABLED;
  try {
    return await loadHandlerModules(() =>
      Promise.resolve({
        logger: new Logger({ serviceName: 'ingest', logLevel: 'INFO' }),
        metrics: new Metrics({ namespace: 'ServerlessMlops', serviceName: 'ingest' }),
      }),
    );
  } finally {
    process.env.POWERTOOLS_METRICS_DISABLED = disabled;
  }
}

/** A capture that keeps what it is given. */
function recorder(options: { silent?: boolean } = {}) {
  const lines: [string, string][] = [];
  const data: MetricDatum[] = [];
  const output = handlerConsole({
    ...options,
    print: (line, level) => lines.push([line, level]),
    onMetrics: (points) => data.push(...points),
  });
  return { lines, data, output };
}

const releases: (() => void)[] = [];
afterEach(() => {
  releases.splice(0).forEach((release) => release());
  vi.restoreAllMocks();
});

describe('the handlers’ Powertools output', () => {
  it('reaches the capture: log lines made readable, EMF documents as data points', async () => {
    const { logger, metrics } = await loadPowertools();
    const { lines, data, output } = recorder();
    releases.push(captureHandlerOutput(output));

    await invoke('mlops-local-ingest', () => {
      logger.info('ingest outcome', { kind: 'accepted' });
      metrics.addMetric('DatasetsAccepted', MetricUnit.Count, 1);
      metrics.publishStoredMetrics();
      return Promise.resolve();
    });
    logger.warn('outside any invocation');

    expect(lines).toEqual([
      [
        expect.stringMatching(/^\d\d:\d\d:\d\d\.\d{3} ingest INFO ingest outcome \{"kind":"accepted"\}$/),
        'INFO',
      ],
      [expect.stringMatching(/^\d\d:\d\d:\d\d\.\d{3} ingest WARN outside any invocation$/), 'WARN'],
    ]);
    expect(data).toEqual([
      expect.objectContaining({
        namespace: 'ServerlessMlops',
        name: 'DatasetsAccepted',
        dimensions: { service: 'ingest' },
        value: 1,
        unit: 'Count',
      }),
    ]);
  });

  it('prints no log line when silent, but still takes the metrics and prints Powertools’ own warnings', async () => {
    const { logger, metrics } = await loadPowertools();
    const { lines, data, output } = recorder({ silent: true });
    releases.push(captureHandlerOutput(output));

    logger.error('not shown');
    metrics.addMetric('IngestErrors', MetricUnit.Count, 2);
    metrics.publishStoredMetrics();
    metrics.publishStoredMetrics(); // nothing stored: Metrics warns, in plain text

    expect(data.map((d) => [d.name, d.value])).toEqual([['IngestErrors', 2]]);
    expect(lines).toEqual([[expect.stringContaining('No application metrics to publish'), 'WARN']]);
  });

  it('keeps an error’s stack one string, as outside Powertools’ development mode', async () => {
    const { logger } = await loadPowertools();
    const { lines, output } = recorder();
    releases.push(captureHandlerOutput(output));

    logger.error('failed', new Error('boom'));
    const [line] = lines[0] ?? [''];
    const extra = JSON.parse(line.slice(line.indexOf('{'))) as { error: { stack: unknown } };
    expect(typeof extra.error.stack).toBe('string');
  });

  it('goes to the newest capture, back to the one before when it is released, then to the console', async () => {
    const { logger } = await loadPowertools();
    const first = recorder();
    const second = recorder();
    releases.push(captureHandlerOutput(first.output));
    const releaseSecond = captureHandlerOutput(second.output);

    logger.info('one');
    releaseSecond();
    logger.info('two');
    releases.splice(0).forEach((release) => release());
    const info = vi.spyOn(console, 'info').mockImplementation(() => {});
    logger.info('three');

    expect(second.lines.map(([line]) => line)).toEqual([expect.stringMatching(/ one$/)]);
    expect(first.lines.map(([line]) => line)).toEqual([expect.stringMatching(/ two$/)]);
    expect(info).toHaveBeenCalledWith(expect.stringContaining('"message": "three"'));
  });

  it('leaves the process as it was: its console, POWERTOOLS_DEV, POWERTOOLS_METRICS_DISABLED', async () => {
    const globalConsole = globalThis.console;
    const before = { dev: process.env.POWERTOOLS_DEV, disabled: process.env.POWERTOOLS_METRICS_DISABLED };
    let during: { console: Console; dev?: string; disabled?: string } | undefined;
    await loadHandlerModules(() => {
      during = {
        console: globalThis.console,
        dev: process.env.POWERTOOLS_DEV,
        disabled: process.env.POWERTOOLS_METRICS_DISABLED,
      };
      return Promise.resolve();
    });
    expect(during).toMatchObject({ dev: 'true', disabled: before.disabled });
    expect(during?.console).not.toBe(globalConsole);
    expect(globalThis.console).toBe(globalConsole);
    expect({ dev: process.env.POWERTOOLS_DEV, disabled: process.env.POWERTOOLS_METRICS_DISABLED }).toEqual(
      before,
    );
    await expect(loadHandlerModules(() => Promise.reject(new Error('no such module')))).rejects.toThrow(
      'no such module',
    );
    expect(globalThis.console).toBe(globalConsole);
  });
});

describe('sqsBatch', () => {
  it('wraps events in SQS records with the receive count', () => {
    const event = {
      version: '0',
      id: 'e1',
      'detail-type': 'Object Created',
      source: 'aws.s3',
      account: '000000000000',
      time: '2025-06-03T11:00:00Z',
      region: 'us-east-1',
      resources: [],
      detail: {},
    } as const;
    const batch = sqsBatch([event], 3, 'mlops-ingest');
    expect(batch.Records).toHaveLength(1);
    expect(JSON.parse(batch.Records[0]!.body)).toEqual(event);
    expect(batch.Records[0]?.attributes.ApproximateReceiveCount).toBe('3');
  });
});
