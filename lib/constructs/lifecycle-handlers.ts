/**
 * The model lifecycle handlers after ingest: training job finished -> gate and deploy; endpoint
 * changed -> promote or record the failure, ensure alarms, deploy the next approved version;
 * alarm changed -> incident with its evidence, notify, and the model's alarm policy (roll back,
 * retrain) acts.
 * Where this stands: infrastructure (lib/constructs), one EventHandler each, with the least
 * privilege each handler needs, every ARN scoped to the stack's resource prefix.
 *
 * Resource types per action follow the Service Authorization Reference ("Actions, resources, and
 * condition keys for Amazon SageMaker"): CreateEndpoint and UpdateEndpoint authorise on both the
 * endpoint and the endpoint config (the same pair aws-stepfunctions-tasks grants for them);
 * AddTags (needed when a Create* call carries Tags) on the tagged resource.
 */
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { HANDLER_ENTRIES } from '../paths';
import { acknowledgeWildcardResource } from '../private/nag';
import { BUCKET_PREFIXES } from '../../core/domain/naming';
import {
  alarmArn,
  grantDeployment,
  grantPublishNotifications,
  grantReadObjects,
  grantRegistryReadWrite,
  grantRetrain,
  sageMakerArn,
} from '../private/permissions';
import type { DataBucket } from './data-bucket';
import { EventHandler } from './event-handler';
import type { PowertoolsLogLevel } from './mlops-function';

/** What every lifecycle handler receives. */
export interface LifecycleHandlerProps {
  readonly table: dynamodb.ITable;
  readonly topic: sns.ITopic;
  /** The stack's resource prefix: rules match, and IAM allows, only `<prefix>-*` names. */
  readonly resourcePrefix: string;
  /** Handler environment. */
  readonly environment: Readonly<Record<string, string>>;
  /**
   * Retention of the log group.
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * Powertools log level.
   * @default 'INFO'
   */
  readonly logLevel?: PowertoolsLogLevel;
}

/** What the handlers that deploy (training-events, endpoint-events) receive. */
export interface DeployingHandlerProps extends LifecycleHandlerProps {
  /** The role passed to CreateModel. */
  readonly sageMakerRole: iam.IRole;
}

/** What the alarm-events handler receives: it deploys and retrains (the alarm policies). */
export interface AlarmEventsHandlerProps extends DeployingHandlerProps {
  /** The data bucket: the drift monitor's reports (an incident's evidence), the model configs. */
  readonly data: DataBucket;
}

/** The event pattern of a SageMaker training job of ours changing state. */
export function trainingJobStateChangePattern(prefix: string): events.EventPattern {
  return {
    source: ['aws.sagemaker'],
    detailType: ['SageMaker Training Job State Change'],
    detail: { TrainingJobName: [{ prefix: `${prefix}-` }] },
  };
}

/** The event pattern of a SageMaker endpoint of ours changing state. */
export function endpointStateChangePattern(prefix: string): events.EventPattern {
  return {
    source: ['aws.sagemaker'],
    detailType: ['SageMaker Endpoint State Change'],
    detail: { EndpointName: [{ prefix: `${prefix}-` }] },
  };
}

/** The event pattern of a CloudWatch alarm of ours changing state. */
export function alarmStateChangePattern(prefix: string): events.EventPattern {
  return {
    source: ['aws.cloudwatch'],
    detailType: ['CloudWatch Alarm State Change'],
    detail: { alarmName: [{ prefix: `${prefix}-` }] },
  };
}

function common(props: LifecycleHandlerProps) {
  return {
    environment: props.environment,
    ...(props.logRetention ? { logRetention: props.logRetention } : {}),
    ...(props.logLevel ? { logLevel: props.logLevel } : {}),
  };
}

/** Training job finished: read metrics, gate 2, deploy (core/use-cases/process-training-job.ts). */
export class TrainingEventsHandler extends EventHandler {
  constructor(scope: Construct, id: string, props: DeployingHandlerProps) {
    super(scope, id, {
      entry: HANDLER_ENTRIES.trainingEvents,
      serviceName: 'training-events',
      description: 'SageMaker training job state changes: record, gate and deploy the version',
      eventPattern: trainingJobStateChangePattern(props.resourcePrefix),
      ...common(props),
    });
    const role = this.handler.role;
    const trainingJobs = sageMakerArn(this, 'training-job', props.resourcePrefix);

    grantRegistryReadWrite(role, props.table);
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'ReadTrainingJobs',
        actions: ['sagemaker:DescribeTrainingJob'],
        resources: [trainingJobs],
      }),
    );
    grantDeployment(role, this, props.resourcePrefix, props.sageMakerRole);
    grantPublishNotifications(role, props.topic);

    acknowledgeWildcardResource(
      role,
      trainingJobs,
      'Training job names are generated per model version (<prefix>-<model>-v<n>-<hash>); read-only DescribeTrainingJob on the <prefix>- name prefix.',
    );
  }
}

/**
 * Endpoint changed: promote or record the failure, ensure the model's alarms, then deploy the next
 * approved version (core/use-cases/process-endpoint-change.ts).
 */
export class EndpointEventsHandler extends EventHandler {
  constructor(scope: Construct, id: string, props: DeployingHandlerProps) {
    super(scope, id, {
      entry: HANDLER_ENTRIES.endpointEvents,
      serviceName: 'endpoint-events',
      description: 'SageMaker endpoint state changes: promote or record the failure, ensure alarms',
      eventPattern: endpointStateChangePattern(props.resourcePrefix),
      ...common(props),
    });
    const role = this.handler.role;
    const alarms = alarmArn(this, props.resourcePrefix);

    grantRegistryReadWrite(role, props.table);
    grantDeployment(role, this, props.resourcePrefix, props.sageMakerRole);
    // PutMetricAlarm with Tags also needs cloudwatch:TagResource (CloudWatch API Reference, PutMetricAlarm).
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'ModelAlarms',
        actions: ['cloudwatch:PutMetricAlarm', 'cloudwatch:TagResource'],
        resources: [alarms],
      }),
    );
    grantPublishNotifications(role, props.topic);
  }
}

/**
 * Alarm changed: open or resolve the incident (with its evidence), notify, and act on the model's
 * alarm policy (core/use-cases/process-alarm-change.ts): `rollback` puts the previous champion back
 * through DeployVersion, `retrain` starts a new version (RetrainModel), and an alarm back to OK
 * rolls out a version that waited for it.
 */
export class AlarmEventsHandler extends EventHandler {
  constructor(scope: Construct, id: string, props: AlarmEventsHandlerProps) {
    super(scope, id, {
      entry: HANDLER_ENTRIES.alarmEvents,
      serviceName: 'alarm-events',
      description: 'CloudWatch alarm state changes: incidents and notifications',
      eventPattern: alarmStateChangePattern(props.resourcePrefix),
      ...common(props),
    });
    const role = this.handler.role;
    // reports/<model>/monitoring/<window>/drift.json: the drift monitor's reports, read for a drift
    // incident's evidence (the windows of a day are listed under the same prefix).
    const driftReports = props.data.bucket.arnForObjects(`${BUCKET_PREFIXES.reports}*/monitoring/*`);

    grantRegistryReadWrite(role, props.table);
    // The alarm's state and datapoints, and the rollback alarms a rollout checks: DescribeAlarms
    // accepts alarm ARNs for metric alarms (only composite alarms need "*", CloudWatch API
    // Reference, DescribeAlarms); the product only creates metric alarms. Part of grantDeployment.
    grantDeployment(role, this, props.resourcePrefix, props.sageMakerRole);
    // The `retrain` policy: the model config and a new training job.
    grantRetrain(role, this, props.resourcePrefix, props.data.bucket, props.sageMakerRole);
    grantReadObjects(role, 'ReadDriftReports', [driftReports]);
    grantPublishNotifications(role, props.topic);

    acknowledgeWildcardResource(
      role,
      driftReports,
      "A drift incident's evidence is the drift monitor's latest report, reports/<model>/monitoring/<window>/drift.json, of whichever model's alarm fired; read-only, and only the monitoring/ reports.",
    );
  }
}
