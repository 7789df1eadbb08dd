/**
 * Dataset validation and preparation: the schema check, the deterministic train/validation split
 * and the built-in XGBoost CSV format (label first, no header). Where this stands: core domain;
 * the ingest use case feeds it the records of one streaming pass and writes the lines it returns.
 *
 * Every rejection names the file, the line and the column, so that a data scientist can fix the
 * file without guessing.
 */
import { fmix32, fnv1a32 } from '../support/hash';
import { formatCsvField } from './csv';
import { RejectionError } from './errors';
import type { ModelConfig } from './model-config';

/**
 * The fewest rows each channel may get. A validation channel of one row has no metric a gate can
 * use (AUC needs a row of each class; one row is no estimate of anything): such a job trained,
 * then failed the gate with "reported no metrics". Training needs as many.
 */
export const MIN_SPLIT_ROWS = { train: 2, validation: 2 } as const;

/**
 * The fewest data rows a dataset may have for `validationFraction`: enough that the split is
 * expected to give each channel its {@link MIN_SPLIT_ROWS} (10 at the default fraction, 0.2).
 */
export function minimumDatasetRows(validationFraction: number): number {
  // Rounded before ceil: 2 / 0.2 is 10.000000000000002 in floating point.
  const needed = (rows: number, share: number) => Math.ceil(Number((rows / share).toFixed(9)));
  return Math.max(
    needed(MIN_SPLIT_ROWS.validation, validationFraction),
    needed(MIN_SPLIT_ROWS.train, 1 - validationFraction),
  );
}

/** What the split produced; column statistics come from the profiler that runs in the same pass. */
export interface SplitSummary {
  readonly rows: number;
  readonly trainRows: number;
  readonly validationRows: number;
}

/**
 * A decimal number as XGBoost's CSV reader understands it. `Number()` alone would also accept
 * `0x1A`, `0b101`, `0o17` and `Infinity`, which XGBoost would misread.
 */
const DECIMAL_NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/** One prepared row, routed to its channel. */
export interface PreparedLine {
  readonly channel: 'train' | 'validation';
  readonly text: string;
}

/** Validates rows against the model's config and turns them into training lines. */
export class DatasetPreparer {
  private readonly labelIndex: number;
  private readonly featureIndexes: number[];
  /** Column names as trimmed in the header, for messages. */
  private readonly names: readonly string[];
  private readonly numericFeatures: boolean;
  private readonly seedHash: number;
  private readonly validationThreshold: number;
  private readonly labelValues = new Set<string>();
  private rowIndex = 0;
  private trainRows = 0;
  private validationRows = 0;

  /**
   * @param header the header row of the first file
   * @param config the model's validated config
   * @param source how the file is named in messages (e.g. `datasets/churn/customers.csv`)
   */
  constructor(
    readonly header: readonly string[],
    private readonly config: ModelConfig,
    private source: string,
  ) {
    this.checkHiddenCharacters(header);
    const names = header.map((name) => name.trim());
    names.forEach((name, index) => {
      if (name === '')
        throw this.reject('INVALID_DATASET', `line 1: column ${index + 1} of the header has no name`);
    });
    const seen = new Set<string>();
    for (const name of names) {
      if (seen.has(name))
        throw this.reject('INVALID_DATASET', `line 1: the header names the column "${name}" twice`);
      seen.add(name);
    }
    this.labelIndex = names.indexOf(config.labelColumn);
    if (this.labelIndex < 0) {
      throw this.reject(
        'MISSING_LABEL_COLUMN',
        `the header has no label column "${config.labelColumn}" (set labelColumn in models/<model>/config.json); columns found: ${names.join(', ')}`,
      );
    }
    this.featureIndexes = names.map((_, i) => i).filter((i) => i !== this.labelIndex);
    if (this.featureIndexes.length === 0) {
      throw this.reject(
        'INVALID_DATASET',
        `the header has only the label column "${config.labelColumn}"; at least one feature column is needed`,
      );
    }
    this.names = names;
    // Built-in XGBoost reads numbers only; custom images and scripts get the text as it is.
    this.numericFeatures = config.algorithm.type === 'xgboost';
    this.seedHash = fnv1a32(config.split.seed);
    this.validationThreshold = Math.floor(config.split.validationFraction * 0x100000000);
  }

  /** Names a later file of a folder dataset, for messages; its header must match the first one. */
  startFile(source: string, header: readonly string[]): void {
    this.source = source;
    this.checkHiddenCharacters(header);
    const expected = this.header.map((h) => h.trim());
    const actual = header.map((h) => h.trim());
    if (expected.length !== actual.length || expected.some((name, i) => name !== actual[i])) {
      throw this.reject(
        'INVALID_DATASET',
        `line 1: the header (${actual.join(', ')}) differs from the first file's header (${expected.join(', ')})`,
      );
    }
  }

  /** Validates one data row and returns its prepared line. */
  prepare(fields: readonly string[], line: number): PreparedLine {
    if (fields.length !== this.header.length) {
      throw this.reject(
        'INVALID_DATASET',
        `line ${line} has ${fields.length} fields; the header has ${this.header.length}`,
      );
    }
    const label = this.prepareLabel((fields[this.labelIndex] ?? '').trim(), line);
    const out: string[] = [label];
    for (const index of this.featureIndexes) {
      out.push(this.prepareFeature(index, fields[index] ?? '', line));
    }
    const channel = this.channelOf(this.rowIndex++);
    if (channel === 'train') this.trainRows++;
    else this.validationRows++;
    return { channel, text: out.join(',') };
  }

  /** Checks what can only be checked at the end and returns the split's counts. */
  finish(): SplitSummary {
    const rows = this.trainRows + this.validationRows;
    if (rows === 0) throw this.reject('EMPTY_DATASET', 'the file has a header but no data rows');
    const fraction = this.config.split.validationFraction;
    const minimum = minimumDatasetRows(fraction);
    if (rows < minimum) {
      throw this.reject(
        'INVALID_DATASET',
        `${rows} data rows are too few: with split.validationFraction ${fraction} a dataset needs at least ${minimum} data rows (at least ${MIN_SPLIT_ROWS.validation} for validation and ${MIN_SPLIT_ROWS.train} for training); add rows`,
      );
    }
    // The split is by hash, so a dataset at the minimum can still fall short by chance.
    if (this.trainRows < MIN_SPLIT_ROWS.train || this.validationRows < MIN_SPLIT_ROWS.validation) {
      throw this.reject(
        'INVALID_DATASET',
        `${rows} data rows are too few to hold out a validation share of ${fraction}: the split gave train ${this.trainRows}, validation ${this.validationRows}, and each needs at least ${MIN_SPLIT_ROWS.validation}; add rows`,
      );
    }
    if (this.config.problemType !== 'regression' && this.labelValues.size < 2) {
      throw this.reject(
        'INVALID_DATASET',
        `the label column "${this.config.labelColumn}" has only the value ${[...this.labelValues].join('')}; a classifier needs at least two classes`,
      );
    }
    return { rows, trainRows: this.trainRows, validationRows: this.validationRows };
  }

  private prepareLabel(raw: string, line: number): string {
    const name = this.config.labelColumn;
    if (raw === '') throw this.reject('INVALID_DATASET', `line ${line}: the label column "${name}" is empty`);
    let value: number;
    if (this.config.problemType === 'binary_classification' && /^(true|false)$/i.test(raw)) {
      value = raw.toLowerCase() === 'true' ? 1 : 0;
    } else {
      value = DECIMAL_NUMBER.test(raw) ? Number(raw) : Number.NaN;
      if (!Number.isFinite(value)) {
        throw this.reject(
          'INVALID_DATASET',
          `line ${line}: the label "${truncate(raw)}" in column "${name}" is not a number`,
        );
      }
    }
    if (this.config.problemType === 'binary_classification' && value !== 0 && value !== 1) {
      throw this.reject(
        'INVALID_DATASET',
        `line ${line}: the label "${truncate(raw)}" in column "${name}" must be 0 or 1 (or true/false) for binary classification`,
      );
    }
    if (this.config.problemType === 'multiclass_classification') {
      const classes = Number(this.config.hyperparameters['num_class']);
      if (!Number.isInteger(value) || value < 0 || (Number.isFinite(classes) && value >= classes)) {
        throw this.reject(
          'INVALID_DATASET',
          `line ${line}: the label "${truncate(raw)}" in column "${name}" must be a class index 0..${Number.isFinite(classes) ? classes - 1 : 'num_class-1'}`,
        );
      }
    }
    if (this.labelValues.size <= 2) this.labelValues.add(String(value));
    return String(value);
  }

  private prepareFeature(index: number, rawField: string, line: number): string {
    const name = this.names[index]!;
    const raw = rawField.trim();
    if (raw === '') return '';
    if (!this.numericFeatures) return formatCsvField(rawField);
    const value = DECIMAL_NUMBER.test(raw) ? Number(raw) : Number.NaN;
    if (!Number.isFinite(value)) {
      if (/^[+-]?(nan|inf(inity)?)$/i.test(raw)) {
        throw this.reject(
          'INVALID_DATASET',
          `line ${line}: column "${name}" holds "${raw}"; use a finite number, or leave the field empty for a missing value`,
        );
      }
      throw this.reject(
        'INVALID_DATASET',
        `line ${line}: column "${name}" holds text ("${truncate(raw)}"); built-in XGBoost needs numeric features: encode the column as numbers or drop it`,
      );
    }
    return raw;
  }

  /** Deterministic split: the same seed and row order always give the same channels. */
  private channelOf(rowIndex: number): 'train' | 'validation' {
    return fmix32(this.seedHash ^ rowIndex) < this.validationThreshold ? 'validation' : 'train';
  }

  /**
   * Refuses a header name holding a character no one can see: checked before trimming, since
   * String#trim drops a U+FEFF and "\uFEFFlabel" would pass as "label".
   */
  private checkHiddenCharacters(header: readonly string[]): void {
    header.forEach((name, index) => {
      const hidden = hiddenCharacterIn(name);
      if (hidden)
        throw this.reject(
          'INVALID_DATASET',
          `line 1: column ${index + 1} of the header (${visible(name)}) holds ${hidden}; save the file as UTF-8 with at most one BOM, at its very start, and no control characters in column names`,
        );
    });
  }

  private reject(
    code: 'INVALID_DATASET' | 'MISSING_LABEL_COLUMN' | 'EMPTY_DATASET',
    message: string,
  ): RejectionError {
    return new RejectionError(code, `${this.source}: ${message}`);
  }
}

/**
 * Whether a character is one no one can see or type in a column name: a C0 control (tab, CR and LF
 * aside: trimmed, or quoted line breaks), DEL, or a byte-order mark.
 */
function isHidden(code: number): boolean {
  return (code < 0x20 && code !== 0x09 && code !== 0x0a && code !== 0x0d) || code === 0x7f || code === 0xfeff;
}

/** `U+XXXX` of a character code, for messages. */
function codePoint(code: number): string {
  return code.toString(16).toUpperCase().padStart(4, '0');
}

/** What a header name holds that no one can see or type: a NUL, a control character, a BOM. */
function hiddenCharacterIn(name: string): string | undefined {
  if (name.includes('\u0000')) return 'a NUL character (U+0000)';
  if (name.includes('\uFEFF'))
    return 'a byte-order mark (U+FEFF) that is not the first character of the file';
  for (let i = 0; i < name.length; i++) {
    const code = name.charCodeAt(i);
    if (isHidden(code)) return `a control character (U+${codePoint(code)})`;
  }
  return undefined;
}

/** A header name quoted with its hidden characters written as `\uXXXX`, for messages. */
function visible(name: string): string {
  let shown = '';
  for (const c of truncate(name)) {
    const code = c.charCodeAt(0);
    shown += isHidden(code) ? `\\u${codePoint(code)}` : c;
  }
  return `"${shown}"`;
}

function truncate(text: string): string {
  return text.length > 40 ? `${text.slice(0, 40)}…` : text;
}
