/**
 * The event-driven pipeline after ingest, through the real handlers on local parts (DynamoDB
 * Local, s3rver) with SageMaker and CloudWatch mocked: training events -> gate -> deployment ->
 * endpoint events -> promotion and alarms -> alarm events -> incidents. Every event is also
 * delivered twice, and some out of order, to show that nothing happens twice.
 *
 * Each test starts from an empty registry (a table of its own) and a fresh SageMaker / CloudWatch
 * / SNS, and drives the pipeline to the state it needs through the same handlers (the fixtures
 * below), so any test passes alone and in any order.
 */
import {
  CreateEndpointCommand,
  CreateEndpointConfigCommand,
  CreateModelCommand,
  DeleteEndpointCommand,
  UpdateEndpointCommand,
} from '@aws-sdk/client-sagemaker';
import { PutMetricAlarmCommand } from '@aws-sdk/client-cloudwatch';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { MlopsContext } from '../../core/use-cases/context';
import { ApproveVersion } from '../../core/use-cases/approve-version';
import { createAlarmEventsHandler } from '../../lambdas/alarm-events/handler';
import { createEndpointEventsHandler } from '../../lambdas/endpoint-events/handler';
import { createIngestHandler } from '../../lambdas/ingest/handler';
import { createTrainingEventsHandler } from '../../lambdas/training-events/handler';
import {
  alarmEvent,
  churnCsv,
  endpointEvent,
  lambdaContext,
  ROLE_ARN,
  sqsBatch,
  startPipelineHarness,
  trainingEvent,
  type PipelineHarness,
} from '../support/pipeline-harness';

let harness: PipelineHarness;
let ctx: MlopsContext;
let ingest: ReturnType<typeof createIngestHandler>;
let training: ReturnType<typeof createTrainingEventsHandler>;
let endpoints: ReturnType<typeof createEndpointEventsHandler>;
let alarms: ReturnType<typeof createAlarmEventsHandler>;

beforeAll(async () => {
  harness = await startPipelineHarness();
});
afterAll(async () => harness?.stop());
beforeEach(async () => {
  harness.aws.reset();
  ctx = harness.context({ registryTable: await harness.newTable() });
  ingest = createIngestHandler(() => ctx);
  training = createTrainingEventsHandler(() => ctx);
  endpoints = createEndpointEventsHandler(() => ctx);
  alarms = createAlarmEventsHandler(() => ctx);
});

/** Uploads a dataset for `model` and returns the new version's training job name. */
async function newVersion(
  model: string,
  rows: number,
  seed: number,
): Promise<{ version: number; jobName: string }> {
  const event = await harness.upload(
    `datasets/${model}/batch-${seed}.csv`,
    churnCsv(rows, seed).replace('churned', 'label'),
  );
  const result = await ingest(sqsBatch(event), lambdaContext);
  expect(result.batchItemFailures).toEqual([]);
  const latest = (await ctx.registry.listVersions(model)).at(-1)!;
  return { version: latest.version, jobName: latest.trainingJobName };
}

async function status(model: string, version: number): Promise<string | undefined> {
  return (await ctx.registry.getVersion(model, version))?.status;
}

describe('the pipeline, from a trained job to a guarded production endpoint', () => {
  const model = 'churn';
  const endpointName = 'mlops-churn';

  // Fixtures: each drives the pipeline one stage further than the one before, checking it got there.

  /** The model's config: a gate with a 0.01 tolerance, a linear blue/green rollout on 5 instances. */
  const configure = () =>
    harness.upload(
      'models/churn/config.json',
      JSON.stringify({
        gate: { threshold: 0.7, regressionTolerance: 0.01 },
        deployment: { strategy: 'linear', stepPercent: 20, bakeSeconds: 600, initialInstanceCount: 5 },
      }),
    );
  /** v1 uploaded, its training job running. */
  const trainingV1 = async () => {
    await configure();
    const v1 = await newVersion(model, 400, 1);
    expect(await status(model, v1.version)).toBe('TRAINING');
    return v1;
  };
  /** v1 trained (validation AUC 0.91), through the gate, its endpoint being created. */
  const deployingV1 = async () => {
    const v1 = await trainingV1();
    harness.aws.finishJob(v1.jobName, { metrics: { 'validation:auc': 0.91, 'train:auc': 0.95 } });
    await training(trainingEvent(v1.jobName), lambdaContext);
    expect(await status(model, v1.version)).toBe('DEPLOYING');
    return v1;
  };
  /** v1 in production behind mlops-churn, with the model's alarms. */
  const productionV1 = async () => {
    const v1 = await deployingV1();
    harness.aws.settleEndpoint(endpointName, 'in-service');
    await endpoints(endpointEvent(endpointName), lambdaContext);
    expect(await status(model, v1.version)).toBe('PRODUCTION');
    return v1;
  };
  /** v2 (validation AUC 0.93) promoted over v1 by a blue/green update; v1 archived. */
  const productionV2 = async () => {
    const v1 = await productionV1();
    const v2 = await newVersion(model, 400, 2);
    harness.aws.finishJob(v2.jobName, { metrics: { 'validation:auc': 0.93 } });
    await training(trainingEvent(v2.jobName), lambdaContext);
    harness.aws.settleEndpoint(endpointName, 'in-service');
    await endpoints(endpointEvent(endpointName), lambdaContext);
    expect(await status(model, v2.version)).toBe('PRODUCTION');
    return { v1, v2 };
  };

  it('a late InProgress event before completion changes nothing', async () => {
    const v1 = await trainingV1();
    const outcome = await training(trainingEvent(v1.jobName, 'InProgress'), lambdaContext);
    expect(outcome).toEqual({ kind: 'in-progress' });
    expect(await status(model, v1.version)).toBe('TRAINING');
  });

  it('on Completed records metrics, passes the gate and creates the model, config and endpoint once', async () => {
    const v1 = await trainingV1();
    harness.aws.finishJob(v1.jobName, { metrics: { 'validation:auc': 0.91, 'train:auc': 0.95 } });
    await training(trainingEvent(v1.jobName), lambdaContext);
    await training(trainingEvent(v1.jobName), lambdaContext); // duplicate
    await training(trainingEvent(v1.jobName, 'InProgress'), lambdaContext); // late, out of order

    const version = await ctx.registry.getVersion(model, v1.version);
    expect(version).toMatchObject({
      status: 'DEPLOYING',
      metrics: { 'validation:auc': 0.91, 'train:auc': 0.95 },
      artifactUri: `s3://mlops-data-123/artifacts/churn/${v1.jobName}/output/model.tar.gz`,
      endpointName,
      endpointConfigName: v1.jobName,
    });
    expect(version!.gate!.passed).toBe(true);
    expect(version!.gate!.checks.map((c) => c.name)).toEqual([
      'metric-reported',
      'threshold',
      'no-regression',
      'approval',
    ]);
    expect(version!.rolloutRequestedAt).toBeDefined();

    const sm = harness.aws.sagemaker;
    expect(sm).toHaveReceivedCommandTimes(CreateModelCommand, 1);
    expect(sm).toHaveReceivedCommandWith(CreateModelCommand, {
      ModelName: v1.jobName,
      ExecutionRoleArn: ROLE_ARN,
      PrimaryContainer: {
        Image: '683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1',
        ModelDataUrl: version!.artifactUri,
      },
    });
    expect(sm).toHaveReceivedCommandWith(CreateEndpointConfigCommand, {
      EndpointConfigName: v1.jobName,
      ProductionVariants: [
        {
          VariantName: 'AllTraffic',
          ModelName: v1.jobName,
          InstanceType: 'ml.m5.large',
          InitialInstanceCount: 5,
          InitialVariantWeight: 1,
        },
      ],
      DataCaptureConfig: {
        EnableCapture: true,
        InitialSamplingPercentage: 100,
        DestinationS3Uri: 's3://mlops-data-123/capture/churn/',
        CaptureOptions: [{ CaptureMode: 'Input' }, { CaptureMode: 'Output' }],
        CaptureContentTypeHeader: { CsvContentTypes: ['text/csv'], JsonContentTypes: ['application/json'] },
      },
    });
    expect(sm).toHaveReceivedCommandTimes(CreateEndpointCommand, 1);
    expect(sm).toHaveReceivedCommandWith(CreateEndpointCommand, {
      EndpointName: endpointName,
      EndpointConfigName: v1.jobName,
    });
    const audit = await ctx.registry.listAudit(model);
    expect(audit.filter((a) => a.type === 'TRAINED')).toHaveLength(1);
    expect(audit.filter((a) => a.type === 'GATE_APPROVED')).toHaveLength(1);
  });

  it('an endpoint event while creating changes nothing; InService promotes v1 and creates its alarms', async () => {
    const v1 = await deployingV1();
    expect(await endpoints(endpointEvent(endpointName, 'CREATING'), lambdaContext)).toMatchObject({
      kind: 'in-progress',
    });
    harness.aws.settleEndpoint(endpointName, 'in-service');
    expect(await endpoints(endpointEvent(endpointName), lambdaContext)).toMatchObject({
      kind: 'promoted',
      version: v1.version,
    });
    expect(await endpoints(endpointEvent(endpointName), lambdaContext)).toMatchObject({ kind: 'ignored' }); // duplicate

    expect(await status(model, v1.version)).toBe('PRODUCTION');
    const record = await ctx.registry.getModel(model);
    expect(record).toMatchObject({ champion: v1.version, alarmsCreated: true });
    expect(record!.challenger).toBeUndefined();
    expect([...harness.aws.alarms.keys()].sort()).toEqual([
      'mlops-churn-error-rate',
      'mlops-churn-feature-drift',
      'mlops-churn-invocations-anomaly',
      'mlops-churn-latency-anomaly',
      'mlops-churn-prediction-drift',
    ]);
    expect(harness.aws.cloudwatch).toHaveReceivedCommandWith(PutMetricAlarmCommand, {
      AlarmName: 'mlops-churn-latency-anomaly',
      ComparisonOperator: 'GreaterThanUpperThreshold',
      ThresholdMetricId: 'ad1',
    });
    // The drift alarms watch the drift monitor's metrics, with the config's thresholds (defaults here).
    expect(harness.aws.cloudwatch).toHaveReceivedCommandWith(PutMetricAlarmCommand, {
      AlarmName: 'mlops-churn-feature-drift',
      Namespace: 'ServerlessMlops/Drift',
      MetricName: 'FeatureDriftMax',
      Dimensions: [{ Name: 'Model', Value: 'churn' }],
      Threshold: 0.2,
      TreatMissingData: 'notBreaching',
    });
  });

  it('a better v2 rolls out blue/green (linear, from the config) guarded by the model alarms, then is promoted', async () => {
    const v1 = await productionV1();
    const v2 = await newVersion(model, 400, 2);
    harness.aws.finishJob(v2.jobName, { metrics: { 'validation:auc': 0.93 } });
    expect(await training(trainingEvent(v2.jobName), lambdaContext)).toMatchObject({
      kind: 'deploying',
      deploy: { kind: 'updating' },
    });
    expect(harness.aws.sagemaker).toHaveReceivedCommandWith(UpdateEndpointCommand, {
      EndpointName: endpointName,
      EndpointConfigName: v2.jobName,
      DeploymentConfig: {
        BlueGreenUpdatePolicy: {
          TrafficRoutingConfiguration: {
            Type: 'LINEAR',
            WaitIntervalInSeconds: 600,
            // 20% of 5 instances: one instance per step, sent as a count (model-config.ts).
            LinearStepSize: { Type: 'INSTANCE_COUNT', Value: 1 },
          },
          TerminationWaitInSeconds: 120,
          // 5 linear steps x 600 s bake + 120 s termination wait + 1800 s to provision the new fleet.
          MaximumExecutionTimeoutInSeconds: 4920,
        },
        AutoRollbackConfiguration: {
          Alarms: [{ AlarmName: 'mlops-churn-error-rate' }, { AlarmName: 'mlops-churn-latency-anomaly' }],
        },
      },
    });
    // A late event about v1's creation arrives while v2 is updating: nothing changes.
    expect(await endpoints(endpointEvent(endpointName), lambdaContext)).toMatchObject({
      kind: 'in-progress',
      status: 'Updating',
    });
    harness.aws.settleEndpoint(endpointName, 'in-service');
    expect(await endpoints(endpointEvent(endpointName), lambdaContext)).toMatchObject({
      kind: 'promoted',
      version: v2.version,
      archived: v1.version,
    });
    expect(await status(model, v2.version)).toBe('PRODUCTION');
    expect(await status(model, v1.version)).toBe('ARCHIVED');
    expect((await ctx.registry.getModel(model))?.champion).toBe(v2.version);
  });

  it('a candidate worse than the champion is rejected by the gate with its reason, and nothing is deployed', async () => {
    await productionV2();
    const v3 = await newVersion(model, 400, 3);
    harness.aws.sagemaker.resetHistory();
    harness.aws.finishJob(v3.jobName, { metrics: { 'validation:auc': 0.9 } });
    expect(await training(trainingEvent(v3.jobName), lambdaContext)).toMatchObject({ kind: 'rejected' });
    const version = await ctx.registry.getVersion(model, v3.version);
    expect(version).toMatchObject({ status: 'REJECTED' });
    expect(version!.failureReason).toMatch(
      /validation:auc 0\.9 against champion v2 0\.93 \(tolerance 0\.01\): worse than the champion/,
    );
    expect(harness.aws.sagemaker).not.toHaveReceivedCommand(CreateModelCommand);
    expect(harness.aws.sagemaker).not.toHaveReceivedCommand(UpdateEndpointCommand);
  });

  it('a rollout that SageMaker rolls back ends ROLLED_BACK and the champion stays', async () => {
    const { v2 } = await productionV2();
    const v4 = await newVersion(model, 400, 4);
    harness.aws.finishJob(v4.jobName, { metrics: { 'validation:auc': 0.94 } });
    await training(trainingEvent(v4.jobName), lambdaContext);
    expect(await status(model, v4.version)).toBe('DEPLOYING');
    harness.aws.settleEndpoint(endpointName, 'rolled-back');
    const outcome = await endpoints(endpointEvent(endpointName), lambdaContext);
    expect(outcome).toMatchObject({ kind: 'rolled-back', version: v4.version });
    await endpoints(endpointEvent(endpointName), lambdaContext); // duplicate
    const version = await ctx.registry.getVersion(model, v4.version);
    expect(version).toMatchObject({ status: 'ROLLED_BACK' });
    expect(version!.failureReason).toMatch(/still serves .*v2-.*Alarm mlops-churn-error-rate in ALARM/);
    expect(await ctx.registry.getModel(model)).toMatchObject({ champion: v2.version });
    expect((await ctx.registry.listAudit(model)).filter((a) => a.type === 'ROLLED_BACK')).toHaveLength(1);
  });

  it('a Failed or Stopped training job ends FAILED with its reason, once', async () => {
    await configure();
    const v5 = await newVersion(model, 400, 5);
    harness.aws.finishJob(v5.jobName, { failureReason: 'AlgorithmError: feature_names mismatch' });
    await training(trainingEvent(v5.jobName, 'Failed'), lambdaContext);
    await training(trainingEvent(v5.jobName, 'Failed'), lambdaContext);
    expect(await ctx.registry.getVersion(model, v5.version)).toMatchObject({
      status: 'FAILED',
      failureReason: `training job ${v5.jobName} failed: AlgorithmError: feature_names mismatch`,
    });
    expect((await ctx.registry.listAudit(model)).filter((a) => a.type === 'TRAINING_FAILED')).toHaveLength(1);
  });

  it('alarm events open one incident under duplicates, and OK resolves it', async () => {
    const { v2 } = await productionV2();
    harness.aws.setAlarm(
      'mlops-churn-error-rate',
      'ALARM',
      'Threshold Crossed: 3 out of the last 5 datapoints were greater than the threshold (0.05).',
    );
    const opened = await alarms(alarmEvent('mlops-churn-error-rate', 'ALARM', 'OK'), lambdaContext);
    const again = await alarms(alarmEvent('mlops-churn-error-rate', 'ALARM', 'OK'), lambdaContext);
    expect(opened).toMatchObject({ kind: 'opened', model });
    expect(again).toMatchObject({ kind: 'unchanged' });
    const open = await ctx.registry.listOpenIncidents();
    expect(open).toHaveLength(1);
    expect(open[0]).toMatchObject({
      model,
      alarmName: 'mlops-churn-error-rate',
      version: v2.version,
      status: 'OPEN',
    });

    // A late ALARM event after the alarm recovered opens nothing.
    harness.aws.setAlarm('mlops-churn-error-rate', 'OK', 'back to normal');
    expect(await alarms(alarmEvent('mlops-churn-error-rate', 'OK', 'ALARM'), lambdaContext)).toMatchObject({
      kind: 'resolved',
    });
    expect(await alarms(alarmEvent('mlops-churn-error-rate', 'ALARM', 'OK'), lambdaContext)).toMatchObject({
      kind: 'unchanged',
    });
    expect(await ctx.registry.listOpenIncidents()).toHaveLength(0);
    expect(await ctx.registry.listIncidents(model)).toHaveLength(1);
  });

  it('ignores events about resources that are not ours, and drops malformed events', async () => {
    expect(await training(trainingEvent('someone-elses-job'), lambdaContext)).toMatchObject({
      kind: 'ignored',
    });
    expect(await endpoints(endpointEvent('other-endpoint'), lambdaContext)).toMatchObject({
      kind: 'ignored',
    });
    expect(await alarms(alarmEvent('billing-alarm', 'ALARM', 'OK'), lambdaContext)).toMatchObject({
      kind: 'ignored',
    });
    expect(
      await training(
        { source: 'aws.sagemaker', 'detail-type': 'SageMaker Training Job State Change', detail: {} },
        lambdaContext,
      ),
    ).toEqual({ kind: 'malformed' });
  });
});

describe('manual approval and a first rollout that fails', () => {
  it('waits in PENDING_APPROVAL; approval deploys; a Failed endpoint ends DEPLOY_FAILED and is removed', async () => {
    const model = 'leads';
    await harness.upload('models/leads/config.json', JSON.stringify({ gate: { approval: 'manual' } }));
    const v1 = await newVersion(model, 300, 7);
    harness.aws.finishJob(v1.jobName, { metrics: { 'validation:auc': 0.8 } });
    expect(await training(trainingEvent(v1.jobName), lambdaContext)).toMatchObject({
      kind: 'pending-approval',
    });
    expect(await status(model, v1.version)).toBe('PENDING_APPROVAL');

    const approval = new ApproveVersion(ctx);
    const approved = await approval.approve(model, v1.version, 'alice@example.com', 'looks good');
    expect(approved).toMatchObject({ approved: true, deploy: { kind: 'creating' } });
    expect(await approval.approve(model, v1.version, 'alice@example.com')).toEqual({ approved: false });

    harness.aws.settleEndpoint('mlops-leads', 'failed');
    expect(await endpoints(endpointEvent('mlops-leads', 'FAILED'), lambdaContext)).toMatchObject({
      kind: 'deploy-failed',
      version: v1.version,
    });
    const version = await ctx.registry.getVersion(model, v1.version);
    expect(version).toMatchObject({ status: 'DEPLOY_FAILED' });
    expect(version!.failureReason).toMatch(/did not pass the ping health check/);
    expect(harness.aws.sagemaker).toHaveReceivedCommandWith(DeleteEndpointCommand, {
      EndpointName: 'mlops-leads',
    });
    expect((await ctx.registry.getModel(model))?.champion).toBeUndefined();
  });
});
