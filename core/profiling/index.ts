/**
 * The profiling module's public surface (core, no AWS SDK): streaming profiles, sketches, drift
 * and Model Monitor's report formats. Importing the specific modules works as well.
 */
export * from './api';
export * from './csv-fast';
export {
  categoricalDistance,
  columnDrift,
  compareProfiles,
  DEFAULT_DISTANCE_THRESHOLD,
  DEFAULT_PSI_THRESHOLD,
  ksDistance,
  KS_C_ALPHA,
  populationStabilityIndex,
  PSI_EPSILON,
  robustCorrection,
} from './drift';
export * from './hll';
export * from './kll';
export * from './model-monitor';
export * from './parallel';
export * from './profiler';
export * from './readers';
export * from './top-values';
