/**
 * The local built-in trainer reads its channels with the project's one CSV reader
 * (core/domain/csv.ts): quoted fields are one field each, wherever their commas are.
 */
import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ClientError, runBuiltinTraining } from '../../../local/training/train-builtin';

let root: string;

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'train-builtin-'));
  await mkdir(join(root, 'input', 'config'), { recursive: true });
  await writeFile(
    join(root, 'input', 'config', 'hyperparameters.json'),
    JSON.stringify({ objective: 'reg:squarederror', num_round: '2' }),
  );
});

afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

async function train(channelFile: string): Promise<string[]> {
  await mkdir(join(root, 'input', 'data', 'train'), { recursive: true });
  await writeFile(join(root, 'input', 'data', 'train', 'part-0.csv'), channelFile);
  const log: string[] = [];
  await runBuiltinTraining(root, (line) => log.push(line));
  return log;
}

describe('runBuiltinTraining: reading the channels', () => {
  it('trains on quoted fields (a quoted number is a number)', async () => {
    const log = await train('1,"0.5",2\n"0",0.1,"3"\r\n\n2,0.9,1\n');
    expect(log[0]).toMatch(/train rows=3 validation rows=0 features=2/);
    expect(JSON.parse(await readFile(join(root, 'model', 'model.json'), 'utf8'))).toBeTruthy();
  });

  it('keeps a quoted comma inside its field (one column, not two)', async () => {
    // Split on every comma, the second row had 4 columns against the first row's 3.
    await expect(train('1,2,3\n1,"2,5",3\n')).rejects.toThrow(
      /train\/part-0\.csv line 2: column 2 "2,5" is not a number/,
    );
  });

  it('reports malformed CSV as a ClientError naming the file and the line', async () => {
    const failure = train('1,2,3\n1,2,"3\n');
    await expect(failure).rejects.toThrow(ClientError);
    await expect(failure).rejects.toThrow(/train\/part-0\.csv line 2: a quoted field is not closed/);
  });
});
