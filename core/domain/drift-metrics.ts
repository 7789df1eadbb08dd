/**
 * The drift monitor's metrics: what the monitor publishes (core/use-cases/monitor-drift.ts) and
 * what the model's drift alarms watch (adapters/aws/cloudwatch-alarm-service.ts). Where this
 * stands: core domain, shared by the use case, the alarm adapter and the tests.
 *
 * One data point per model and monitoring window, in namespace {@link DRIFT_NAMESPACE} with the
 * single dimension `Model`:
 * - `FeatureDriftMax`: the largest drift distance over the model's features (KS statistic for
 *   numeric features, L-infinity distance of frequencies for categorical ones) between the
 *   window's captured inputs and the training baseline;
 * - `PredictionDrift`: the distance between the window's predictions and the training labels
 *   (see monitor-drift.ts for the baseline per problem type);
 * - `MeanPredictionShift`: |mean prediction − mean training label|;
 * - `CapturedRecords`: input rows the window's metrics were computed from.
 */

/** CloudWatch namespace of the drift metrics. */
export const DRIFT_NAMESPACE = 'ServerlessMlops/Drift';

/** The one dimension of the drift metrics. */
export const DRIFT_DIMENSION = 'Model';

/** Metric names. */
export const DRIFT_METRICS = {
  featureDriftMax: 'FeatureDriftMax',
  predictionDrift: 'PredictionDrift',
  meanPredictionShift: 'MeanPredictionShift',
  capturedRecords: 'CapturedRecords',
} as const;

/** The monitor's window and schedule, and the drift alarms' period: one hour. */
export const DRIFT_WINDOW_SECONDS = 3600;
