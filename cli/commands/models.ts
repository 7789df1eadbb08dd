/**
 * `mlops models`: the fleet at a glance, worst first: champion and its metric, the newest
 * version's status, open incidents, drift, last data, pending approvals. Where this stands: CLI
 * command; reads the registry and the alarm states of the target (local cloud or `--stack`).
 */
import { VERSION_STATUSES, type VersionStatus } from '../../core/domain/registry';
import { UsageError, type CliCommand } from '../command';
import { HEALTH_ORDER, fleetRow, formatFleet, sortFleet, type FleetRow, type Health } from '../format/fleet';
import { paletteFor, printJson } from '../format/style';
import { stringOption, TARGET_HELP } from '../options';
import type { AlarmState, Target, TargetResolver } from '../target/target';
import { defineOperatorCommand } from './define';

const HELP = `Usage: mlops models [options]

The fleet at a glance, worst first: health (incident, failed, pending-approval, in-progress,
no-champion, ok), the champion and its objective metric, the newest version and its status, open
incidents, drift (the worst state of the drift alarms), when data last arrived, and the versions
waiting for approval.

Options:
  --status <STATUS>    only models with a version in this status (e.g. PENDING_APPROVAL, TRAINING)
  --health <health>    only models in this health
  --with-incidents     only models with an open incident or an alarm firing
  --json               print JSON (below)
  -h, --help           show this help

${TARGET_HELP}

JSON: { "target": "<where>", "alarmsError": "<why the alarm states are missing>" | null,
        "models": [{ "model", "health", "champion": { "version", "metric": { "name", "value" } } | null,
                     "newest": { "version", "status", "updatedAt", "reason" } | null,
                     "openIncidents", "alarmsFiring": [names], "drift": "ALARM|INSUFFICIENT_DATA|OK|unknown",
                     "lastData": { "datasetId", "at", "status", "decision" } | null,
                     "pendingApprovals": [versions], "versionCounts": { "<STATUS>": n },
                     "alarmPolicy" }] }

Examples:
  mlops models
  mlops models --status PENDING_APPROVAL
  mlops models --with-incidents --stack ServerlessMlops --region eu-west-1 --json
`;

/** `mlops models --json`. */
export interface ModelsOutput {
  readonly target: string;
  readonly alarmsError: string | null;
  readonly models: readonly FleetRow[];
}

/** Reads the fleet of `target` (a few models at a time: each is three queries). */
export async function readFleet(target: Target): Promise<ModelsOutput> {
  const [models, open] = await Promise.all([
    target.registry.listModels(),
    target.registry.listOpenIncidents(),
  ]);
  const alarms = await target.alarms.listAlarms(models.map((m) => m.model)).then(
    (list) => ({ list, error: null }),
    (error: unknown) => ({
      list: undefined,
      error: error instanceof Error ? error.message : String(error),
    }),
  );
  const openOf = groupBy(open, (i) => i.model);
  const alarmsOf = alarms.list ? groupBy(alarms.list, (a) => a.model ?? '') : undefined;
  const rows = await mapLimited(models, 8, async (model) => {
    const [versions, datasets] = await Promise.all([
      target.registry.listVersions(model.model),
      target.registry.listDatasets(model.model),
    ]);
    return fleetRow({
      model,
      versions,
      datasets,
      openIncidents: openOf.get(model.model) ?? [],
      ...(alarmsOf ? { alarms: alarmsOf.get(model.model) ?? ([] as AlarmState[]) } : {}),
    });
  });
  return { target: target.description, alarmsError: alarms.error, models: sortFleet(rows) };
}

/** Runs `work` over `items`, at most `limit` at once, keeping the order. */
export async function mapLimited<T, R>(
  items: readonly T[],
  limit: number,
  work: (item: T) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await work(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

function groupBy<T>(items: readonly T[], key: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const k = key(item);
    groups.set(k, [...(groups.get(k) ?? []), item]);
  }
  return groups;
}

/** The `mlops models` command on `resolver`'s targets. */
export function createModelsCommand(resolver?: TargetResolver): CliCommand {
  return defineOperatorCommand(
    {
      name: 'models',
      summary:
        'the fleet at a glance, worst first (champion, metric, status, incidents, drift, data, approvals)',
      help: HELP,
      options: {
        status: { type: 'string' },
        health: { type: 'string' },
        'with-incidents': { type: 'boolean', default: false },
      },
      validate(line) {
        if (line.positionals.length > 0) throw new UsageError(`unexpected argument "${line.positionals[0]}"`);
        const status = stringOption(line.values, 'status');
        if (status !== undefined && !(VERSION_STATUSES as readonly string[]).includes(status))
          throw new UsageError(`--status must be one of ${VERSION_STATUSES.join(', ')}`);
        const health = stringOption(line.values, 'health');
        if (health !== undefined && !(HEALTH_ORDER as readonly string[]).includes(health))
          throw new UsageError(`--health must be one of ${HEALTH_ORDER.join(', ')}`);
      },
      async run(line, target, io) {
        const fleet = await readFleet(target);
        const status = stringOption(line.values, 'status') as VersionStatus | undefined;
        const health = stringOption(line.values, 'health') as Health | undefined;
        const withIncidents = line.values['with-incidents'] === true;
        const models = fleet.models.filter(
          (m) =>
            (health === undefined || m.health === health) &&
            (status === undefined || (m.versionCounts[status] ?? 0) > 0) &&
            (!withIncidents || m.openIncidents > 0 || m.alarmsFiring.length > 0),
        );
        const output: ModelsOutput = { ...fleet, models };
        if (line.json) printJson(io, output);
        else {
          io.out(formatFleet(models, paletteFor(io)));
          if (fleet.alarmsError)
            io.err(`alarm states unavailable (drift and firing alarms not shown): ${fleet.alarmsError}`);
        }
        return 0;
      },
    },
    resolver,
  );
}
