/**
 * `mlops upload <file> --model <m> [--wait]`: puts a dataset under `datasets/<m>/<file name>`
 * (multipart, with progress), then optionally follows it to production or to where it stopped.
 * Where this stands: CLI command; the upload is lib-storage's, the follow reads the registry.
 */
import { stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { CliError, EXIT, UsageError, type CliCommand, type CliIo } from '../command';
import { paletteFor, printJson } from '../format/style';
import { durationArgument, modelArgument, positionals, stringOption, TARGET_HELP } from '../options';
import type { TargetResolver, UploadProgress, UploadedObject } from '../target/target';
import { defineOperatorCommand } from './define';
import { followUpload, type FollowResult, type UploadOutcome } from './follow-upload';

const HELP = `Usage: mlops upload <file> --model <name> [--wait] [options]

Uploads a dataset file to the data bucket as datasets/<model>/<file name> (a multipart upload for
large files, with a progress bar on a terminal), which starts the pipeline. With --wait, follows it
stage by stage: the dataset recorded (accepted, or rejected and why), TRAINING, TRAINED, the gate,
PENDING_APPROVAL or APPROVED, DEPLOYING, PRODUCTION, or where it stopped and why.

Options:
  --model <name>        the model (required)
  --wait                follow the dataset and its version until they end
  --timeout <duration>  how long --wait waits (default 60m; e.g. 90s, 30m, 2h)
  --poll <duration>     how often --wait reads the registry (default 3s)
  --json                print JSON: { "upload": { "bucket", "key", "bytes", "etag"?, "versionId"? },
                        "outcome": "uploaded|production|pending-approval|rejected|failed|timeout",
                        "reason", "dataset": <record> | null, "version": <record> | null,
                        "stages": [{ "at", "stage", "detail" }] }
  -h, --help            show this help

${TARGET_HELP}

Exit codes: 0 uploaded (without --wait), in PRODUCTION, or waiting in PENDING_APPROVAL (run mlops
approve); 4 rejected (the data or the gate); 1 failed (training, rollout) or the timeout passed;
3 the file does not exist.

Examples:
  mlops upload leads.csv --model leads --wait
  mlops upload big.parquet --model churn --stack ServerlessMlops --wait --timeout 2h --json
`;

/** `mlops upload --json`. */
export interface UploadOutput extends Omit<FollowResult, 'outcome' | 'reason'> {
  readonly upload: UploadedObject;
  readonly outcome: UploadOutcome | 'uploaded';
  readonly reason: string;
}

const EXIT_OF: Readonly<Record<UploadOutput['outcome'], number>> = {
  uploaded: EXIT.ok,
  production: EXIT.ok,
  'pending-approval': EXIT.ok,
  rejected: EXIT.refused,
  failed: EXIT.failure,
  timeout: EXIT.failure,
};

/** A byte count for people: `812 B`, `19.2 KiB`, `100.0 MiB`, `1.50 GiB`. */
export function byteSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 ** 2) return `${(bytes / 1024).toFixed(1)} KiB`;
  if (bytes < 1024 ** 3) return `${(bytes / 1024 ** 2).toFixed(1)} MiB`;
  return `${(bytes / 1024 ** 3).toFixed(2)} GiB`;
}

/** A progress reporter: a bar redrawn in place on a terminal, a line every 10 % otherwise. */
export function progressReporter(io: CliIo): (p: UploadProgress) => void {
  let lastStep = -1;
  return ({ loaded, total }) => {
    const fraction = total ? Math.min(1, loaded / total) : 0;
    const figures = `${Math.floor(fraction * 100)}% ${byteSize(loaded)} of ${total === undefined ? '?' : byteSize(total)}`;
    if (io.tty && io.progress) {
      const width = 30;
      const filled = Math.round(fraction * width);
      io.progress(
        `\r[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${figures}${fraction >= 1 ? '\n' : ''}`,
      );
      return;
    }
    const step = Math.floor(fraction * 10);
    if (step > lastStep) {
      lastStep = step;
      io.err(`uploaded ${figures}`);
    }
  };
}

/** The `mlops upload` command; `sleep` is injectable so tests follow without waiting. */
export function createUploadCommand(
  resolver?: TargetResolver,
  sleep?: (ms: number) => Promise<void>,
): CliCommand {
  return defineOperatorCommand(
    {
      name: 'upload',
      summary: 'upload a dataset (multipart, progress) and follow it to production (--wait)',
      help: HELP,
      options: {
        model: { type: 'string' },
        wait: { type: 'boolean', default: false },
        timeout: { type: 'string' },
        poll: { type: 'string' },
      },
      validate(line) {
        positionals(line.positionals, ['file']);
        const model = stringOption(line.values, 'model');
        if (model === undefined) throw new UsageError('--model is required: the model this dataset trains');
        modelArgument(model);
        const timeout = stringOption(line.values, 'timeout');
        const poll = stringOption(line.values, 'poll');
        if (timeout !== undefined) durationArgument(timeout, '--timeout');
        if (poll !== undefined) durationArgument(poll, '--poll');
        if ((timeout !== undefined || poll !== undefined) && line.values.wait !== true)
          throw new UsageError('--timeout and --poll go with --wait');
      },
      async run(line, target, io) {
        const file = line.positionals[0]!;
        const model = stringOption(line.values, 'model')!;
        const info = await stat(file).catch(() => undefined);
        if (!info?.isFile()) throw new CliError(`no file ${file}`, EXIT.notFound);
        const key = `datasets/${model}/${basename(file)}`;
        const uploadedAt = new Date(Date.now() - 60_000).toISOString(); // a minute of clock skew allowed
        const uploaded = await target.uploader.upload(file, key, progressReporter(io));
        const colour = paletteFor(io);
        if (!line.json) io.out(`uploaded s3://${uploaded.bucket}/${uploaded.key} (${uploaded.bytes} bytes)`);
        let output: UploadOutput = {
          upload: uploaded,
          outcome: 'uploaded',
          reason: 'the upload starts the pipeline',
          dataset: null,
          version: null,
          stages: [],
        };
        if (line.values.wait === true) {
          const timeout = stringOption(line.values, 'timeout');
          const poll = stringOption(line.values, 'poll');
          const followed = await followUpload(target.registry, model, uploaded, {
            timeoutMs: timeout ? durationArgument(timeout, '--timeout') : 60 * 60_000,
            pollMs: poll ? durationArgument(poll, '--poll') : 3000,
            uploadedAt,
            onStage: (s) => {
              if (!line.json) io.out(`${s.at}  ${s.stage.padEnd(16)}  ${s.detail}`);
            },
            ...(sleep ? { sleep } : {}),
          });
          output = { ...output, ...followed };
        }
        if (line.json) printJson(io, output);
        else if (output.outcome !== 'uploaded') {
          const ok = EXIT_OF[output.outcome] === EXIT.ok;
          io.out((ok ? colour.green : colour.red)(`${output.outcome}: ${output.reason}`));
        }
        return EXIT_OF[output.outcome];
      },
    },
    resolver,
  );
}
