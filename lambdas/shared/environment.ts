/**
 * The environment every handler reads, once, at cold start. Where this stands: handler plumbing;
 * the CDK constructs set exactly these variables (see lib/), the local cloud sets them too.
 */
import { z } from 'zod';

/** Names of the environment variables the stack sets on the functions. */
export const ENV = {
  dataBucket: 'DATA_BUCKET',
  registryTable: 'REGISTRY_TABLE',
  resourcePrefix: 'RESOURCE_PREFIX',
  sageMakerRoleArn: 'SAGEMAKER_ROLE_ARN',
  notificationTopicArn: 'NOTIFICATION_TOPIC_ARN',
  /** JSON object merged under every model's config (the stack's `defaultModelConfig` context). */
  defaultModelConfig: 'DEFAULT_MODEL_CONFIG',
} as const;

const schema = z.object({
  [ENV.dataBucket]: z.string().min(3),
  [ENV.registryTable]: z.string().min(3),
  [ENV.resourcePrefix]: z.string().min(1).default('mlops'),
  [ENV.sageMakerRoleArn]: z.string().startsWith('arn:'),
  [ENV.notificationTopicArn]: z.string().startsWith('arn:').optional(),
  [ENV.defaultModelConfig]: z.string().optional(),
  AWS_REGION: z.string().min(1).default('us-east-1'),
});

/** The validated settings of a handler. */
export interface HandlerSettings {
  readonly dataBucket: string;
  readonly registryTable: string;
  readonly resourcePrefix: string;
  readonly sageMakerRoleArn: string;
  readonly notificationTopicArn?: string;
  readonly defaultModelConfig?: string;
  readonly region: string;
}

/** Reads and validates the environment; a missing variable names itself in the error. */
export function readSettings(env: NodeJS.ProcessEnv = process.env): HandlerSettings {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues
      .map((issue) => `${issue.path.join('.')}: ${issue.message}`)
      .join('; ');
    throw new Error(`invalid handler environment: ${problems}`);
  }
  const e = parsed.data;
  return {
    dataBucket: e[ENV.dataBucket],
    registryTable: e[ENV.registryTable],
    resourcePrefix: e[ENV.resourcePrefix],
    sageMakerRoleArn: e[ENV.sageMakerRoleArn],
    ...(e[ENV.notificationTopicArn] ? { notificationTopicArn: e[ENV.notificationTopicArn] } : {}),
    ...(e[ENV.defaultModelConfig] ? { defaultModelConfig: e[ENV.defaultModelConfig] } : {}),
    region: e.AWS_REGION,
  };
}
