/**
 * CloudWatch Embedded Metric Format (EMF) to metric data points: what CloudWatch Logs extracts
 * from the lines Powertools Metrics prints. Where this stands: local runtime; the supervisor feeds
 * every stdout line of a handler to {@link parseEmf} and puts the data points in the metric store.
 *
 * Amazon CloudWatch User Guide, "Specification: Embedded metric format":
 * - the log event must be one JSON object, with nothing before or after it;
 * - root member `_aws` holds `Timestamp` (milliseconds since the epoch) and `CloudWatchMetrics`,
 *   an array of MetricDirectives `{ Namespace, Dimensions, Metrics }`;
 * - `Dimensions` is an array of DimensionSets, each an array of root member names whose values
 *   (strings) are the dimension values; every DimensionSet yields its own metric;
 * - `Metrics` is an array of MetricDefinitions `{ Name, Unit?, StorageResolution? }`; the value is
 *   the root member named `Name`, a number or an array of numbers (each one a data point);
 * - members the specification does not know are ignored (Powertools adds metadata and `service`).
 * An empty `Dimensions` array here yields the metric without dimensions.
 */
import { isPlainObject, parseJsonObject } from '../../core/support/objects';
import type { MetricDatum } from '../contracts';

const UNITS: ReadonlySet<string> = new Set([
  'Count',
  'Microseconds',
  'Milliseconds',
  'Seconds',
  'Percent',
  'None',
]);

/** How {@link parseEmf} dates data points and reports documents it cannot use. */
export interface EmfParseOptions {
  /** Timestamp of data points when the document has no `_aws.Timestamp`. @default the current time */
  readonly now?: () => Date;
  /** Told why an `_aws` document could not be used (a plain log line is not reported). */
  readonly onInvalid?: (reason: string) => void;
}

/**
 * The data points of one EMF log line (a string or an already parsed object); `[]` for anything
 * that is not an EMF document. Units outside {@link MetricDatum}'s set become `None`.
 */
export function parseEmf(
  input: string | Readonly<Record<string, unknown>>,
  options: EmfParseOptions = {},
): MetricDatum[] {
  const root = typeof input === 'string' ? parseJsonObject(input) : input;
  if (root === undefined || !isPlainObject(root._aws)) return [];
  const invalid = (reason: string): MetricDatum[] => {
    options.onInvalid?.(reason);
    return [];
  };
  const meta = root._aws;
  if (!Array.isArray(meta.CloudWatchMetrics)) return invalid('_aws.CloudWatchMetrics must be an array');
  let timestamp: Date;
  if (meta.Timestamp === undefined) {
    timestamp = options.now?.() ?? new Date();
  } else if (typeof meta.Timestamp === 'number' && Number.isFinite(meta.Timestamp)) {
    timestamp = new Date(meta.Timestamp);
  } else {
    return invalid('_aws.Timestamp must be a number of milliseconds');
  }

  const data: MetricDatum[] = [];
  for (const [index, directive] of meta.CloudWatchMetrics.entries()) {
    const where = `_aws.CloudWatchMetrics[${index}]`;
    if (!isPlainObject(directive)) return invalid(`${where} must be an object`);
    const { Namespace: namespace, Dimensions: dimensionSets, Metrics: metrics } = directive;
    if (typeof namespace !== 'string' || namespace === '')
      return invalid(`${where}.Namespace must be a non-empty string`);
    if (!Array.isArray(dimensionSets))
      return invalid(`${where}.Dimensions must be an array of dimension sets`);
    if (!Array.isArray(metrics)) return invalid(`${where}.Metrics must be an array`);

    const resolvedSets: Record<string, string>[] = [];
    for (const set of dimensionSets.length === 0 ? [[]] : dimensionSets) {
      if (!Array.isArray(set)) return invalid(`${where}.Dimensions must hold arrays of member names`);
      const dimensions: Record<string, string> = {};
      for (const key of set) {
        const value = typeof key === 'string' ? root[key] : undefined;
        if (typeof value !== 'string')
          return invalid(`dimension "${String(key)}" must be a string member of the root`);
        dimensions[key as string] = value;
      }
      resolvedSets.push(dimensions);
    }

    for (const definition of metrics) {
      if (!isPlainObject(definition) || typeof definition.Name !== 'string') {
        return invalid(`${where}.Metrics holds a definition without a Name`);
      }
      const name = definition.Name;
      const raw = root[name];
      const values = Array.isArray(raw) ? raw : [raw];
      if (raw === undefined || values.some((value) => typeof value !== 'number' || !Number.isFinite(value))) {
        return invalid(`metric "${name}" must be a number or an array of numbers`);
      }
      const unit = (
        typeof definition.Unit === 'string' && UNITS.has(definition.Unit) ? definition.Unit : 'None'
      ) as MetricDatum['unit'];
      for (const dimensions of resolvedSets) {
        for (const value of values as number[]) {
          data.push({ namespace, name, dimensions, value, unit, timestamp });
        }
      }
    }
  }
  return data;
}
