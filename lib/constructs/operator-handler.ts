/**
 * OperatorHandler: the function that runs an operator's command (approve, reject, rollback,
 * retrain) inside the stack. Where this stands: infrastructure (lib/constructs); the `mlops` CLI
 * invokes lambdas/operator/handler.ts synchronously with an OperatorCommand and prints the
 * OperatorResult it answers (core/use-cases/operate-model.ts).
 *
 *   mlops approve|reject|rollback|retrain --(lambda:InvokeFunction, RequestResponse)--> operator function
 *     --> registry (conditional transitions, audit) --> SageMaker (CreateTrainingJob, or the
 *         same guarded blue/green rollout the pipeline runs) --> notification topic
 *
 * No trigger: no rule, no queue, no schedule. Mutations run through the stack rather than with the
 * operator's own credentials, so that an operator only needs lambda:InvokeFunction on this function
 * (lib/constructs/operator-access.ts) and never SageMaker, PassRole or registry writes.
 *
 * Least privilege: exactly what OperateModel calls. The registry (read/write, the status index);
 * the deployment grants of the handlers that deploy (lib/private/permissions.ts, grantDeployment:
 * an approval and a rollback run DeployVersion, which also reads the model's alarms before it
 * rolls out); CreateTrainingJob (retrain) with the AddTags its Tags need and PassRole of the
 * SageMaker role; a read of the model config (a retrain reads it as ingest does: a config changed
 * since is often what a retrain is for). No read of the prepared channels or reports: the training
 * job reads its channels with the SageMaker role, and the retrain takes their URIs from the
 * registry's dataset record. The topic: a rollout or a training job the service refuses for good is
 * notified at once (DeployVersion, training-start.ts), as the pipeline's handlers do.
 * test/contracts/iam-contract.test.ts runs approve, rollback, retrain and reject through the real
 * handler against this role.
 */
import { Duration } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as iam from 'aws-cdk-lib/aws-iam';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { HANDLER_ENTRIES } from '../paths';
import {
  grantDeployment,
  grantPublishNotifications,
  grantRegistryReadWrite,
  grantRetrain,
} from '../private/permissions';
import type { DataBucket } from './data-bucket';
import { MlopsFunction, type PowertoolsLogLevel } from './mlops-function';

/** The operator function's timeout: a command is a few registry and SageMaker calls. */
export const OPERATOR_TIMEOUT = Duration.minutes(1);

/** What the operator function reads, writes and deploys with. */
export interface OperatorHandlerProps {
  readonly data: DataBucket;
  readonly table: dynamodb.ITable;
  readonly topic: sns.ITopic;
  /** The role passed to CreateTrainingJob (retrain) and CreateModel (approve, rollback). */
  readonly sageMakerRole: iam.IRole;
  /** The stack's resource prefix: SageMaker and alarm grants are limited to `<prefix>-*`. */
  readonly resourcePrefix: string;
  /** Handler environment (lambdas/shared/environment.ts). */
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

/** The operator function, invoked by people (through the CLI), never by an event. */
export class OperatorHandler extends Construct {
  /** The operator function. */
  readonly handler: MlopsFunction;

  constructor(scope: Construct, id: string, props: OperatorHandlerProps) {
    super(scope, id);
    this.handler = new MlopsFunction(this, 'Handler', {
      entry: HANDLER_ENTRIES.operator,
      serviceName: 'operator',
      description: "Runs an operator's command: approve, reject, rollback or retrain a model version",
      timeout: OPERATOR_TIMEOUT,
      environment: props.environment,
      // The CLI invokes synchronously and prints the answer. An asynchronous invocation that fails
      // is not run again behind the operator's back: they run the command again if they want it.
      asyncInvoke: { retryAttempts: 0 },
      ...(props.logRetention ? { logRetention: props.logRetention } : {}),
      ...(props.logLevel ? { logLevel: props.logLevel } : {}),
    });
    this.grantPermissions(props);
  }

  private grantPermissions(props: OperatorHandlerProps): void {
    const role = this.handler.role;
    grantRegistryReadWrite(role, props.table);
    // Approve and rollback: DeployVersion (models, endpoint configs, blue/green updates guarded by
    // the model's alarms, PassRole for CreateModel).
    grantDeployment(role, this, props.resourcePrefix, props.sageMakerRole);
    // Retrain: the model config, and a new training job from a registered dataset, as ingest's.
    grantRetrain(role, this, props.resourcePrefix, props.data.bucket, props.sageMakerRole);
    grantPublishNotifications(role, props.topic);
  }
}
