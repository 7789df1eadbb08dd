/**
 * Realistic synthetic data for the demo: a telecom churn table. Where this stands: local demo
 * support. The label follows a noisy logistic rule over the features, so a model can learn it but
 * not perfectly (AUC around 0.85-0.9), and `drift` shifts the population the way a new market or a
 * price change would.
 */
import { seededRandom } from '../training/gbm';

/** What {@link churnCsv} generates: the same options always give the same CSV. */
export interface ChurnOptions {
  readonly rows: number;
  readonly seed: number;
  /** 0 = the original population; 1 = customers much newer and more expensive. */
  readonly drift?: number;
}

/** The feature columns of the churn table, in CSV order (the label `churned` comes after them). */
export const CHURN_FEATURES = [
  'tenure_months',
  'monthly_charges',
  'contract_months',
  'support_calls',
  'data_gb',
  'late_payments',
  'age',
] as const;

/** One row of features, in {@link CHURN_FEATURES} order, plus its label. */
export function churnRow(random: () => number, drift = 0): { features: number[]; churned: 0 | 1 } {
  const normal = () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
  const tenure = Math.max(0, Math.round(36 * (1 - drift * 0.6) + 22 * normal()));
  const charges = Math.max(15, Math.round((65 + drift * 25 + 22 * normal()) * 100) / 100);
  const contract = [1, 12, 24][Math.floor(random() * 3)]!;
  const calls = Math.max(0, Math.round(1.5 + 1.4 * normal()));
  const dataGb = Math.max(0, Math.round((8 + 6 * normal()) * 10) / 10);
  const late = random() < 0.15 ? 1 + Math.floor(random() * 3) : 0;
  const age = Math.min(90, Math.max(18, Math.round(44 + 14 * normal())));
  const z =
    -1.2 -
    0.045 * tenure +
    0.028 * (charges - 65) -
    0.07 * contract +
    0.55 * calls +
    0.6 * late -
    0.01 * (age - 44);
  const churned = random() < 1 / (1 + Math.exp(-z)) ? 1 : 0;
  return { features: [tenure, charges, contract, calls, dataGb, late, age], churned };
}

/** A CSV with a header row, the label column `churned` last. */
export function churnCsv(options: ChurnOptions): string {
  const random = seededRandom(options.seed);
  const lines = [[...CHURN_FEATURES, 'churned'].join(',')];
  for (let i = 0; i < options.rows; i++) {
    const row = churnRow(random, options.drift ?? 0);
    lines.push([...row.features, row.churned].join(','));
  }
  return lines.join('\n') + '\n';
}

/** Feature rows (no label) to send to the endpoint, as CSV lines. */
export function churnRequests(count: number, seed: number, drift = 0): string[] {
  const random = seededRandom(seed);
  return Array.from({ length: count }, () => churnRow(random, drift).features.join(','));
}
