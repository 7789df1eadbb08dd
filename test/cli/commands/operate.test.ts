/**
 * The operator's mutations (`approve`, `reject`, `rollback`, `retrain`) and `upload`, on a fake
 * target: the OperatorCommand each sends (actor included), the exit code of each answer, the
 * `--json` shapes, usage errors, help texts; the upload's progress and its stage-by-stage follow.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { CliCommand } from '../../../cli/command';
import { COMMANDS } from '../../../cli/commands/index';
import {
  createApproveCommand,
  createRejectCommand,
  createRetrainCommand,
  createRollbackCommand,
} from '../../../cli/commands/operate';
import { byteSize, createUploadCommand, progressReporter } from '../../../cli/commands/upload';
import type { OperatorErrorCode, OperatorResult } from '../../../core/domain/operator-commands';
import type { AuditEvent, DatasetRecord, VersionRecord } from '../../../core/domain/registry';
import { captureIo, fakeOperator, fakeTarget, run } from '../support/cli-fakes';

function operatorCommands(
  answer: OperatorResult = {
    ok: true,
    action: 'approve',
    model: 'churn',
    version: 2,
    message: 'v2 approved; rollout started',
  },
) {
  const operator = fakeOperator(() => answer);
  const { resolver } = fakeTarget({}, { operator });
  const list: CliCommand[] = [
    createApproveCommand(resolver),
    createRejectCommand(resolver),
    createRollbackCommand(resolver),
    createRetrainCommand(resolver, () => 'req-1'),
  ];
  return { list, operator };
}

describe('mutations send one OperatorCommand with the caller as actor', () => {
  it.each([
    [
      ['approve', 'churn', 'v2', '--note', 'looks good'],
      { action: 'approve', model: 'churn', version: 2, actor: 'local:tester', note: 'looks good' },
    ],
    [
      ['reject', 'churn', '2', '--reason', 'bad data'],
      { action: 'reject', model: 'churn', version: 2, actor: 'local:tester', reason: 'bad data' },
    ],
    [
      ['rollback', 'churn', '--to', '1', '--reason', 'v3 is off'],
      { action: 'rollback', model: 'churn', to: 1, actor: 'local:tester', reason: 'v3 is off' },
    ],
    [['rollback', 'churn'], { action: 'rollback', model: 'churn', actor: 'local:tester' }],
    [
      ['retrain', 'churn', '--dataset', 'day-1'],
      { action: 'retrain', model: 'churn', datasetId: 'day-1', actor: 'local:tester', requestId: 'req-1' },
    ],
    [
      ['retrain', 'churn', '--request-id', 'mine_2'],
      { action: 'retrain', model: 'churn', actor: 'local:tester', requestId: 'mine_2' },
    ],
  ])('%j', async (args, command) => {
    const { list, operator } = operatorCommands();
    const result = await run(list, args);
    expect(result.code).toBe(0);
    expect(operator.sent).toEqual([command]);
    expect(result.stdout).toBe('v2 approved; rollout started\n');
  });

  it('prints {command, result} with --json', async () => {
    const { list } = operatorCommands();
    const result = await run(list, ['approve', 'churn', '2', '--json']);
    expect(result.json()).toEqual({
      command: { action: 'approve', model: 'churn', version: 2, actor: 'local:tester' },
      result: {
        ok: true,
        action: 'approve',
        model: 'churn',
        version: 2,
        message: 'v2 approved; rollout started',
      },
    });
  });

  it.each([
    ['malformed', 2],
    ['not-found', 3],
    ['conflict', 4],
    ['regression', 4],
    ['failed', 1],
  ] as [OperatorErrorCode, number][])(
    'answers %s with exit code %i, the reason on stderr',
    async (code, exit) => {
      const { list } = operatorCommands({
        ok: false,
        action: 'approve',
        model: 'churn',
        error: { code, message: 'why not' },
      });
      const result = await run(list, ['approve', 'churn', '2']);
      expect(result.code).toBe(exit);
      expect(result.stderr).toBe(`${code}: why not\n`);
      expect(result.stdout).toBe('');
    },
  );

  it('refuses incomplete command lines with exit 2 and sends nothing', async () => {
    const { list, operator } = operatorCommands();
    for (const args of [
      ['approve', 'churn'],
      ['approve', 'churn', 'two'],
      ['reject', 'churn', '2'],
      ['reject', 'churn', '2', '--reason', ' '],
      ['rollback', 'churn', '--to', '0'],
      ['retrain', 'churn', '--request-id', 'has space'],
      ['approve', 'Churn!', '2'],
      ['approve', 'churn', '2', '--stack', 's', '--dir', 'd'],
    ]) {
      const result = await run(list, args);
      expect(result.code, args.join(' ')).toBe(2);
      expect(result.stderr).toContain('Usage: mlops');
    }
    expect(operator.sent).toEqual([]);
  });
});

describe('help', () => {
  const operatorNames = [
    'models',
    'versions',
    'show',
    'approve',
    'reject',
    'rollback',
    'retrain',
    'incidents',
    'incident',
    'upload',
    'dlq',
  ];
  it.each(operatorNames)('mlops %s --help shows usage, the target options and examples', async (name) => {
    const result = await run(COMMANDS, [name, '--help']);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(new RegExp(`^Usage: mlops ${name}`));
    expect(result.stdout).toContain('--stack <name>');
    expect(result.stdout).toMatch(/Examples?:/);
    if (name !== 'dlq' && !['approve', 'reject', 'rollback', 'retrain'].includes(name))
      expect(result.stdout).toContain('--json');
  });
});

describe('mlops upload', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mlops-upload-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'day-3.csv');
  writeFileSync(file, 'x,label\n1,0\n');

  /** A registry that moves the upload one stage per read of its version. */
  function pipeline(end: 'PRODUCTION' | 'REJECTED' | 'stuck') {
    const at = (n: number) => `2099-01-01T00:00:0${n}.000Z`;
    const dataset: DatasetRecord = {
      model: 'churn',
      datasetId: 'day-3-abc',
      sourceUri: 's3://data/datasets/churn/day-3.csv',
      sourceEtag: 'etag-1',
      status: 'ACCEPTED',
      version: 4,
      profile: { rows: 1, trainRows: 1, validationRows: 0, columns: [] },
      createdAt: at(1),
    };
    const path =
      end === 'stuck'
        ? ['TRAINING']
        : end === 'PRODUCTION'
          ? ['TRAINING', 'TRAINED', 'APPROVED', 'DEPLOYING', 'PRODUCTION']
          : ['TRAINING', 'TRAINED', 'REJECTED'];
    let reads = 0;
    const version = (): VersionRecord => {
      const status = path[Math.min(reads, path.length - 1)] as VersionRecord['status'];
      return {
        model: 'churn',
        version: 4,
        status,
        datasetId: 'day-3-abc',
        trainingJobName: 'j',
        image: 'i',
        hyperparameters: {},
        objectiveMetric: 'validation:auc',
        ...(status === 'REJECTED' ? { failureReason: 'validation:auc 0.61 below the threshold 0.8' } : {}),
        createdAt: at(1),
        updatedAt: at(1),
      };
    };
    const audit = (): AuditEvent[] =>
      path.slice(0, reads + 1).map((to, i) => ({
        model: 'churn',
        at: at(i + 2),
        eventId: `e${i}`,
        type: 'T',
        actor: 'pipeline',
        version: 4,
        to,
        reason: `now ${to}`,
      }));
    return {
      listDatasets: () =>
        Promise.resolve([{ ...dataset, datasetId: 'older', sourceEtag: 'etag-0' }, dataset]),
      getVersion: () => Promise.resolve(version()),
      listAudit: () => {
        const lines = audit();
        reads++;
        return Promise.resolve(lines);
      },
    };
  }

  function upload(end: 'PRODUCTION' | 'REJECTED' | 'stuck') {
    const keys: string[] = [];
    const { resolver } = fakeTarget(pipeline(end), {
      uploader: {
        upload: (_file, key, onProgress) => {
          keys.push(key);
          onProgress({ loaded: 5, total: 10 });
          onProgress({ loaded: 10, total: 10 });
          return Promise.resolve({ bucket: 'data', key, bytes: 10, etag: 'etag-1' });
        },
      },
    });
    return { list: [createUploadCommand(resolver, () => Promise.resolve())], keys };
  }

  it('uploads to datasets/<model>/<file name> and follows it to production (exit 0)', async () => {
    const { list, keys } = upload('PRODUCTION');
    const result = await run(list, ['upload', file, '--model', 'churn', '--wait', '--json']);
    expect(result.code).toBe(0);
    expect(keys).toEqual(['datasets/churn/day-3.csv']);
    const out = result.json() as {
      outcome: string;
      stages: { stage: string }[];
      dataset: { datasetId: string };
    };
    expect(Object.keys(out).sort()).toEqual(['dataset', 'outcome', 'reason', 'stages', 'upload', 'version']);
    expect(out.outcome).toBe('production');
    expect(out.dataset.datasetId).toBe('day-3-abc'); // not the older upload with another ETag
    expect(out.stages.map((s) => s.stage)).toEqual([
      'dataset ACCEPTED',
      'TRAINING',
      'TRAINED',
      'APPROVED',
      'DEPLOYING',
      'PRODUCTION',
    ]);
    expect(result.stderr).toContain('uploaded 100% 10 B of 10 B');
  });

  it('prints the reason and exits 4 when the gate rejects the version', async () => {
    const result = await run(upload('REJECTED').list, ['upload', file, '--model', 'churn', '--wait']);
    expect(result.code).toBe(4);
    expect(result.stdout).toContain('rejected: validation:auc 0.61 below the threshold 0.8');
  });

  it('gives up after --timeout with exit 1', async () => {
    const result = await run(upload('stuck').list, [
      'upload',
      file,
      '--model',
      'churn',
      '--wait',
      '--timeout',
      '1ms',
      '--json',
    ]);
    expect(result.code).toBe(1);
    expect(result.json()).toMatchObject({ outcome: 'timeout', reason: 'still TRAINING after the timeout' });
  });

  it('only uploads without --wait; 3 for a missing file; 2 without --model', async () => {
    const done = await run(upload('PRODUCTION').list, ['upload', file, '--model', 'churn']);
    expect(done.code).toBe(0);
    expect(done.stdout).toBe('uploaded s3://data/datasets/churn/day-3.csv (10 bytes)\n');
    expect(
      (await run(upload('PRODUCTION').list, ['upload', join(dir, 'none.csv'), '--model', 'churn'])).code,
    ).toBe(3);
    expect((await run(upload('PRODUCTION').list, ['upload', file])).code).toBe(2);
    expect(
      (await run(upload('PRODUCTION').list, ['upload', file, '--model', 'churn', '--timeout', '5m'])).code,
    ).toBe(2);
  });

  it('draws a bar on a terminal, plain lines every 10 % otherwise', () => {
    const tty = captureIo({ tty: true });
    progressReporter(tty)({ loaded: 5 * 1024 * 1024, total: 10 * 1024 * 1024 });
    expect(tty.stderr).toBe('\r[###############---------------] 50% 5.0 MiB of 10.0 MiB');
    const plain = captureIo();
    const report = progressReporter(plain);
    for (let mb = 1; mb <= 10; mb += 0.5) report({ loaded: mb * 1024 * 1024, total: 10 * 1024 * 1024 });
    expect(plain.stderr.trim().split('\n')).toHaveLength(10);
  });

  it('says sizes in the unit that fits', () => {
    expect([812, 19_703, 100 * 1024 * 1024, 1.5 * 1024 ** 3].map(byteSize)).toEqual([
      '812 B',
      '19.2 KiB',
      '100.0 MiB',
      '1.50 GiB',
    ]);
  });
});
