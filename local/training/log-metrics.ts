/**
 * Training metrics read from a job's log, as SageMaker reads them from CloudWatch: the built-in
 * XGBoost's round lines, or a custom image's `MetricDefinitions` (a name and a regex whose first
 * group is the value). Where this stands: local runtime; the local training service feeds each log
 * line to a {@link LogMetricReader} and records what it returns as the job's final metrics.
 *
 * (`metrics.ts` beside it computes XGBoost's evaluation metrics inside the trainer; this module only
 * reads the numbers the trainer printed.)
 */
import type { TrainingJobSpec } from '../../core/ports/training-service';

/** The built-in trainer's round lines: `[12]\ttrain-auc:0.9\tvalidation-auc:0.8` (or with `#011`). */
const XGBOOST_ROUND_LINE = /^\[\d+\](?:\t|#011)/;

/**
 * Reads metrics from a job's log, one line at a time. Each method returns the values to record now
 * (an object, possibly empty: the metrics' time is still updated) or undefined when there are none.
 */
export interface LogMetricReader {
  /** A log line, `shown` with tabs as `#011` (as CloudWatch shows them), `raw` as printed. */
  line(shown: string, raw: string): Record<string, number> | undefined;
  /** The process has exited. */
  end(): Record<string, number> | undefined;
}

/** `[9]#011train-auc:0.9#011validation-auc:0.8` -> `{ 'train:auc': 0.9, 'validation:auc': 0.8 }` (SageMaker's names). */
export function parseXgboostLine(line: string): Record<string, number> {
  const metrics: Record<string, number> = {};
  for (const part of line.split(/\t|#011/).slice(1)) {
    const match = /^([^-:\s]+)-([^:\s]+):(\S+)$/.exec(part.trim());
    if (!match) continue;
    const value = Number(match[3]);
    if (Number.isFinite(value)) metrics[`${match[1]}:${match[2]}`] = value;
  }
  return metrics;
}

/**
 * The built-in algorithm's metrics: those of its last round line, taken when the process exits (a
 * round line holds every metric of that round, so the last one is final).
 */
export function xgboostMetricReader(): LogMetricReader {
  let lastRoundLine: string | undefined;
  return {
    line(shown) {
      if (XGBOOST_ROUND_LINE.test(shown)) lastRoundLine = shown;
      return undefined;
    },
    end: () => (lastRoundLine === undefined ? undefined : parseXgboostLine(lastRoundLine)),
  };
}

/**
 * A custom image's metrics by its `MetricDefinitions`: each match updates the metric at once, so
 * a running job shows its latest values; the last one is final. The regex is tried on the line as
 * CloudWatch shows it, then as printed, so a definition written either way matches.
 */
export function definitionMetricReader(definitions: TrainingJobSpec['metricDefinitions']): LogMetricReader {
  const compiled = definitions.map((d) => ({ name: d.name, regex: new RegExp(d.regex) }));
  return {
    line(shown, raw) {
      let found: Record<string, number> | undefined;
      for (const definition of compiled) {
        const match = definition.regex.exec(shown) ?? definition.regex.exec(raw);
        const value = match?.[1] === undefined ? NaN : Number(match[1]);
        if (Number.isFinite(value)) (found ??= {})[definition.name] = value;
      }
      return found;
    },
    end: () => undefined,
  };
}
