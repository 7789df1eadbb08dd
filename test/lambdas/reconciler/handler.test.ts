/**
 * The reconciler handler: a scheduled event or `{}` runs the Reconcile use case, anything else is
 * dropped as malformed; the AWS ports re-deliver exactly the events AWS would have sent (an SQS
 * message shaped as EventBridge's S3 event, asynchronous Lambda invocations) and list the latest
 * object versions; the settings name every missing variable.
 */
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { ListObjectVersionsCommand, S3Client } from '@aws-sdk/client-s3';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { ResourceNames } from '../../../core/domain/naming';
import type { RegistryStore } from '../../../core/ports/registry-store';
import { silentLog, type MlopsContext } from '../../../core/use-cases/context';
import { datasetIdentity } from '../../../core/use-cases/reconcile';
import { createAwsReconcilePorts, createReconcilerHandler } from '../../../lambdas/reconciler/handler';
import { readReconcilerSettings, RECONCILER_ENV } from '../../../lambdas/reconciler/settings';
import {
  endpointStateChangeEvent,
  s3ObjectCreatedEvent,
  trainingJobStateChangeEvent,
} from '../../../lambdas/shared/events';
import { lambdaContext } from '../../support/pipeline-harness';

const NOW = new Date('2025-06-03T12:00:00.000Z');
const sqs = mockClient(SQSClient);
const lambda = mockClient(LambdaClient);
const s3 = mockClient(S3Client);
const settings = {
  ingestQueueUrl: 'https://sqs.us-east-1.amazonaws.com/123456789012/mlops-ingest',
  trainingEventsFunction: 'arn:aws:lambda:us-east-1:123456789012:function:mlops-training-events',
  endpointEventsFunction: 'arn:aws:lambda:us-east-1:123456789012:function:mlops-endpoint-events',
};
const ports = () =>
  createAwsReconcilePorts(settings, 'us-east-1', {
    s3: new S3Client({ region: 'us-east-1' }),
    sqs: new SQSClient({ region: 'us-east-1' }),
    lambda: new LambdaClient({ region: 'us-east-1' }),
  });

/** A registry with one TRAINING version whose job has completed, and one lost upload. */
function context(): MlopsContext {
  const stale = '2025-06-03T11:00:00.000Z';
  const registry = {
    listVersionsByStatus: (status: string) =>
      Promise.resolve(
        status === 'TRAINING'
          ? [{ model: 'churn', version: 4, status, trainingJobName: 'mlops-churn-v4-1a2b', updatedAt: stale }]
          : status === 'DEPLOYING'
            ? [
                {
                  model: 'fraud',
                  version: 2,
                  status,
                  trainingJobName: 'mlops-fraud-v2-3c4d',
                  endpointName: 'mlops-fraud',
                  endpointConfigName: 'mlops-fraud-v2-3c4d',
                  rolloutRequestedAt: stale,
                  updatedAt: stale,
                },
              ]
            : [],
      ),
    getDataset: () => Promise.resolve(undefined),
    listPendingNotificationsBefore: () => Promise.resolve([]), // no notification left pending
  } as unknown as RegistryStore;
  return {
    registry,
    objects: { readText: () => Promise.resolve(undefined), write: () => Promise.resolve(undefined) },
    training: {
      describeTrainingJob: (jobName: string) =>
        Promise.resolve({ jobName, status: 'Completed', metrics: {} }),
    },
    endpoints: {
      describeEndpoint: (endpointName: string) =>
        Promise.resolve({
          endpointName,
          status: 'InService',
          configName: 'mlops-fraud-v2-3c4d',
        }),
    },
    clock: { now: () => NOW },
    names: new ResourceNames('mlops'),
    log: silentLog,
    bucket: 'mlops-data',
    region: 'us-east-1',
  } as unknown as MlopsContext;
}

beforeEach(() => {
  sqs.reset();
  lambda.reset();
  s3.reset();
  sqs.on(SendMessageCommand).resolves({ MessageId: 'm-1' });
  lambda.on(InvokeCommand).resolves({ StatusCode: 202 });
  s3.on(ListObjectVersionsCommand).resolves({
    IsTruncated: false,
    Versions: [
      {
        Key: 'datasets/churn/jan.csv',
        VersionId: 'v-new',
        IsLatest: true,
        ETag: '"abc"',
        Size: 120,
        LastModified: new Date('2025-06-03T10:00:00Z'),
      },
      { Key: 'datasets/churn/jan.csv', VersionId: 'v-old', IsLatest: false, ETag: '"old"', Size: 99 },
      // Deleted: its latest is a delete marker, so no version is the latest.
      { Key: 'datasets/churn/gone.csv', VersionId: 'v-1', IsLatest: false, Size: 5 },
    ],
    DeleteMarkers: [{ Key: 'datasets/churn/gone.csv', VersionId: 'dm', IsLatest: true }],
  });
});

describe('reconciler handler', () => {
  const scheduled = {
    version: '0',
    id: 'e1',
    'detail-type': 'Scheduled Event',
    source: 'aws.events',
    account: '123456789012',
    time: '2025-06-03T12:00:00Z',
    region: 'us-east-1',
    resources: ['arn:aws:events:us-east-1:123456789012:rule/mlops-reconciler'],
    detail: {},
  };

  it('a scheduled run re-delivers the lost events through SQS and asynchronous Lambda invocations', async () => {
    const handler = createReconcilerHandler(context, ports);
    const outcome = await handler(scheduled, lambdaContext);
    const outcomeDataset = {
      model: 'churn',
      datasetId: (outcome as unknown as { datasets: { redelivered: { datasetId: string }[] } }).datasets
        .redelivered[0]!.datasetId,
    };
    expect(outcome).toMatchObject({
      kind: 'reconciled',
      versions: [
        { kind: 'training-event', model: 'churn', version: 4, jobStatus: 'Completed' },
        { kind: 'endpoint-event', model: 'fraud', version: 2, endpointStatus: 'InService' },
      ],
      datasets: { examined: 1, redelivered: [{ key: 'datasets/churn/jan.csv', model: 'churn' }] },
    });

    // The upload: the message EventBridge would have queued, with the version id ingest derives the id from.
    expect(sqs).toHaveReceivedCommandTimes(SendMessageCommand, 1);
    const message = sqs.commandCalls(SendMessageCommand)[0]!.args[0].input;
    expect(message.QueueUrl).toBe(settings.ingestQueueUrl);
    const raw = JSON.parse(message.MessageBody!) as Record<string, unknown>;
    expect(raw).toMatchObject({
      account: '123456789012',
      region: 'us-east-1',
      'replay-name': 'mlops-reconciler',
    });
    // What the ingest handler parses out of it.
    const body = s3ObjectCreatedEvent.parse(raw);
    expect(body).toMatchObject({
      source: 'aws.s3',
      'detail-type': 'Object Created',
      detail: {
        bucket: { name: 'mlops-data' },
        object: { key: 'datasets/churn/jan.csv', size: 120, etag: 'abc', 'version-id': 'v-new' },
      },
    });
    const object = body.detail.object;
    expect(
      datasetIdentity('mlops-data', {
        key: object.key,
        size: object.size ?? 0,
        ...(object.etag ? { etag: object.etag } : {}),
        ...(object['version-id'] ? { versionId: object['version-id'] } : {}),
      }),
    ).toEqual(outcomeDataset);

    // The SageMaker events: to the function each rule targets, asynchronously.
    const invocations = lambda.commandCalls(InvokeCommand).map((call) => call.args[0].input);
    expect(invocations.map((i) => [i.FunctionName, i.InvocationType])).toEqual([
      [settings.trainingEventsFunction, 'Event'],
      [settings.endpointEventsFunction, 'Event'],
    ]);
    const decode = (payload: unknown) =>
      JSON.parse(new TextDecoder().decode(payload as Uint8Array)) as unknown;
    expect(trainingJobStateChangeEvent.safeParse(decode(invocations[0]!.Payload)).success).toBe(true);
    expect(endpointStateChangeEvent.safeParse(decode(invocations[1]!.Payload)).success).toBe(true);
    expect(decode(invocations[0]!.Payload)).toMatchObject({
      resources: ['arn:aws:sagemaker:us-east-1:123456789012:training-job/mlops-churn-v4-1a2b'],
      detail: { TrainingJobName: 'mlops-churn-v4-1a2b', TrainingJobStatus: 'Completed' },
    });
    expect(decode(invocations[1]!.Payload)).toMatchObject({
      detail: {
        EndpointName: 'mlops-fraud',
        EndpointStatus: 'IN_SERVICE',
        EndpointConfigName: 'mlops-fraud-v2-3c4d',
      },
    });
  });

  it('runs on demand with {} and drops anything else as malformed', async () => {
    const handler = createReconcilerHandler(context, ports);
    expect(await handler({}, lambdaContext)).toMatchObject({ kind: 'reconciled' });
    expect(await handler({ model: 'churn' }, lambdaContext)).toEqual({ kind: 'malformed' });
    expect(await handler({ ...scheduled, 'detail-type': 'Object Created' }, lambdaContext)).toEqual({
      kind: 'malformed',
    });
  });

  it('an invocation Lambda did not accept is a failed repair, and the run is partial', async () => {
    lambda.on(InvokeCommand).resolves({ StatusCode: 500 });
    const outcome = await createReconcilerHandler(context, ports)({}, lambdaContext);
    expect(outcome).toMatchObject({ kind: 'partial' });
    expect((outcome as unknown as { failures: unknown[] }).failures).toHaveLength(2);
  });

  it('lists pages of versions after the cursor with both markers', async () => {
    s3.on(ListObjectVersionsCommand)
      .resolvesOnce({
        IsTruncated: true,
        NextKeyMarker: 'datasets/a/x.csv',
        NextVersionIdMarker: 'v2',
        Versions: [{ Key: 'datasets/a/x.csv', VersionId: 'v3', IsLatest: true, Size: 1, LastModified: NOW }],
      })
      .resolvesOnce({
        IsTruncated: false,
        Versions: [{ Key: 'datasets/a/y.csv', VersionId: 'v9', IsLatest: true, Size: 1, LastModified: NOW }],
      });
    const { inventory } = ports();
    const page = await inventory.listPage('mlops-data', 'datasets/', {
      startAfter: 'datasets/a/w.csv',
      maxKeys: 10,
    });
    expect(page).toEqual({
      truncated: false,
      objects: [
        { key: 'datasets/a/x.csv', size: 1, versionId: 'v3', lastModified: NOW },
        { key: 'datasets/a/y.csv', size: 1, versionId: 'v9', lastModified: NOW },
      ],
    });
    expect(s3.commandCalls(ListObjectVersionsCommand).map((c) => c.args[0].input)).toEqual([
      { Bucket: 'mlops-data', Prefix: 'datasets/', MaxKeys: 1000, KeyMarker: 'datasets/a/w.csv' },
      {
        Bucket: 'mlops-data',
        Prefix: 'datasets/',
        MaxKeys: 1000,
        KeyMarker: 'datasets/a/x.csv',
        VersionIdMarker: 'v2',
      },
    ]);
  });
});

describe('reconciler settings', () => {
  it('reads the three targets and names what is missing', () => {
    expect(
      readReconcilerSettings({
        [RECONCILER_ENV.ingestQueueUrl]: settings.ingestQueueUrl,
        [RECONCILER_ENV.trainingEventsFunction]: settings.trainingEventsFunction,
        [RECONCILER_ENV.endpointEventsFunction]: settings.endpointEventsFunction,
      }),
    ).toEqual(settings);
    expect(() => readReconcilerSettings({})).toThrow(
      /invalid reconciler environment: INGEST_QUEUE_URL: .*TRAINING_EVENTS_FUNCTION_ARN: .*ENDPOINT_EVENTS_FUNCTION_ARN/,
    );
  });
});
