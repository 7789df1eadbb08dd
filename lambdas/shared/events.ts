/**
 * Schemas of the EventBridge events the handlers receive, validated with Zod. Where this stands:
 * handler plumbing; each handler parses its event here and passes plain values to a use case.
 *
 * Shapes from AWS's documentation: S3 "Object Created" (S3 User Guide, "EventBridge event message
 * structure"), SageMaker training job / endpoint state changes (SageMaker Developer Guide,
 * "Automating SageMaker with EventBridge"), CloudWatch "Alarm State Change" (CloudWatch User Guide,
 * "Alarm events and EventBridge"). Only the fields we use are required; the rest pass through.
 */
import { z } from 'zod';

const envelope = <D extends z.ZodType>(source: string, detailType: string, detail: D) =>
  z.object({
    id: z.string().optional(),
    source: z.literal(source),
    'detail-type': z.literal(detailType),
    time: z.string().optional(),
    detail,
  });

/** S3 "Object Created" via EventBridge. */
export const s3ObjectCreatedEvent = envelope(
  'aws.s3',
  'Object Created',
  z.object({
    bucket: z.object({ name: z.string().min(1) }),
    object: z.object({
      key: z.string().min(1),
      size: z.number().nonnegative().optional(),
      etag: z.string().optional(),
      'version-id': z.string().optional(),
      sequencer: z.string().optional(),
    }),
    reason: z.string().optional(),
  }),
);

/** "SageMaker Training Job State Change": the job name is all we need; DescribeTrainingJob is the truth. */
export const trainingJobStateChangeEvent = envelope(
  'aws.sagemaker',
  'SageMaker Training Job State Change',
  z.object({ TrainingJobName: z.string().min(1), TrainingJobStatus: z.string().optional() }),
);

/** "SageMaker Endpoint State Change": EndpointStatus is UPPER_SNAKE here (IN_SERVICE), unlike the API. */
export const endpointStateChangeEvent = envelope(
  'aws.sagemaker',
  'SageMaker Endpoint State Change',
  z.object({
    EndpointName: z.string().min(1),
    EndpointStatus: z.string().optional(),
    EndpointConfigName: z.string().optional(),
  }),
);

/** "CloudWatch Alarm State Change". */
export const alarmStateChangeEvent = envelope(
  'aws.cloudwatch',
  'CloudWatch Alarm State Change',
  z.object({
    alarmName: z.string().min(1),
    state: z.object({ value: z.string(), reason: z.string().optional(), timestamp: z.string().optional() }),
    previousState: z.object({ value: z.string() }).partial().optional(),
  }),
);

/** An event that does not have the shape we expect: retrying cannot fix it. */
export class InvalidEventError extends Error {
  override readonly name = 'InvalidEventError';
}

/** Parses with a schema; the error names every field that is wrong. */
export function parseEvent<S extends z.ZodType>(schema: S, event: unknown, what: string): z.infer<S> {
  const parsed = schema.safeParse(event);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
  throw new InvalidEventError(`not a valid ${what} event: ${problems}`);
}
