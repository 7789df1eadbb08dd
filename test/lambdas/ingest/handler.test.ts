/**
 * The ingest handler end to end on local parts: SQS batch -> handler -> use case -> s3rver and
 * DynamoDB Local, with SageMaker mocked (exact CreateTrainingJob requests asserted).
 */
import { CreateTrainingJobCommand, SageMakerServiceException } from '@aws-sdk/client-sagemaker';
import { PublishCommand } from '@aws-sdk/client-sns';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createIngestHandler } from '../../../lambdas/ingest/handler';
import type { MlopsContext } from '../../../core/use-cases/context';
import {
  churnCsv,
  lambdaContext,
  ROLE_ARN,
  sqsBatch,
  startPipelineHarness,
  type PipelineHarness,
} from '../../support/pipeline-harness';

let harness: PipelineHarness;
let ctx: MlopsContext;
let handler: ReturnType<typeof createIngestHandler>;

beforeAll(async () => {
  harness = await startPipelineHarness();
  ctx = harness.context();
  handler = createIngestHandler(() => ctx);
});
afterAll(async () => harness?.stop());
beforeEach(() => harness.aws.reset());

async function readText(key: string): Promise<string> {
  const text = await harness.read(key);
  if (text === undefined) throw new Error(`${key} does not exist`);
  return text;
}

describe('ingest handler', () => {
  it('turns a CSV upload into a prepared dataset, version 1 and exactly one training job, however often the event comes', async () => {
    await harness.upload('models/churn/config.json', JSON.stringify({ labelColumn: 'churned' }));
    const event = await harness.upload('datasets/churn/customers.csv', churnCsv(500));

    // Three deliveries of the same event: one in its own batch, two in the same batch.
    const first = await handler(sqsBatch(event), lambdaContext);
    const again = await handler(sqsBatch(event, event), lambdaContext);
    expect(first.batchItemFailures).toEqual([]);
    expect(again.batchItemFailures).toEqual([]);

    const versions = await ctx.registry.listVersions('churn');
    expect(versions).toHaveLength(1);
    const version = versions[0]!;
    expect(version).toMatchObject({ version: 1, status: 'TRAINING', objectiveMetric: 'validation:auc' });
    expect(harness.aws.jobs.size).toBe(1);
    expect(harness.aws.jobs.has(version.trainingJobName)).toBe(true);

    const dataset = await ctx.registry.getDataset('churn', version.datasetId);
    expect(dataset).toMatchObject({
      status: 'ACCEPTED',
      version: 1,
      sourceUri: 's3://mlops-data-123/datasets/churn/customers.csv',
    });
    expect(dataset!.profile!.rows).toBe(500);
    expect(dataset!.profile!.trainRows + dataset!.profile!.validationRows).toBe(500);
    expect(dataset!.contentHash).toMatch(/^[0-9a-f]{64}$/);

    // The exact request SageMaker received.
    expect(harness.aws.sagemaker).toHaveReceivedCommandWith(CreateTrainingJobCommand, {
      TrainingJobName: version.trainingJobName,
      RoleArn: ROLE_ARN,
      AlgorithmSpecification: {
        TrainingImage: '683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1',
        TrainingInputMode: 'File',
      },
      HyperParameters: { objective: 'binary:logistic', eval_metric: 'auc', num_round: '100' },
      InputDataConfig: [
        {
          ChannelName: 'train',
          ContentType: 'text/csv',
          CompressionType: 'None',
          DataSource: {
            S3DataSource: {
              S3DataType: 'S3Prefix',
              S3Uri: `s3://mlops-data-123/prepared/churn/${version.datasetId}/train/`,
              S3DataDistributionType: 'FullyReplicated',
            },
          },
        },
        {
          ChannelName: 'validation',
          ContentType: 'text/csv',
          CompressionType: 'None',
          DataSource: {
            S3DataSource: {
              S3DataType: 'S3Prefix',
              S3Uri: `s3://mlops-data-123/prepared/churn/${version.datasetId}/validation/`,
              S3DataDistributionType: 'FullyReplicated',
            },
          },
        },
      ],
      OutputDataConfig: { S3OutputPath: 's3://mlops-data-123/artifacts/churn/' },
      ResourceConfig: { InstanceType: 'ml.m5.large', InstanceCount: 1, VolumeSizeInGB: 10 },
      StoppingCondition: { MaxRuntimeInSeconds: 3600 },
      EnableManagedSpotTraining: false,
    });

    // The prepared channels: XGBoost CSV, label first, no header, every row once.
    const train = (await readText(`prepared/churn/${version.datasetId}/train/train.csv`)).trim().split('\n');
    const validation = (await readText(`prepared/churn/${version.datasetId}/validation/validation.csv`))
      .trim()
      .split('\n');
    expect(train.length + validation.length).toBe(500);
    expect(train.length).toBe(dataset!.profile!.trainRows);
    expect(validation.length).toBeGreaterThan(50);
    for (const line of [...train, ...validation]) expect(line).toMatch(/^[01],\d+,[\d.]+,\d+$/);

    // The audit trail has one creation line.
    const audit = await ctx.registry.listAudit('churn');
    expect(audit.filter((a) => a.type === 'VERSION_CREATED')).toHaveLength(1);
  });

  it('starts one job for concurrent deliveries of a new upload', async () => {
    const event = await harness.upload('datasets/fraud/day-1.csv', churnCsv(200).replace('churned', 'label'));
    await Promise.all([
      handler(sqsBatch(event), lambdaContext),
      handler(sqsBatch(event), lambdaContext),
      handler(sqsBatch(event), lambdaContext),
    ]);
    const versions = await ctx.registry.listVersions('fraud');
    expect(versions).toHaveLength(1);
    expect(harness.aws.jobs.size).toBe(1);
  });

  it('gives a new upload of the same file name a new version', async () => {
    const first = await harness.upload(
      'datasets/renewals/data.csv',
      churnCsv(120, 1).replace('churned', 'label'),
    );
    await handler(sqsBatch(first), lambdaContext);
    const second = await harness.upload(
      'datasets/renewals/data.csv',
      churnCsv(120, 2).replace('churned', 'label'),
    );
    await handler(sqsBatch(second), lambdaContext);
    const versions = await ctx.registry.listVersions('renewals');
    expect(versions.map((v) => v.version)).toEqual([1, 2]);
    expect(new Set(versions.map((v) => v.trainingJobName)).size).toBe(2);
  });

  it('starts a folder dataset only on its _SUCCESS marker', async () => {
    const body = churnCsv(300).replace('churned', 'label').split('\n');
    const header = body[0]!;
    const partA = await harness.upload(
      'datasets/upsell/2026-11-26/part-00000.csv',
      [header, ...body.slice(1, 150)].join('\n') + '\n',
    );
    await harness.upload(
      'datasets/upsell/2026-11-26/part-00001.csv',
      [header, ...body.slice(150)].join('\n'),
    );
    const partResult = await handler(sqsBatch(partA), lambdaContext);
    expect(partResult.batchItemFailures).toEqual([]);
    expect(await ctx.registry.listVersions('upsell')).toHaveLength(0);

    const marker = await harness.upload('datasets/upsell/2026-11-26/_SUCCESS', '');
    await handler(sqsBatch(marker), lambdaContext);
    const versions = await ctx.registry.listVersions('upsell');
    expect(versions).toHaveLength(1);
    const dataset = await ctx.registry.getDataset('upsell', versions[0]!.datasetId);
    expect(dataset).toMatchObject({ sourceUri: 's3://mlops-data-123/datasets/upsell/2026-11-26/' });
    expect(dataset!.profile!.rows).toBe(300);
  });

  describe('rejections: recorded with a reason, raw data kept, no training job, no retry', () => {
    const cases: [string, string, string, string | undefined, RegExp][] = [
      [
        'a dataset without its label column',
        'datasets/nolabel/data.csv',
        'a,b,c\n1,2,3\n4,5,6\n',
        undefined,
        /no label column "label".*columns found: a, b, c/,
      ],
      ['an empty file', 'datasets/empty/data.csv', '', undefined, /the file is empty/],
      [
        'a header with no rows',
        'datasets/headeronly/data.csv',
        'x,label\n',
        undefined,
        /header but no data rows/,
      ],
      [
        'text in a numeric feature',
        'datasets/textual/data.csv',
        'plan,label\n1,0\ngold,1\n',
        undefined,
        /line 3: column "plan" holds text \("gold"\)/,
      ],
      [
        'a ragged row',
        'datasets/ragged/data.csv',
        'x,y,label\n1,2,0\n1,2\n',
        undefined,
        /line 3 has 2 fields; the header has 3/,
      ],
      [
        'an unsupported format',
        'datasets/parquety/data.parquet',
        'PAR1',
        undefined,
        /"\.parquet" files are not supported/,
      ],
      [
        'an invalid config',
        'datasets/badconfig/data.csv',
        churnCsv(50),
        '{"labelColumn": "churned", "training": {"instanceType": "m5.large"}, "colour": "blue"}',
        /config\.json is invalid: training\.instanceType: must look like ml\.m5\.large; \(root\): Unrecognized key: "colour"/,
      ],
    ];
    it.each(cases)('%s', async (_what, key, body, config, reason) => {
      const model = key.split('/')[1]!;
      if (config) await harness.upload(`models/${model}/config.json`, config);
      const event = await harness.upload(key, body);
      const result = await handler(sqsBatch(event, event), lambdaContext);
      expect(result.batchItemFailures).toEqual([]);
      expect(harness.aws.sagemaker).not.toHaveReceivedCommand(CreateTrainingJobCommand);
      expect(await ctx.registry.listVersions(model)).toHaveLength(0);

      const audit = await ctx.registry.listAudit(model);
      const rejected = audit.filter((a) => a.type === 'DATASET_REJECTED');
      expect(rejected).toHaveLength(1); // twice delivered, recorded once
      expect(rejected[0]!.reason).toMatch(reason);
      // The raw object is still there.
      await expect(readText(key)).resolves.toBe(body);
      // One notification, not two.
      expect(harness.aws.sns).toHaveReceivedCommandTimes(PublishCommand, 1);
    });

    it('an invalid model name, recorded under the name as written', async () => {
      const event = await harness.upload('datasets/Churn_Model/data.csv', churnCsv(20));
      const result = await handler(sqsBatch(event), lambdaContext);
      expect(result.batchItemFailures).toEqual([]);
      expect(harness.aws.sagemaker).not.toHaveReceivedCommand(CreateTrainingJobCommand);
      const audit = await ctx.registry.listAudit('Churn_Model');
      expect(audit).toHaveLength(1);
      expect(audit[0]!.reason).toMatch(
        /datasets\/Churn_Model\/data\.csv: the model name "Churn_Model" must use only lowercase letters, digits and single hyphens/,
      );
    });

    it('records a config error against the model too', async () => {
      const model = await ctx.registry.getModel('badconfig');
      expect(model?.lastRejection).toMatchObject({
        code: 'INVALID_CONFIG',
        source: 'models/badconfig/config.json',
      });
    });
  });

  it('uses the model config: label column, problem type, hyperparameters, spot', async () => {
    await harness.upload(
      'models/prices/config.json',
      JSON.stringify({
        labelColumn: 'price',
        problemType: 'regression',
        hyperparameters: { max_depth: 4, num_round: 50 },
        training: { instanceType: 'ml.m5.xlarge', spot: true, maxRuntimeSeconds: 1800, maxWaitSeconds: 3600 },
      }),
    );
    const event = await harness.upload(
      'datasets/prices/houses.csv',
      'rooms,area,price\n' +
        Array.from({ length: 60 }, (_, i) => `${i % 5},${50 + i},${100 + i * 3.5}`).join('\n'),
    );
    await handler(sqsBatch(event), lambdaContext);
    expect(harness.aws.sagemaker).toHaveReceivedCommandWith(CreateTrainingJobCommand, {
      HyperParameters: {
        objective: 'reg:squarederror',
        eval_metric: 'rmse',
        num_round: '50',
        max_depth: '4',
      },
      ResourceConfig: { InstanceType: 'ml.m5.xlarge', InstanceCount: 1, VolumeSizeInGB: 10 },
      StoppingCondition: { MaxRuntimeInSeconds: 1800, MaxWaitTimeInSeconds: 3600 },
      EnableManagedSpotTraining: true,
    });
    const [version] = await ctx.registry.listVersions('prices');
    expect(version).toMatchObject({ objectiveMetric: 'validation:rmse', status: 'TRAINING' });
  });

  it('retries a transient SageMaker fault through the batch, then starts the job once', async () => {
    harness.aws.createTrainingJobFaults.push(
      new SageMakerServiceException({
        name: 'ThrottlingException',
        $fault: 'client',
        message: 'Rate exceeded',
        $metadata: {},
      }),
    );
    const event = await harness.upload('datasets/retry/data.csv', churnCsv(100).replace('churned', 'label'));
    const batch = sqsBatch(event);
    const first = await handler(batch, lambdaContext);
    expect(first.batchItemFailures).toEqual([{ itemIdentifier: batch.Records[0]!.messageId }]);
    // The version exists (TRAINING) but no job yet; SQS redelivers the message.
    expect(harness.aws.jobs.size).toBe(0);
    const second = await handler(batch, lambdaContext);
    expect(second.batchItemFailures).toEqual([]);
    expect(harness.aws.jobs.size).toBe(1);
    expect(await ctx.registry.listVersions('retry')).toHaveLength(1);
  });

  it('drops a malformed message without failing the batch', async () => {
    const good = await harness.upload('datasets/mixed/data.csv', churnCsv(80).replace('churned', 'label'));
    const batch = sqsBatch(
      'not json',
      { source: 'aws.s3', 'detail-type': 'Object Created', detail: { bucket: {} } },
      good,
    );
    const result = await handler(batch, lambdaContext);
    expect(result.batchItemFailures).toEqual([]);
    expect(harness.aws.jobs.size).toBe(1);
  });

  it('retries a SyntaxError thrown by the SDK (an unparsable service response): only the body can be malformed', async () => {
    const event = await harness.upload('datasets/garbled/data.csv', churnCsv(80).replace('churned', 'label'));
    // The SDK throws a SyntaxError when a response body cannot be parsed: a transient fault.
    const garbled = new SyntaxError('Unexpected token < in JSON at position 0');
    const original = ctx.objects.read.bind(ctx.objects);
    let thrown = false;
    const objects = ctx.objects as { read: typeof ctx.objects.read };
    objects.read = async (...args) => {
      if (!thrown && args[1] === 'datasets/garbled/data.csv') {
        thrown = true;
        throw garbled;
      }
      return original(...args);
    };
    try {
      const batch = sqsBatch(event);
      const first = await handler(batch, lambdaContext);
      expect(thrown).toBe(true);
      expect(first.batchItemFailures).toEqual([{ itemIdentifier: batch.Records[0]!.messageId }]);
      const second = await handler(batch, lambdaContext);
      expect(second.batchItemFailures).toEqual([]);
      expect(await ctx.registry.listVersions('garbled')).toHaveLength(1);
    } finally {
      objects.read = original;
    }
  });

  it('marks the version FAILED when SageMaker refuses the request itself', async () => {
    harness.aws.createTrainingJobFaults.push(
      new SageMakerServiceException({
        name: 'ValidationException',
        $fault: 'client',
        message: 'Instance type ml.m5.large is not supported for spot',
        $metadata: {},
      }),
    );
    const event = await harness.upload('datasets/refused/data.csv', churnCsv(80).replace('churned', 'label'));
    const result = await handler(sqsBatch(event), lambdaContext);
    expect(result.batchItemFailures).toEqual([]);
    const [version] = await ctx.registry.listVersions('refused');
    expect(version).toMatchObject({ status: 'FAILED' });
    expect(version!.failureReason).toMatch(/SageMaker refused the training job .*not supported for spot/);
  });
});
