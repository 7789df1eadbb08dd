/**
 * Gate 2, after training: does the candidate deserve production? Where this stands: core domain;
 * the training-events use case runs it on a TRAINED version and records every check.
 */
import type { ResolvedGate } from './model-config';
import type { GateCheck } from './registry';

/** Slack for floating-point rounding at a boundary (0.18 + 0.02 is 0.19999999999999998). */
const EPSILON = 1e-9;

/** The gate's verdict: rejected, waiting for a person, or approved. */
export interface GateResult {
  readonly passed: boolean;
  readonly decision: 'REJECTED' | 'PENDING_APPROVAL' | 'APPROVED';
  readonly checks: readonly GateCheck[];
}

/**
 * Evaluates a candidate's metrics against the model's thresholds and its champion.
 * @param candidate final metrics of the candidate (e.g. `{ 'validation:auc': 0.91 }`)
 * @param champion the champion's metrics and version, when a champion exists
 */
export function evaluateGate(
  gate: ResolvedGate,
  candidate: Readonly<Record<string, number>>,
  champion?: { readonly version: number; readonly metrics: Readonly<Record<string, number>> },
): GateResult {
  const checks: GateCheck[] = [];
  const value = candidate[gate.metric];
  const better = gate.direction === 'maximize' ? '>=' : '<=';
  if (value === undefined || !Number.isFinite(value)) {
    const reported = Object.keys(candidate);
    checks.push({
      name: 'metric-reported',
      passed: false,
      detail: `the training job reported no ${gate.metric}${reported.length ? ` (it reported: ${reported.join(', ')})` : ' (it reported no metrics)'}`,
    });
    return { passed: false, decision: 'REJECTED', checks };
  }
  checks.push({ name: 'metric-reported', passed: true, detail: `${gate.metric} = ${round(value)}` });

  if (gate.threshold !== undefined) {
    const passed =
      gate.direction === 'maximize' ? value >= gate.threshold - EPSILON : value <= gate.threshold + EPSILON;
    checks.push({
      name: 'threshold',
      passed,
      detail: `${gate.metric} ${round(value)} ${passed ? 'meets' : 'misses'} the threshold (${better} ${gate.threshold})`,
    });
  }

  const championValue = champion?.metrics[gate.metric];
  if (champion && championValue !== undefined && Number.isFinite(championValue)) {
    const floor =
      gate.direction === 'maximize'
        ? championValue - gate.regressionTolerance
        : championValue + gate.regressionTolerance;
    const passed = gate.direction === 'maximize' ? value >= floor - EPSILON : value <= floor + EPSILON;
    checks.push({
      name: 'no-regression',
      passed,
      detail: `${gate.metric} ${round(value)} against champion v${champion.version} ${round(championValue)} (tolerance ${gate.regressionTolerance}): ${passed ? 'no regression' : 'worse than the champion'}`,
    });
  } else {
    checks.push({
      name: 'no-regression',
      passed: true,
      detail: 'no champion to compare with: first production candidate',
    });
  }

  const passed = checks.every((check) => check.passed);
  if (!passed) return { passed, decision: 'REJECTED', checks };
  if (gate.approval === 'manual') {
    checks.push({
      name: 'approval',
      passed: true,
      detail: 'manual approval required: waiting in PENDING_APPROVAL',
    });
    return { passed, decision: 'PENDING_APPROVAL', checks };
  }
  checks.push({ name: 'approval', passed: true, detail: 'automatic approval' });
  return { passed, decision: 'APPROVED', checks };
}

function round(value: number): number {
  return Math.round(value * 1e6) / 1e6;
}
