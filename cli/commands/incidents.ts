/**
 * `mlops incidents [--open] [--model <m>]` and `mlops incident <id>`: what fired, against which
 * version, with its evidence, time to detect and to recover, and what the alarm policy did. Where
 * this stands: CLI command; registry reads only.
 */
import { parseIncidentId, type IncidentRecord } from '../../core/domain/registry';
import { CliError, EXIT, UsageError, type CliCommand } from '../command';
import {
  formatIncident,
  formatIncidents,
  incidentRow,
  sortIncidents,
  type IncidentRow,
} from '../format/incidents';
import { paletteFor, printJson } from '../format/style';
import { modelArgument, positionals, stringOption, TARGET_HELP } from '../options';
import type { RegistryReader, Target, TargetResolver } from '../target/target';
import { defineOperatorCommand } from './define';
import { mapLimited } from './models';
import { requireModel } from './versions';

const INCIDENTS_HELP = `Usage: mlops incidents [--open] [--model <name>] [options]

Incidents, newest first: status, model, the version in production when it opened, the alarm, when
it opened, how long recovery took, and what the alarm policy did (or the policy, when it did
nothing yet).

Options:
  --open           only open incidents
  --model <name>   only this model's
  --json           print JSON: { "incidents": [{ "incidentId", "model", "alarmName", "status",
                   "openedAt", "resolvedAt", "version", "policy", "action": { "kind", "status",
                   "detail" } | null, "timeToDetectSeconds", "timeToRecoverSeconds", "reason" }] }
  -h, --help       show this help

${TARGET_HELP}

Examples:
  mlops incidents --open
  mlops incidents --model churn --json
`;

const INCIDENT_HELP = `Usage: mlops incident <id> [--model <name>] [options]

One incident (its id is <alarm name>@<opened at>, as mlops incidents prints it): what fired and
why, against which version, the datapoints the alarm evaluated and its threshold, for drift alarms
the drifted features and their distances, time to detect and to recover, and the automatic action
of the alarm policy with its outcome.

Options:
  --model <name>   the model (found from the alarm name when not given)
  --json           print JSON: { "incident": <the incident record: model, alarmName, incidentId,
                   status, openedAt, resolvedAt?, reason, version?, policy?, evidence?: {
                   threshold?, comparison?, datapoints?: [{ at, value }], driftedFeatures?:
                   [{ feature, distance, psi? }], reportUri? }, timeToDetectSeconds?,
                   timeToRecoverSeconds?, action?: { kind, status, at, detail, version? } > }
  -h, --help       show this help

${TARGET_HELP}

Exit codes: 0, 3 when there is no such incident.

Example:
  mlops incident mlops-churn-error-rate@2025-06-03T12:10:00.000Z
`;

/** `mlops incidents --json`. */
export interface IncidentsOutput {
  readonly incidents: readonly IncidentRow[];
}

/** `mlops incident --json`. */
export interface IncidentOutput {
  readonly incident: IncidentRecord;
}

async function listIncidents(
  registry: RegistryReader,
  open: boolean,
  model?: string,
): Promise<IncidentRecord[]> {
  if (model !== undefined) {
    await requireModel(registry, model);
    const all = await registry.listIncidents(model);
    return open ? all.filter((i) => i.status === 'OPEN') : all;
  }
  if (open) return registry.listOpenIncidents();
  const models = await registry.listModels();
  return (await mapLimited(models, 8, (m) => registry.listIncidents(m.model))).flat();
}

/** The `mlops incidents` command. */
export function createIncidentsCommand(resolver?: TargetResolver): CliCommand {
  return defineOperatorCommand(
    {
      name: 'incidents',
      summary: 'incidents, newest first (--open, --model)',
      help: INCIDENTS_HELP,
      options: { open: { type: 'boolean', default: false }, model: { type: 'string' } },
      validate(line) {
        if (line.positionals.length > 0) throw new UsageError(`unexpected argument "${line.positionals[0]}"`);
        const model = stringOption(line.values, 'model');
        if (model !== undefined) modelArgument(model);
      },
      async run(line, target, io) {
        const found = await listIncidents(
          target.registry,
          line.values.open === true,
          stringOption(line.values, 'model'),
        );
        const rows = sortIncidents(found.map(incidentRow));
        if (line.json) printJson(io, { incidents: rows } satisfies IncidentsOutput);
        else io.out(formatIncidents(rows, paletteFor(io)));
        return 0;
      },
    },
    resolver,
  );
}

/**
 * The model an incident id belongs to: `--model`, else the one whose alarm name it carries
 * (`<prefix>-<model>-<alarm kind>`; with the prefix unknown, the longest model name that fits).
 */
export async function modelOfIncident(target: Target, alarmName: string): Promise<string | undefined> {
  const kinds = /-(latency-anomaly|invocations-anomaly|error-rate|feature-drift|prediction-drift)$/;
  const kind = kinds.exec(alarmName);
  if (!kind) return undefined;
  const head = alarmName.slice(0, kind.index);
  if (target.resourcePrefix !== undefined) {
    const start = `${target.resourcePrefix}-`;
    return head.startsWith(start) ? head.slice(start.length) : undefined;
  }
  const names = (await target.registry.listModels())
    .map((m) => m.model)
    .filter((m) => head.endsWith(`-${m}`));
  return names.sort((a, b) => b.length - a.length)[0];
}

/** The `mlops incident` command. */
export function createIncidentCommand(resolver?: TargetResolver): CliCommand {
  return defineOperatorCommand(
    {
      name: 'incident',
      summary: 'one incident and its evidence: datapoints, drifted features, recovery, action',
      help: INCIDENT_HELP,
      options: { model: { type: 'string' } },
      validate(line) {
        const [id] = positionals(line.positionals, ['id']);
        if (!parseIncidentId(id!))
          throw new UsageError(`"${id}" is not an incident id (<alarm name>@<opened at>)`);
        const model = stringOption(line.values, 'model');
        if (model !== undefined) modelArgument(model);
      },
      async run(line, target, io) {
        const id = line.positionals[0]!;
        const { alarmName } = parseIncidentId(id)!;
        const model = stringOption(line.values, 'model') ?? (await modelOfIncident(target, alarmName));
        const incident = model === undefined ? undefined : await target.registry.getIncident(model, id);
        if (!incident)
          throw new CliError(
            `no incident ${id}${model ? ` of model "${model}"` : ''} (mlops incidents lists them)`,
            EXIT.notFound,
          );
        if (line.json) printJson(io, { incident } satisfies IncidentOutput);
        else io.out(formatIncident(incident, paletteFor(io)));
        return 0;
      },
    },
    resolver,
  );
}
