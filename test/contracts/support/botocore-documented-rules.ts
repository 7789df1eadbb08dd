/**
 * Rules AWS documents for a request that its service model does not encode (the model knows
 * `CapacitySize.Value >= 1`, not "at most half the fleet"). Where this stands: test infrastructure
 * for the request-validity contract, next to the model validator (botocore-validate.ts). Each rule
 * cites the page it comes from; every function returns the problems found (empty when valid).
 */

/** How the endpoint being updated is hosted: its variant's instance count, or serverless. */
export type VariantCapacity = { readonly instances: number } | 'serverless';

interface CapacitySize {
  readonly Type?: string;
  readonly Value?: number;
}

/**
 * UpdateEndpoint's DeploymentConfig against the variant it rolls out to.
 *
 * - TrafficRoutingConfig (SageMaker API Reference): "CanarySize ... Value must be less than or
 *   equal to 50% of the variant's total instance count"; "LinearStepSize ... Value must be 10-50%
 *   of the variant's total instance count". Developer Guide, "Use canary traffic shifting": "the
 *   canary size should be less than or equal to 50% of the new fleet's capacity"; "Use linear
 *   traffic shifting": "Each linear step should only be between 10-50% of the green fleet's
 *   capacity". A canary or a step is at least one instance, so a one-instance variant can do
 *   neither; a CAPACITY_PERCENT size is therefore also refused below two instances.
 * - The size matching the type: CANARY needs CanarySize, LINEAR needs LinearStepSize, and neither
 *   goes with another type (TrafficRoutingConfig: the sizes are "for the first step" of a canary
 *   and "for each step" of a linear shift).
 * - BlueGreenUpdatePolicy: "the timeout value should be larger than the total waiting time
 *   specified in TerminationWaitInSeconds and WaitIntervalInSeconds".
 * - Serverless variants have no instance count for a size to be a share of: only ALL_AT_ONCE is
 *   accepted for them here (the stack's reading; "Exclusions" in the deployment guardrails guide
 *   excludes serverless endpoints from rolling deployments outright).
 */
export function deploymentConfigProblems(
  input: Record<string, unknown>,
  capacity: VariantCapacity,
): string[] {
  const problems: string[] = [];
  const config = input.DeploymentConfig as
    | {
        BlueGreenUpdatePolicy?: {
          TrafficRoutingConfiguration?: {
            Type?: string;
            WaitIntervalInSeconds?: number;
            CanarySize?: CapacitySize;
            LinearStepSize?: CapacitySize;
          };
          TerminationWaitInSeconds?: number;
          MaximumExecutionTimeoutInSeconds?: number;
        };
      }
    | undefined;
  const policy = config?.BlueGreenUpdatePolicy;
  const routing = policy?.TrafficRoutingConfiguration;
  if (!policy || !routing) return problems;
  const type = routing.Type;
  const where = 'DeploymentConfig.BlueGreenUpdatePolicy.TrafficRoutingConfiguration';
  if (type !== 'CANARY' && routing.CanarySize !== undefined)
    problems.push(`${where}.CanarySize: only for Type CANARY (got ${String(type)})`);
  if (type !== 'LINEAR' && routing.LinearStepSize !== undefined)
    problems.push(`${where}.LinearStepSize: only for Type LINEAR (got ${String(type)})`);

  let steps = 1;
  if (type === 'CANARY' || type === 'LINEAR') {
    const member = type === 'CANARY' ? 'CanarySize' : 'LinearStepSize';
    const size = type === 'CANARY' ? routing.CanarySize : routing.LinearStepSize;
    const [minShare, maxShare] = type === 'CANARY' ? [0, 0.5] : [0.1, 0.5];
    if (size === undefined) {
      problems.push(`${where}.${member}: required for Type ${type}`);
    } else if (capacity === 'serverless') {
      problems.push(`${where}.Type: ${type} needs a variant with instances; a serverless variant has none`);
    } else {
      const n = capacity.instances;
      const value = size.Value ?? 0;
      // The share of the fleet a step turns on: exact for INSTANCE_COUNT; for CAPACITY_PERCENT
      // at least one whole instance.
      const instances = size.Type === 'INSTANCE_COUNT' ? value : Math.max(1, Math.ceil((n * value) / 100));
      const share = size.Type === 'INSTANCE_COUNT' ? value / n : Math.max(value / 100, 1 / n);
      if (share > maxShare + 1e-9 || share < minShare - 1e-9) {
        problems.push(
          `${where}.${member}: ${value} ${size.Type === 'INSTANCE_COUNT' ? 'instance(s)' : '%'} of a ${n}-instance variant is ${Math.round(share * 100)}% of its instances; ` +
            `${type === 'CANARY' ? 'a canary must be <= 50%' : 'a linear step must be 10-50%'} of the variant's total instance count`,
        );
      }
      steps = type === 'CANARY' ? 2 : Math.ceil(n / Math.max(1, instances));
    }
  }
  // Each step bakes for WaitIntervalInSeconds; the old fleet then waits TerminationWaitInSeconds.
  const waits = steps * (routing.WaitIntervalInSeconds ?? 0) + (policy.TerminationWaitInSeconds ?? 0);
  if (
    policy.MaximumExecutionTimeoutInSeconds !== undefined &&
    policy.MaximumExecutionTimeoutInSeconds <= waits
  ) {
    problems.push(
      `DeploymentConfig.BlueGreenUpdatePolicy.MaximumExecutionTimeoutInSeconds: ${policy.MaximumExecutionTimeoutInSeconds} s is not larger than the rollout's waits (${waits} s)`,
    );
  }
  return problems;
}

/**
 * CreateTrainingJob's managed spot settings. StoppingCondition (SageMaker API Reference):
 * MaxWaitTimeInSeconds is "the maximum length of time ... that a managed Spot training job has to
 * complete ... It must be equal to or greater than MaxRuntimeInSeconds"; the Developer Guide,
 * "Managed Spot Training", has spot jobs set it (and only spot jobs: it is the time waiting for
 * Spot capacity plus the run).
 */
export function spotTrainingProblems(input: Record<string, unknown>): string[] {
  const problems: string[] = [];
  const stopping = (input.StoppingCondition ?? {}) as {
    MaxRuntimeInSeconds?: number;
    MaxWaitTimeInSeconds?: number;
  };
  const spot = input.EnableManagedSpotTraining === true;
  if (spot && stopping.MaxWaitTimeInSeconds === undefined)
    problems.push('StoppingCondition.MaxWaitTimeInSeconds: required with EnableManagedSpotTraining');
  if (!spot && stopping.MaxWaitTimeInSeconds !== undefined)
    problems.push(
      'StoppingCondition.MaxWaitTimeInSeconds: only for managed spot training (EnableManagedSpotTraining true)',
    );
  if (
    stopping.MaxWaitTimeInSeconds !== undefined &&
    stopping.MaxRuntimeInSeconds !== undefined &&
    stopping.MaxWaitTimeInSeconds < stopping.MaxRuntimeInSeconds
  ) {
    problems.push(
      `StoppingCondition.MaxWaitTimeInSeconds: ${stopping.MaxWaitTimeInSeconds} must be >= MaxRuntimeInSeconds (${stopping.MaxRuntimeInSeconds})`,
    );
  }
  return problems;
}

const BAND_OPERATORS = new Set([
  'LessThanLowerOrGreaterThanUpperThreshold',
  'LessThanLowerThreshold',
  'GreaterThanUpperThreshold',
]);

interface MetricDataQuery {
  readonly Id?: string;
  readonly Expression?: string;
  readonly MetricStat?: { readonly Period?: number };
  readonly ReturnData?: boolean;
}

/**
 * PutMetricAlarm's cross-member rules (CloudWatch API Reference, PutMetricAlarm and
 * MetricDataQuery):
 * - "For each PutMetricAlarm operation, you must specify either MetricName or a Metrics array";
 *   with Metrics, "you cannot include the MetricName, Dimensions, Period, Namespace, Statistic, or
 *   ExtendedStatistic parameters".
 * - With MetricName: "you must specify either Statistic or ExtendedStatistic, but not both";
 *   Period "is required for alarms based on static thresholds"; "Valid values are 10, 30, and any
 *   multiple of 60".
 * - "Period multiplied by EvaluationPeriods cannot be more than 86,400 seconds" (also for the
 *   periods of the Metrics' MetricStats).
 * - MetricDataQuery.Id: "The valid characters are letters, numbers, and underscore. The first
 *   character must be a lowercase letter"; ids are unique. Each query is "either a metric to
 *   retrieve, or a math expression"; at most 20 queries, 10 MetricStats and 10 Expressions.
 * - ReturnData (omitted means true): "specify true for the one expression result to use as the
 *   alarm. For all other metrics and expressions ... specify ReturnData as False".
 * - Anomaly detection: ThresholdMetricId must "match the ID of the ANOMALY_DETECTION_BAND
 *   function"; Threshold "should not be used for alarms based on anomaly detection models";
 *   "LessThanLowerOrGreaterThanUpperThreshold, LessThanLowerThreshold, and
 *   GreaterThanUpperThreshold are used only for alarms based on anomaly detection models". The
 *   band and the metric it is computed on are the two queries that return data (the documented
 *   "Anomaly Detection Model Alarm" example; CloudFormation's AWS::CloudWatch::Alarm anomaly
 *   detector example).
 * - DatapointsToAlarm is the M of "M out of N" EvaluationPeriods: M <= N.
 */
export function metricAlarmProblems(input: Record<string, unknown>): string[] {
  const problems: string[] = [];
  const metrics = input.Metrics as readonly MetricDataQuery[] | undefined;
  const singleMetricMembers = [
    'MetricName',
    'Dimensions',
    'Period',
    'Namespace',
    'Statistic',
    'ExtendedStatistic',
  ];
  const evaluationPeriods = (input.EvaluationPeriods as number | undefined) ?? 0;
  const datapoints = input.DatapointsToAlarm as number | undefined;
  if (datapoints !== undefined && datapoints > evaluationPeriods)
    problems.push(`DatapointsToAlarm: ${datapoints} is more than EvaluationPeriods (${evaluationPeriods})`);
  const operator = input.ComparisonOperator as string | undefined;
  const thresholdMetricId = input.ThresholdMetricId as string | undefined;
  const checkPeriod = (where: string, period: number | undefined) => {
    if (period === undefined) return;
    if (!(period === 10 || period === 30 || (period > 0 && period % 60 === 0)))
      problems.push(`${where}: ${period} is not 10, 30 or a multiple of 60`);
    if (period * evaluationPeriods > 86_400)
      problems.push(
        `${where}: ${period} s x EvaluationPeriods ${evaluationPeriods} is more than one day (86,400 s)`,
      );
  };

  if (metrics === undefined) {
    if (input.MetricName === undefined) problems.push('MetricName: either MetricName or Metrics is required');
    if ((input.Statistic === undefined) === (input.ExtendedStatistic === undefined))
      problems.push('Statistic: exactly one of Statistic and ExtendedStatistic is required with MetricName');
    if (input.Period === undefined) problems.push('Period: required for an alarm on one metric');
    checkPeriod('Period', input.Period as number | undefined);
    if (thresholdMetricId !== undefined) problems.push('ThresholdMetricId: only with a Metrics array');
    if (input.Threshold === undefined) problems.push('Threshold: required for a static threshold alarm');
    if (operator !== undefined && BAND_OPERATORS.has(operator))
      problems.push(`ComparisonOperator: ${operator} is only for anomaly detection alarms`);
    return problems;
  }

  for (const member of singleMetricMembers) {
    if (input[member] !== undefined) problems.push(`${member}: not allowed together with Metrics`);
  }
  if (metrics.length > 20) problems.push(`Metrics: ${metrics.length} queries; at most 20`);
  const stats = metrics.filter((q) => q.MetricStat !== undefined).length;
  const expressions = metrics.filter((q) => q.Expression !== undefined).length;
  if (stats > 10) problems.push(`Metrics: ${stats} MetricStat queries; at most 10`);
  if (expressions > 10) problems.push(`Metrics: ${expressions} Expression queries; at most 10`);
  const ids = new Set<string>();
  metrics.forEach((query, i) => {
    const where = `Metrics[${i}]`;
    if (query.Id === undefined || !/^[a-z][a-zA-Z0-9_]*$/.test(query.Id))
      problems.push(
        `${where}.Id: ${JSON.stringify(query.Id)} must be letters, digits and underscores, starting with a lowercase letter`,
      );
    else if (ids.has(query.Id)) problems.push(`${where}.Id: ${query.Id} is not unique`);
    else ids.add(query.Id);
    if ((query.MetricStat === undefined) === (query.Expression === undefined))
      problems.push(`${where}: exactly one of MetricStat and Expression`);
    checkPeriod(`${where}.MetricStat.Period`, query.MetricStat?.Period);
  });
  const returning = metrics.filter((q) => q.ReturnData !== false).map((q) => q.Id);

  if (thresholdMetricId === undefined) {
    if (returning.length !== 1)
      problems.push(
        `Metrics: exactly one query must return data (ReturnData true or omitted), got ${returning.length} (${returning.join(', ')})`,
      );
    if (input.Threshold === undefined) problems.push('Threshold: required without ThresholdMetricId');
    if (operator !== undefined && BAND_OPERATORS.has(operator))
      problems.push(
        `ComparisonOperator: ${operator} is only for anomaly detection alarms (ThresholdMetricId)`,
      );
    return problems;
  }

  const band = metrics.find((q) => q.Id === thresholdMetricId);
  const bandCall =
    band?.Expression !== undefined
      ? /^\s*ANOMALY_DETECTION_BAND\s*\(\s*([a-z][a-zA-Z0-9_]*)/.exec(band.Expression)
      : null;
  if (!band) problems.push(`ThresholdMetricId: no query has the id ${thresholdMetricId}`);
  else if (!bandCall)
    problems.push(`ThresholdMetricId: ${thresholdMetricId} is not an ANOMALY_DETECTION_BAND expression`);
  else {
    const expected = [thresholdMetricId, bandCall[1]!].sort();
    if (!ids.has(bandCall[1]!))
      problems.push(`Metrics: the band's metric ${bandCall[1]} is not among the queries`);
    if (JSON.stringify([...returning].sort()) !== JSON.stringify(expected))
      problems.push(
        `Metrics: an anomaly detection alarm returns data for the band and its metric (${expected.join(', ')}), got ${returning.join(', ')}`,
      );
  }
  if (input.Threshold !== undefined)
    problems.push('Threshold: not for an anomaly detection alarm (ThresholdMetricId)');
  if (operator === undefined || !BAND_OPERATORS.has(operator))
    problems.push(`ComparisonOperator: ${String(operator)} cannot compare with an anomaly detection band`);
  return problems;
}

/** 1 MiB: the largest SQS message, and the largest asynchronous Lambda invocation payload. */
export const MAX_EVENT_PAYLOAD_BYTES = 1_048_576;

/**
 * SendMessage's body (SQS API Reference, SendMessage, MessageBody): "The minimum size is one
 * character"; "A message can include only XML, JSON, and unformatted text. The following Unicode
 * characters are allowed: #x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to
 * #x10FFFF. Any characters not included in this list will be rejected". The size limit is 1 MiB
 * since August 2025, message attributes included (AWS Compute Blog, "More room to build:
 * serverless services now support payloads up to 1 MB",
 * https://aws.amazon.com/blogs/compute/more-room-to-build-serverless-services-now-support-payloads-up-to-1-mb).
 */
export function sqsMessageProblems(input: Record<string, unknown>): string[] {
  const problems: string[] = [];
  const body = input.MessageBody;
  if (typeof body !== 'string') return problems; // the model validator reports it
  if (body.length === 0) problems.push('MessageBody: must be at least one character');
  const disallowed = /[^\t\n\r\x20-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u.exec(body);
  if (disallowed)
    problems.push(
      `MessageBody: U+${disallowed[0].codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')} at ${disallowed.index} is not an allowed character`,
    );
  const size = Buffer.byteLength(body) + attributesSize(input.MessageAttributes);
  if (size > MAX_EVENT_PAYLOAD_BYTES)
    problems.push(
      `MessageBody: ${size} bytes (attributes included) is above SQS's ${MAX_EVENT_PAYLOAD_BYTES}`,
    );
  return problems;
}

/** The size SQS counts for message attributes: names, types and values. */
function attributesSize(attributes: unknown): number {
  if (attributes === null || typeof attributes !== 'object') return 0;
  let size = 0;
  for (const [name, value] of Object.entries(attributes as Record<string, Record<string, unknown>>)) {
    const dataType = value.DataType ?? '';
    size +=
      Buffer.byteLength(name) +
      Buffer.byteLength(typeof dataType === 'string' ? dataType : JSON.stringify(dataType));
    const data = value.StringValue ?? value.BinaryValue;
    size +=
      typeof data === 'string'
        ? Buffer.byteLength(data)
        : ((data as Uint8Array | undefined)?.byteLength ?? 0);
  }
  return size;
}

/**
 * An asynchronous Invoke (InvocationType Event). Payload is "The JSON that you want to provide to
 * your Lambda function as input" (Lambda API Reference, Invoke); an asynchronous invocation's
 * payload is at most 1 MB since October 2025 (AWS Compute Blog, above; Lambda Developer Guide,
 * "Lambda quotas": invocation payload, asynchronous).
 */
export function asyncInvokeProblems(input: Record<string, unknown>): string[] {
  if (input.InvocationType !== 'Event') return [];
  const problems: string[] = [];
  const payload = input.Payload;
  let text: string | undefined;
  try {
    text =
      typeof payload === 'string'
        ? payload
        : payload instanceof Uint8Array
          ? new TextDecoder('utf-8', { fatal: true }).decode(payload)
          : undefined;
  } catch {
    return ['Payload: not UTF-8 text, so not JSON'];
  }
  if (text === undefined) return problems; // no payload: the function gets `{}`
  try {
    JSON.parse(text);
  } catch (error) {
    problems.push(`Payload: not JSON (${(error as Error).message})`);
  }
  const size = Buffer.byteLength(text);
  if (size > MAX_EVENT_PAYLOAD_BYTES)
    problems.push(
      `Payload: ${size} bytes is above the asynchronous invocation limit of ${MAX_EVENT_PAYLOAD_BYTES}`,
    );
  return problems;
}
