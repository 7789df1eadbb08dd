/**
 * Names the reconciler shares with the infrastructure. Where this stands: core domain; the
 * reconcile use case keeps its place in the dataset scan under this key, and the CDK construct
 * grants the reconciler read and write on exactly this object.
 */
import { BUCKET_PREFIXES } from './naming';

/** Where the dataset scan keeps its place between runs (in the data bucket; `_` is never a model name). */
export const RECONCILER_CURSOR_KEY = `${BUCKET_PREFIXES.reports}_reconciler/datasets-cursor.json`;
