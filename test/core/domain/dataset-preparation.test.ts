import { describe, expect, it } from 'vitest';
import {
  DatasetPreparer,
  MIN_SPLIT_ROWS,
  minimumDatasetRows,
} from '../../../core/domain/dataset-preparation';
import { RejectionError, type RejectionCode } from '../../../core/domain/errors';
import { modelConfigSchema, type ModelConfig } from '../../../core/domain/model-config';
import { anyNumber } from '../../support/matchers';

const SOURCE = 'datasets/churn/customers.csv';
const IMAGE = '123456789012.dkr.ecr.us-east-1.amazonaws.com/x:1';

const config = (input: Record<string, unknown> = {}): ModelConfig => modelConfigSchema.parse(input);

/** Runs `fn` and returns the RejectionError it throws. */
function rejection(fn: () => unknown): RejectionError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(RejectionError);
    return error as RejectionError;
  }
  throw new Error('expected a RejectionError, but nothing was thrown');
}

function expectRejection(
  fn: () => unknown,
  code: RejectionCode,
  ...parts: (string | RegExp)[]
): RejectionError {
  const error = rejection(fn);
  expect(error.code).toBe(code);
  expect(error.message.startsWith(`${SOURCE}: `)).toBe(true);
  for (const part of parts) {
    if (typeof part === 'string') expect(error.message).toContain(part);
    else expect(error.message).toMatch(part);
  }
  return error;
}

/** Prepares rows (data lines numbered from 2) and returns the prepared lines. */
function prepareAll(preparer: DatasetPreparer, rows: string[][]) {
  return rows.map((fields, i) => preparer.prepare(fields, i + 2));
}

/** A binary dataset of `n` rows with alternating labels. */
function binaryRows(n: number): string[][] {
  return Array.from({ length: n }, (_, i) => [String(i), String(i % 2)]);
}

describe('DatasetPreparer: header', () => {
  it('rejects a header without the label column, naming the column, the columns found and the file', () => {
    const error = expectRejection(
      () => new DatasetPreparer(['age', 'income', 'churned'], config({ labelColumn: 'target' }), SOURCE),
      'MISSING_LABEL_COLUMN',
      '"target"',
      'age, income, churned',
      'labelColumn',
    );
    expect(error.name).toBe('RejectionError');
  });

  it('uses "label" as the default label column', () => {
    expectRejection(
      () => new DatasetPreparer(['a', 'b'], config(), SOURCE),
      'MISSING_LABEL_COLUMN',
      '"label"',
      'a, b',
    );
    expect(() => new DatasetPreparer(['a', 'label'], config(), SOURCE)).not.toThrow();
  });

  it('matches header names after trimming spaces', () => {
    const preparer = new DatasetPreparer([' x ', ' label '], config(), SOURCE);
    expect(preparer.prepare(['1', '0'], 2).text).toBe('0,1');
  });

  it('rejects a header naming a column twice', () => {
    expectRejection(
      () => new DatasetPreparer(['label', 'a', 'b', 'a'], config(), SOURCE),
      'INVALID_DATASET',
      'line 1',
      '"a" twice',
    );
    expectRejection(
      () => new DatasetPreparer(['label', 'a', ' a '], config(), SOURCE),
      'INVALID_DATASET',
      '"a" twice',
    );
  });

  it('rejects a header with an empty name, naming its position', () => {
    expectRejection(
      () => new DatasetPreparer(['label', 'a', '', 'c'], config(), SOURCE),
      'INVALID_DATASET',
      'line 1',
      'column 3',
    );
    expectRejection(
      () => new DatasetPreparer(['label', '  '], config(), SOURCE),
      'INVALID_DATASET',
      'column 2',
    );
  });

  it.each([
    ['a NUL', ['a\u0000b', 'label'], 1, '("a\\u0000b")', 'a NUL character (U+0000)'],
    ['a second BOM', ['\uFEFFa', 'label'], 1, '("\\uFEFFa")', 'a byte-order mark (U+FEFF)'],
    ['a BOM inside', ['x', 'la\uFEFFbel'], 2, '("la\\uFEFFbel")', 'a byte-order mark (U+FEFF)'],
    ['a control character', ['x', 'label', 'c\u0007'], 3, '("c\\u0007")', 'a control character (U+0007)'],
  ])(
    'rejects a header name holding %s, naming the column (String#trim would hide a BOM)',
    (_, header, column, shown, what) => {
      expectRejection(
        () => new DatasetPreparer(header, config(), SOURCE),
        'INVALID_DATASET',
        `line 1: column ${column} of the header ${shown} holds ${what}`,
      );
    },
  );

  it('rejects a hidden character in a later file of a folder dataset too', () => {
    const preparer = new DatasetPreparer(['x', 'label'], config(), 'part-0');
    const error = rejection(() => preparer.startFile('part-1', ['x', '\uFEFFlabel']));
    expect(error.message).toMatch(
      /^part-1: line 1: column 2 of the header \("\\uFEFFlabel"\) holds a byte-order mark/,
    );
  });

  it('rejects a header with only the label column', () => {
    expectRejection(
      () => new DatasetPreparer(['label'], config(), SOURCE),
      'INVALID_DATASET',
      '"label"',
      'feature',
    );
  });
});

describe('DatasetPreparer: rows', () => {
  it('moves the label first and keeps the features in header order, without a header line', () => {
    const preparer = new DatasetPreparer(['f1', 'f2', 'label', 'f3'], config(), SOURCE);
    expect(preparer.prepare(['1.5', '2', '1', '-3'], 2).text).toBe('1,1.5,2,-3');
    expect(preparer.prepare(['10', '20', '0', '30'], 3).text).toBe('0,10,20,30');
    const texts = prepareAll(
      new DatasetPreparer(['label', 'a'], config(), SOURCE),
      binaryRows(4).map(([a, l]) => [l!, a!]),
    ).map((p) => p.text);
    expect(texts).toEqual(['0,0', '1,1', '0,2', '1,3']);
    expect(texts.some((t) => t.includes('label'))).toBe(false);
  });

  it('trims spaces around numeric values', () => {
    const preparer = new DatasetPreparer(['a', 'label'], config(), SOURCE);
    expect(preparer.prepare([' 4.25 ', ' 1 '], 2).text).toBe('1,4.25');
  });

  it('rejects a ragged row, naming the line and both counts', () => {
    const preparer = new DatasetPreparer(['a', 'b', 'label'], config(), SOURCE);
    expectRejection(
      () => preparer.prepare(['1', '2'], 7),
      'INVALID_DATASET',
      'line 7',
      '2 fields',
      'header has 3',
    );
    expectRejection(
      () => preparer.prepare(['1', '2', '0', '4'], 8),
      'INVALID_DATASET',
      'line 8',
      '4 fields',
      'header has 3',
    );
  });

  it('rejects an empty label, naming the line and the column', () => {
    const preparer = new DatasetPreparer(['a', 'target'], config({ labelColumn: 'target' }), SOURCE);
    expectRejection(() => preparer.prepare(['1', ''], 12), 'INVALID_DATASET', 'line 12', '"target"', 'empty');
    expectRejection(() => preparer.prepare(['1', '  '], 13), 'INVALID_DATASET', 'line 13', 'empty');
  });

  it('rejects a text feature for built-in XGBoost, naming the line, the column and the value', () => {
    const preparer = new DatasetPreparer(['label', 'age', 'city'], config(), SOURCE);
    expectRejection(
      () => preparer.prepare(['1', '42', 'Paris'], 5),
      'INVALID_DATASET',
      'line 5',
      '"city"',
      'Paris',
      'XGBoost',
    );
  });

  it('truncates a long offending value in the message', () => {
    const preparer = new DatasetPreparer(['label', 'x'], config(), SOURCE);
    const error = expectRejection(
      () => preparer.prepare(['1', 'q'.repeat(500)], 2),
      'INVALID_DATASET',
      'line 2',
    );
    expect(error.message).toContain('q'.repeat(40));
    expect(error.message).not.toContain('q'.repeat(41));
  });

  it.each(['NaN', 'nan', 'Infinity', '-Infinity', '+inf', 'INF'])(
    'rejects the non-finite feature %s',
    (value) => {
      const preparer = new DatasetPreparer(['label', 'x'], config(), SOURCE);
      expectRejection(
        () => preparer.prepare(['0', value], 9),
        'INVALID_DATASET',
        'line 9',
        '"x"',
        value,
        'finite',
      );
    },
  );

  it('rejects a numeric overflow as not a finite number', () => {
    const preparer = new DatasetPreparer(['label', 'x'], config(), SOURCE);
    expectRejection(() => preparer.prepare(['0', '1e400'], 3), 'INVALID_DATASET', 'line 3', '"x"');
  });

  // Number() reads JavaScript literals that XGBoost's CSV reader does not (it would read "0x1A" as 0):
  // such a value must be rejected or written as the number the profile recorded, never passed as is.
  it.each(['0x1A', '0b101', '0o17'])(
    'does not pass the JavaScript-only number literal %s to XGBoost as is',
    (raw) => {
      const preparer = new DatasetPreparer(['label', 'x'], config(), SOURCE);
      let text: string;
      try {
        text = preparer.prepare(['1', raw], 2).text;
      } catch (error) {
        expect(error).toBeInstanceOf(RejectionError);
        return;
      }
      expect(text).toBe(`1,${Number(raw)}`);
    },
  );

  it('treats an empty feature as missing: an empty field', () => {
    const preparer = new DatasetPreparer(['label', 'a', 'b'], config(), SOURCE);
    const lines = prepareAll(preparer, [
      ['0', '', '1'],
      ['1', '2', ' '],
      ['0', '3', '4'],
      ['1', '', '5'],
      ['0', '6', '7'],
      ['1', '8', '9'],
    ]);
    expect(lines.map((l) => l.text)).toEqual(['0,,1', '1,2,', '0,3,4', '1,,5', '0,6,7', '1,8,9']);
  });

  it.each([
    ['0', '0'],
    ['1', '1'],
    ['true', '1'],
    ['false', '0'],
    ['TRUE', '1'],
    ['False', '0'],
    ['1.0', '1'],
    [' 1 ', '1'],
  ])('accepts the binary label %j as %s', (raw, written) => {
    const preparer = new DatasetPreparer(['label', 'x'], config(), SOURCE);
    expect(preparer.prepare([raw, '1'], 2).text).toBe(`${written},1`);
  });

  it.each(['2', '-1', '0.5', 'yes', 'abc'])('rejects the binary label %j, naming the line', (raw) => {
    const preparer = new DatasetPreparer(['label', 'x'], config(), SOURCE);
    expectRejection(
      () => preparer.prepare([raw, '1'], 4),
      'INVALID_DATASET',
      'line 4',
      `"${raw}"`,
      '"label"',
    );
  });

  it('accepts any finite regression label and rejects a non-number', () => {
    const preparer = new DatasetPreparer(
      ['y', 'x'],
      config({ labelColumn: 'y', problemType: 'regression' }),
      SOURCE,
    );
    expect(preparer.prepare(['-12.75', '1'], 2).text).toBe('-12.75,1');
    expect(preparer.prepare(['1e6', '1'], 3).text).toBe('1000000,1');
    expect(preparer.prepare(['0', '1'], 4).text).toBe('0,1');
    expectRejection(
      () => preparer.prepare(['abc', '1'], 5),
      'INVALID_DATASET',
      'line 5',
      '"abc"',
      'not a number',
    );
    expectRejection(
      () => preparer.prepare(['Infinity', '1'], 6),
      'INVALID_DATASET',
      'line 6',
      'not a number',
    );
    expectRejection(() => preparer.prepare(['true', '1'], 7), 'INVALID_DATASET', 'line 7');
  });

  it('checks multiclass labels against num_class', () => {
    const preparer = new DatasetPreparer(
      ['label', 'x'],
      config({ problemType: 'multiclass_classification', hyperparameters: { num_class: 3 } }),
      SOURCE,
    );
    expect(preparer.prepare(['0', '1'], 2).text).toBe('0,1');
    expect(preparer.prepare(['2', '1'], 3).text).toBe('2,1');
    expectRejection(() => preparer.prepare(['3', '1'], 4), 'INVALID_DATASET', 'line 4', '0..2');
    expectRejection(() => preparer.prepare(['1.5', '1'], 5), 'INVALID_DATASET', 'line 5');
    expectRejection(() => preparer.prepare(['-1', '1'], 6), 'INVALID_DATASET', 'line 6');
  });

  it('reads num_class given as a string, and accepts any class index without it', () => {
    const stringClasses = new DatasetPreparer(
      ['label', 'x'],
      config({ problemType: 'multiclass_classification', hyperparameters: { num_class: '2' } }),
      SOURCE,
    );
    expectRejection(() => stringClasses.prepare(['2', '1'], 2), 'INVALID_DATASET', '0..1');
    const open = new DatasetPreparer(
      ['label', 'x'],
      config({ problemType: 'multiclass_classification' }),
      SOURCE,
    );
    expect(open.prepare(['17', '1'], 2).text).toBe('17,1');
    expectRejection(() => open.prepare(['1.5', '1'], 3), 'INVALID_DATASET', 'num_class-1');
  });

  it('passes text features through for a custom image, quoting when needed', () => {
    const preparer = new DatasetPreparer(
      ['label', 'city', 'note', 'n'],
      config({ algorithm: { type: 'image', imageUri: IMAGE } }),
      SOURCE,
    );
    expect(preparer.prepare(['1', 'Paris', 'a, "b"', '3'], 2).text).toBe('1,Paris,"a, ""b""",3');
    expect(preparer.prepare(['0', 'NaN', 'two\nlines', ''], 3).text).toBe('0,NaN,"two\nlines",');
  });

  it('still validates the label for a custom image', () => {
    const preparer = new DatasetPreparer(
      ['label', 'city'],
      config({ algorithm: { type: 'image', imageUri: IMAGE } }),
      SOURCE,
    );
    expectRejection(() => preparer.prepare(['maybe', 'Paris'], 2), 'INVALID_DATASET', 'line 2');
  });
});

describe('DatasetPreparer: split', () => {
  const channels = (cfg: ModelConfig, rows: number) => {
    const preparer = new DatasetPreparer(['x', 'label'], cfg, SOURCE);
    return Array.from(
      { length: rows },
      (_, i) => preparer.prepare([String(i), String(i % 2)], i + 2).channel,
    );
  };

  it('is deterministic: the same input and seed give the same channels', () => {
    expect(channels(config(), 2000)).toEqual(channels(config(), 2000));
    expect(channels(config({ split: { seed: 'abc' } }), 2000)).toEqual(
      channels(config({ split: { seed: 'abc' } }), 2000),
    );
  });

  it('depends on the seed', () => {
    const a = channels(config({ split: { seed: 'one' } }), 2000);
    const b = channels(config({ split: { seed: 'two' } }), 2000);
    expect(a).not.toEqual(b);
    const differing = a.filter((channel, i) => channel !== b[i]).length;
    expect(differing).toBeGreaterThan(100);
  });

  it('does not depend on the row contents, only on their order', () => {
    const preparer = new DatasetPreparer(['x', 'label'], config(), SOURCE);
    const other = Array.from(
      { length: 500 },
      (_, i) => preparer.prepare([String(i * 7), String((i + 1) % 2)], i + 2).channel,
    );
    expect(other).toEqual(channels(config(), 500));
  });

  it.each([0.2, 0.1, 0.5, 0.05])('holds out close to validationFraction %s of 10 000 rows', (fraction) => {
    const result = channels(config({ split: { validationFraction: fraction } }), 10_000);
    const share = result.filter((c) => c === 'validation').length / result.length;
    expect(Math.abs(share - fraction)).toBeLessThan(0.02);
  });

  it('does not send long runs of consecutive rows to one channel', () => {
    const result = channels(config({ split: { validationFraction: 0.5 } }), 10_000);
    let longest = 0;
    let run = 0;
    for (let i = 0; i < result.length; i++) {
      run = i > 0 && result[i] === result[i - 1] ? run + 1 : 1;
      longest = Math.max(longest, run);
    }
    expect(longest).toBeLessThan(30);
  });

  it('reports the split in the profile', () => {
    const preparer = new DatasetPreparer(['x', 'label'], config(), SOURCE);
    const result = prepareAll(preparer, binaryRows(1000));
    const profile = preparer.finish();
    expect(profile.rows).toBe(1000);
    expect(profile.validationRows).toBe(result.filter((r) => r.channel === 'validation').length);
    expect(profile.trainRows).toBe(result.filter((r) => r.channel === 'train').length);
    expect(profile.trainRows + profile.validationRows).toBe(1000);
  });
});

describe('DatasetPreparer: finish', () => {
  it('rejects a header-only file as EMPTY_DATASET', () => {
    const preparer = new DatasetPreparer(['x', 'label'], config(), SOURCE);
    expectRejection(() => preparer.finish(), 'EMPTY_DATASET', 'no data rows');
  });

  it('rejects a single class for binary classification', () => {
    const preparer = new DatasetPreparer(['x', 'label'], config(), SOURCE);
    prepareAll(
      preparer,
      Array.from({ length: 200 }, (_, i) => [String(i), '1']),
    );
    expectRejection(() => preparer.finish(), 'INVALID_DATASET', '"label"', 'two classes');
  });

  it('treats true and 1 as the same class', () => {
    const preparer = new DatasetPreparer(['x', 'label'], config(), SOURCE);
    prepareAll(
      preparer,
      Array.from({ length: 200 }, (_, i) => [String(i), i % 2 ? 'true' : '1']),
    );
    expectRejection(() => preparer.finish(), 'INVALID_DATASET', 'two classes');
  });

  it('rejects a single class for multiclass but not a constant regression target', () => {
    const multi = new DatasetPreparer(
      ['x', 'label'],
      config({ problemType: 'multiclass_classification' }),
      SOURCE,
    );
    prepareAll(
      multi,
      Array.from({ length: 200 }, (_, i) => [String(i), '2']),
    );
    expectRejection(() => multi.finish(), 'INVALID_DATASET', 'two classes');

    const regression = new DatasetPreparer(['x', 'label'], config({ problemType: 'regression' }), SOURCE);
    prepareAll(
      regression,
      Array.from({ length: 200 }, (_, i) => [String(i), '5']),
    );
    expect(regression.finish().rows).toBe(200);
  });

  it('needs enough rows for 2 validation and 2 training rows at the configured share', () => {
    expect(MIN_SPLIT_ROWS).toEqual({ train: 2, validation: 2 });
    expect(minimumDatasetRows(0.2)).toBe(10);
    expect(minimumDatasetRows(0.5)).toBe(4);
    expect(minimumDatasetRows(0.1)).toBe(20);
    expect(minimumDatasetRows(0.9)).toBe(20);
    expect(minimumDatasetRows(0.3)).toBe(7);
  });

  it.each([2, 9])(
    'refuses %s data rows up front, stating the minimum (they trained, then reported no metrics)',
    (n) => {
      const preparer = new DatasetPreparer(['x', 'label'], config(), SOURCE);
      prepareAll(preparer, binaryRows(n));
      expectRejection(
        () => preparer.finish(),
        'INVALID_DATASET',
        `${n} data rows are too few: with split.validationFraction 0.2 a dataset needs at least 10 data rows (at least 2 for validation and 2 for training)`,
      );
    },
  );

  it('refuses a split that left a channel short by chance, with its counts', () => {
    // At the minimum, the hash may still give validation fewer than 2 rows: find such a seed.
    const seed = Array.from({ length: 200 }, (_, i) => `s${i}`).find((candidate) => {
      const preparer = new DatasetPreparer(['x', 'label'], config({ split: { seed: candidate } }), SOURCE);
      return prepareAll(preparer, binaryRows(10)).filter((l) => l.channel === 'validation').length < 2;
    })!;
    const preparer = new DatasetPreparer(['x', 'label'], config({ split: { seed } }), SOURCE);
    prepareAll(preparer, binaryRows(10));
    expectRejection(
      () => preparer.finish(),
      'INVALID_DATASET',
      /the split gave train \d+, validation [01], and each needs at least 2/,
    );
  });

  it('rejects too few rows to hold out a validation share', () => {
    const preparer = new DatasetPreparer(['x', 'label'], config(), SOURCE);
    preparer.prepare(['1', '0'], 2);
    expectRejection(() => preparer.finish(), 'INVALID_DATASET', '1 data rows', 'too few', 'add rows');
  });

  it('counts rows and the split (column statistics come from the profiler: see registry.test.ts)', () => {
    const preparer = new DatasetPreparer(['label', 'age'], config(), SOURCE);
    prepareAll(
      preparer,
      Array.from({ length: 40 }, (_, i) => [String(i % 2), String(i)]),
    );
    const split = preparer.finish();
    expect(split).toEqual({ rows: 40, trainRows: anyNumber(), validationRows: anyNumber() });
    expect(split.trainRows + split.validationRows).toBe(40);
    expect(split.trainRows).toBeGreaterThan(split.validationRows);
  });
});

describe('DatasetPreparer: folder datasets', () => {
  it('accepts a later file with the same header (up to spaces) and names it in messages', () => {
    const preparer = new DatasetPreparer(['x', 'label'], config(), 'datasets/churn/d1/part-0.csv');
    preparer.prepare(['1', '0'], 2);
    expect(() => preparer.startFile('datasets/churn/d1/part-1.csv', [' x', 'label '])).not.toThrow();
    const error = rejection(() => preparer.prepare(['1'], 2));
    expect(error.message).toMatch(/^datasets\/churn\/d1\/part-1\.csv: line 2 /);
  });

  it('rejects a later file with a different header, naming both headers and the file', () => {
    const preparer = new DatasetPreparer(['x', 'label'], config(), 'datasets/churn/d1/part-0.csv');
    const error = rejection(() => preparer.startFile('datasets/churn/d1/part-1.csv', ['label', 'x']));
    expect(error.code).toBe('INVALID_DATASET');
    expect(error.message).toContain('datasets/churn/d1/part-1.csv');
    expect(error.message).toContain('label, x');
    expect(error.message).toContain('x, label');
    expect(rejection(() => preparer.startFile('p2', ['x', 'label', 'extra'])).code).toBe('INVALID_DATASET');
    expect(rejection(() => preparer.startFile('p3', ['x'])).code).toBe('INVALID_DATASET');
  });

  it('keeps splitting and profiling across files as one dataset', () => {
    const single = new DatasetPreparer(['x', 'label'], config(), SOURCE);
    const expected = prepareAll(single, binaryRows(300)).map((r) => r.channel);
    const profileSingle = single.finish();

    const folder = new DatasetPreparer(['x', 'label'], config(), 'part-0');
    const rows = binaryRows(300);
    const got = rows.slice(0, 100).map((fields, i) => folder.prepare(fields, i + 2).channel);
    folder.startFile('part-1', ['x', 'label']);
    got.push(...rows.slice(100).map((fields, i) => folder.prepare(fields, i + 2).channel));
    expect(got).toEqual(expected);
    expect(folder.finish()).toEqual(profileSingle);
  });
});
