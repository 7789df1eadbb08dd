/**
 * `mlops versions <model>` and `mlops show <model> [<version>]`: a model's versions, and one
 * version's lineage and audit timeline. Where this stands: CLI command; registry reads only.
 */
import { CliError, EXIT, type CliCommand } from '../command';
import {
  formatShow,
  formatVersions,
  showOutput,
  versionRows,
  type ShowOutput,
  type VersionRow,
} from '../format/lineage';
import { paletteFor, printJson } from '../format/style';
import { modelArgument, positionals, TARGET_HELP, versionArgument } from '../options';
import type { RegistryReader, TargetResolver } from '../target/target';
import { defineOperatorCommand } from './define';

const VERSIONS_HELP = `Usage: mlops versions <model> [options]

Every version of a model, newest first: status (* marks the champion), objective metric, gate
verdict, origin (upload, retrain, rollback), dataset, last change and, for a version that did not
make it, why.

Options:
  --json        print JSON: { "model", "champion": n | null, "challenger": n | null,
                "versions": [{ "version", "status", "champion", "datasetId",
                "metric": { "name", "value" }, "gatePassed", "origin", "createdAt", "updatedAt",
                "reason" }] }
  -h, --help    show this help

${TARGET_HELP}

Exit codes: 0, 3 when the model does not exist.

Examples:
  mlops versions churn
  mlops versions churn --json | jq '.versions[] | select(.status == "PENDING_APPROVAL")'
`;

const SHOW_HELP = `Usage: mlops show <model> [<version>] [options]

One version's lineage and its audit timeline: the dataset (URI, content hash, rows, the data
quality decision), the training job, image, hyperparameters and metrics, the gate's checks, the
endpoint config, where it came from, and every transition with who made it and why. Without
<version>: the champion, else the newest version.

Options:
  --json        print JSON: { "model", "champion", "version": <the version record>,
                "lineage": { "datasetUri", "contentHash", "rows", "dataQuality", "trainingJob",
                "image", "hyperparameters", "metrics", "gateChecks": [{ "name", "passed", "detail" }],
                "endpointConfig", "endpoint", "artifact", "origin" },
                "dataset": <the dataset record> | null, "timeline": [<audit lines>] }
  -h, --help    show this help

${TARGET_HELP}

Exit codes: 0, 3 when the model or version does not exist.

Examples:
  mlops show churn
  mlops show churn 3 --json | jq .lineage.gateChecks
`;

/** `mlops versions --json`. */
export interface VersionsOutput {
  readonly model: string;
  readonly champion: number | null;
  readonly challenger: number | null;
  readonly versions: readonly VersionRow[];
}

/** The model record, or exit code 3. */
export async function requireModel(registry: RegistryReader, model: string) {
  const record = await registry.getModel(model);
  if (!record)
    throw new CliError(`no model "${model}" in the registry (mlops models lists them)`, EXIT.notFound);
  return record;
}

/** The `mlops versions` command. */
export function createVersionsCommand(resolver?: TargetResolver): CliCommand {
  return defineOperatorCommand(
    {
      name: 'versions',
      summary: 'a model’s versions, newest first (status, metric, gate, origin, why)',
      help: VERSIONS_HELP,
      validate: (line) => void modelArgument(positionals(line.positionals, ['model'])[0]!),
      async run(line, target, io) {
        const name = line.positionals[0]!;
        const model = await requireModel(target.registry, name);
        const rows = versionRows(model, await target.registry.listVersions(name));
        const output: VersionsOutput = {
          model: name,
          champion: model.champion ?? null,
          challenger: model.challenger ?? null,
          versions: rows,
        };
        if (line.json) printJson(io, output);
        else io.out(formatVersions(rows, paletteFor(io)));
        return 0;
      },
    },
    resolver,
  );
}

/** The `mlops show` command. */
export function createShowCommand(resolver?: TargetResolver): CliCommand {
  return defineOperatorCommand(
    {
      name: 'show',
      summary: 'a version’s lineage (data, training, gate, endpoint) and audit timeline',
      help: SHOW_HELP,
      validate(line) {
        const [model, version] = positionals(line.positionals, ['model', 'version'], 1);
        modelArgument(model!);
        if (version !== undefined) versionArgument(version);
      },
      async run(line, target, io) {
        const [name, given] = line.positionals as [string, string | undefined];
        const model = await requireModel(target.registry, name);
        let number = given !== undefined ? versionArgument(given) : model.champion;
        if (number === undefined) {
          number = model.versionCounter;
          if (number < 1) throw new CliError(`model "${name}" has no version yet`, EXIT.notFound);
        }
        const version = await target.registry.getVersion(name, number);
        if (!version)
          throw new CliError(
            `model "${name}" has no version ${number} (mlops versions ${name})`,
            EXIT.notFound,
          );
        const [dataset, audit] = await Promise.all([
          target.registry.getDataset(name, version.datasetId),
          target.registry.listAudit(name),
        ]);
        const output: ShowOutput = showOutput(model, version, dataset, audit);
        if (line.json) printJson(io, output);
        else io.out(formatShow(output, paletteFor(io)));
        return 0;
      },
    },
    resolver,
  );
}
