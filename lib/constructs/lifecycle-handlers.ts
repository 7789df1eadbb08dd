/**
 * The model lifecycle handlers after ingest: training job finished -> gate and deploy; endpoint
 * changed -> promote or record the failure, ensure alarms, deploy the next approved version;
 * alarm changed -> incident, notify.
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
import {
  alarmArn,
  grantDeployment,
  grantPublishNotifications,
  grantRegistryReadWrite,
  sageMakerArn,
} from '../private/permissions';
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

/** Alarm changed: open or resolve the incident, notify. */
export class AlarmEventsHandler extends EventHandler {
  constructor(scope: Construct, id: string, props: LifecycleHandlerProps) {
    super(scope, id, {
      entry: HANDLER_ENTRIES.alarmEvents,
      serviceName: 'alarm-events',
      description: 'CloudWatch alarm state changes: incidents and notifications',
      eventPattern: alarmStateChangePattern(props.resourcePrefix),
      ...common(props),
    });
    const role = this.handler.role;
    const alarms = alarmArn(this, props.resourcePrefix);

    grantRegistryReadWrite(role, props.table);
    // DescribeAlarms accepts alarm ARNs for metric alarms (only composite alarms need "*",
    // CloudWatch API Reference, DescribeAlarms); the product only creates metric alarms.
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'ReadModelAlarms',
        actions: ['cloudwatch:DescribeAlarms'],
        resources: [alarms],
      }),
    );
    grantPublishNotifications(role, props.topic);

    acknowledgeWildcardResource(
      role,
      alarms,
      'Model alarms are named <prefix>-<model>-<kind> and created at run time; only the read-only DescribeAlarms is granted on the <prefix>- name prefix.',
    );
  }
}
