/**
 * Built-in algorithms: the SageMaker XGBoost image for a region and the hyperparameters a model
 * config implies for it. Where this stands: core domain (pure, no SDK); the training use case
 * calls it before it asks the training service for a job.
 */
import { RejectionError } from './errors';
import { PROBLEM_DEFAULTS, resolveGate, type ModelConfig } from './model-config';

/** The built-in XGBoost framework versions the model config accepts. */
export type XgboostVersion = '1.7-1' | '1.5-1' | '1.3-1';

const XGBOOST_VERSIONS: readonly XgboostVersion[] = ['1.7-1', '1.5-1', '1.3-1'];

/**
 * The AWS account that publishes the `sagemaker-xgboost` repository in each region. Copied from
 * the SageMaker Python SDK, `src/sagemaker/image_uri_config/xgboost.json` (aws/sagemaker-python-sdk
 * at 02ed3cbfd8f1c519f8a829b545bb78a47a538546), scope `training`: versions 1.3-1, 1.5-1 and 1.7-1
 * list the same accounts (and the `inference` scope the same ones again), so one table serves all.
 */
const XGBOOST_ACCOUNTS: Readonly<Record<string, string>> = {
  'af-south-1': '510948584623',
  'ap-east-1': '651117190479',
  'ap-northeast-1': '354813040037',
  'ap-northeast-2': '366743142698',
  'ap-northeast-3': '867004704886',
  'ap-south-1': '720646828776',
  'ap-south-2': '628508329040',
  'ap-southeast-1': '121021644041',
  'ap-southeast-2': '783357654285',
  'ap-southeast-3': '951798379941',
  'ap-southeast-4': '106583098589',
  'ca-central-1': '341280168497',
  'ca-west-1': '190319476487',
  'cn-north-1': '450853457545',
  'cn-northwest-1': '451049120500',
  'eu-central-1': '492215442770',
  'eu-central-2': '680994064768',
  'eu-north-1': '662702820516',
  'eu-south-1': '978288397137',
  'eu-south-2': '104374241257',
  'eu-west-1': '141502667606',
  'eu-west-2': '764974769150',
  'eu-west-3': '659782779980',
  'il-central-1': '898809789911',
  'me-central-1': '272398656194',
  'me-south-1': '801668240914',
  'sa-east-1': '737474898029',
  'us-east-1': '683313688378',
  'us-east-2': '257758044811',
  'us-gov-east-1': '237065988967',
  'us-gov-west-1': '414596584902',
  'us-iso-east-1': '833128469047',
  'us-isob-east-1': '281123927165',
  'us-isof-east-1': '108575199400',
  'us-isof-south-1': '124985052026',
  'us-west-1': '746614075791',
  'us-west-2': '246618743249',
};

/** Every region with a built-in XGBoost image, sorted. */
export const XGBOOST_REGIONS: readonly string[] = Object.keys(XGBOOST_ACCOUNTS).sort();

/**
 * The DNS suffix of ECR in a region's partition. China regions use `amazonaws.com.cn`; the isolated
 * partitions have their own: `ALTERNATE_DOMAINS` in the SageMaker Python SDK's image URI tests
 * (cn, us-iso, us-isob) and aws/efs-utils' `SPECIAL_REGION_DNS_DICT` (us-isof: csp.hci.ic.gov).
 */
function ecrDomain(region: string): string {
  if (region.startsWith('cn-')) return 'amazonaws.com.cn';
  if (region.startsWith('us-isob-')) return 'sc2s.sgov.gov';
  if (region.startsWith('us-isof-')) return 'csp.hci.ic.gov';
  if (region.startsWith('us-iso-')) return 'c2s.ic.gov';
  return 'amazonaws.com';
}

/**
 * The built-in SageMaker XGBoost image, e.g.
 * `683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1`.
 * Throws when the region has no published image or the version is not one we support.
 */
export function xgboostImageUri(region: string, version: XgboostVersion): string {
  const account = Object.hasOwn(XGBOOST_ACCOUNTS, region) ? XGBOOST_ACCOUNTS[region] : undefined;
  if (account === undefined) {
    throw new Error(
      `the built-in SageMaker XGBoost image is not available in region "${region}"; known regions: ${XGBOOST_REGIONS.join(', ')}`,
    );
  }
  if (!XGBOOST_VERSIONS.includes(version)) {
    throw new Error(
      `unsupported built-in XGBoost version "${String(version)}"; supported: ${XGBOOST_VERSIONS.join(', ')}`,
    );
  }
  return `${account}.dkr.ecr.${region}.${ecrDomain(region)}/sagemaker-xgboost:${version}`;
}

/** Rounds built-in XGBoost trains for when the config does not say (the algorithm requires `num_round`). */
const DEFAULT_NUM_ROUND = 100;

/**
 * The hyperparameters of a built-in XGBoost job: the objective of the problem type, the gate's
 * metric as `eval_metric` (so that SageMaker reports `validation:<metric>`, the value gate 2 reads),
 * `num_round`, then the user's hyperparameters on top. Every value is a string, as
 * CreateTrainingJob requires. A multiclass problem needs `num_class`: without it XGBoost fails
 * minutes into a paid job, so it is refused here with a {@link RejectionError}.
 */
export function builtInXgboostHyperparameters(config: ModelConfig): Record<string, string> {
  const gateMetric = resolveGate(config).metric;
  // Built-in XGBoost metric names are `<channel>:<metric>`; eval_metric takes the bare metric.
  const evalMetric = gateMetric.includes(':') ? gateMetric.slice(gateMetric.indexOf(':') + 1) : gateMetric;
  const user = Object.fromEntries(
    Object.entries(config.hyperparameters).map(([key, value]) => [key, String(value)]),
  );
  const hyperparameters: Record<string, string> = {
    objective: PROBLEM_DEFAULTS[config.problemType].objective,
    eval_metric: evalMetric,
    num_round: String(DEFAULT_NUM_ROUND),
    ...user,
  };
  if (config.problemType === 'multiclass_classification') {
    const numClass = hyperparameters.num_class;
    if (numClass === undefined || !/^\d+$/.test(numClass.trim()) || Number(numClass) < 2) {
      throw new RejectionError(
        'INVALID_CONFIG',
        `hyperparameters.num_class: a multiclass_classification model needs "num_class" (the number of classes, an integer >= 2) in its hyperparameters${numClass === undefined ? '' : `; got "${numClass}"`}`,
      );
    }
  }
  return hyperparameters;
}
