/**
 * AWS's own service models, as botocore ships them (`<service>/<api-version>/service-2.json`, or
 * `.json.gz` in newer releases). Where this stands: test infrastructure for the request-validity
 * contract (test/contracts/request-validity.test.ts). CI installs them with Debian's
 * `python3-botocore` (.ci/run); a missing model is an error with the fix in its message, never a
 * silent skip.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';

/** A reference from a structure member, list, or map to a shape, with its serialisation traits. */
export interface BotocoreShapeRef {
  readonly shape: string;
  readonly streaming?: boolean;
  readonly location?: string;
  readonly locationName?: string;
}

/** One shape of a botocore model (only the traits the validator reads). */
export interface BotocoreShape {
  readonly type:
    | 'structure'
    | 'list'
    | 'map'
    | 'string'
    | 'integer'
    | 'long'
    | 'float'
    | 'double'
    | 'boolean'
    | 'timestamp'
    | 'blob';
  readonly members?: Readonly<Record<string, BotocoreShapeRef>>;
  readonly required?: readonly string[];
  readonly member?: BotocoreShapeRef;
  readonly key?: BotocoreShapeRef;
  readonly value?: BotocoreShapeRef;
  readonly min?: number;
  readonly max?: number;
  readonly pattern?: string;
  readonly enum?: readonly string[];
  /** Exactly one member may be set (e.g. DynamoDB's AttributeValue in newer models). */
  readonly union?: boolean;
  readonly streaming?: boolean;
  readonly document?: boolean;
}

/** A botocore `service-2.json`. */
export interface BotocoreServiceModel {
  readonly metadata: {
    readonly apiVersion: string;
    readonly protocol: string;
    readonly endpointPrefix: string;
  };
  readonly operations: Readonly<
    Record<string, { readonly name: string; readonly input?: { readonly shape: string } }>
  >;
  readonly shapes: Readonly<Record<string, BotocoreShape>>;
}

/** botocore's folder names of the services this project calls. */
export const BOTOCORE_SERVICES = {
  sagemaker: 'sagemaker',
  cloudwatch: 'cloudwatch',
  dynamodb: 'dynamodb',
  s3: 's3',
  sns: 'sns',
  // The reconciler's re-delivery (adapters/aws/aws-event-redelivery.ts).
  sqs: 'sqs',
  lambda: 'lambda',
} as const;

/** The fix printed when the models cannot be found. */
export const MISSING_MODELS_HINT =
  "AWS's service models are missing: install Debian's python3-botocore " +
  '(`sudo apt-get install -y python3-botocore`, as .ci/run does) or point BOTOCORE_DATA_DIR at ' +
  "botocore's data folder (the one holding sagemaker/2017-07-24/service-2.json).";

/**
 * botocore's `data` folder: `$BOTOCORE_DATA_DIR`, else where the system Python imports botocore
 * from, else Debian's install path. Throws with {@link MISSING_MODELS_HINT} when none exists.
 */
export function botocoreDataDir(): string {
  const candidates: string[] = [];
  if (process.env.BOTOCORE_DATA_DIR) candidates.push(process.env.BOTOCORE_DATA_DIR);
  for (const python of ['/usr/bin/python3', 'python3']) {
    try {
      const dir = execFileSync(
        python,
        ['-c', 'import botocore,os;print(os.path.dirname(botocore.__file__))'],
        {
          encoding: 'utf8',
          stdio: ['ignore', 'pipe', 'ignore'],
          timeout: 20_000,
        },
      ).trim();
      if (dir) candidates.push(join(dir, 'data'));
      break;
    } catch {
      // No such interpreter, or no botocore for it: try the next candidate.
    }
  }
  candidates.push('/usr/lib/python3/dist-packages/botocore/data');
  const found = candidates.find((dir) => existsSync(join(dir, 'sagemaker')));
  if (!found) throw new Error(`${MISSING_MODELS_HINT} Looked in: ${candidates.join(', ')}`);
  return found;
}

const cache = new Map<string, BotocoreServiceModel & { readonly file: string }>();

/**
 * The newest API version's model of a service (botocore keeps older versions side by side, e.g.
 * DynamoDB 2011-12-05 and 2012-08-10). Throws with {@link MISSING_MODELS_HINT} when missing.
 */
export function loadServiceModel(
  service: string,
  dataDir = botocoreDataDir(),
): BotocoreServiceModel & { readonly file: string } {
  const key = `${dataDir}:${service}`;
  const cached = cache.get(key);
  if (cached) return cached;
  const serviceDir = join(dataDir, service);
  if (!existsSync(serviceDir))
    throw new Error(`no botocore model for ${service} in ${dataDir}. ${MISSING_MODELS_HINT}`);
  const versions = readdirSync(serviceDir)
    .filter((name) => /^\d{4}-\d{2}-\d{2}$/.test(name))
    .sort();
  const version = versions.at(-1);
  if (!version) throw new Error(`no API version folder under ${serviceDir}. ${MISSING_MODELS_HINT}`);
  const plain = join(serviceDir, version, 'service-2.json');
  const gzipped = `${plain}.gz`;
  let text: string;
  let file: string;
  if (existsSync(plain)) {
    text = readFileSync(plain, 'utf8');
    file = plain;
  } else if (existsSync(gzipped)) {
    text = gunzipSync(readFileSync(gzipped)).toString('utf8');
    file = gzipped;
  } else {
    throw new Error(`no service-2.json(.gz) in ${join(serviceDir, version)}. ${MISSING_MODELS_HINT}`);
  }
  const model = { ...(JSON.parse(text) as BotocoreServiceModel), file };
  cache.set(key, model);
  return model;
}
