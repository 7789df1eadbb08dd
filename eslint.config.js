// @ts-check
import eslint from '@eslint/js';
import tseslint from 'typescript-eslint';

/**
 * A relative import into one of these top-level folders, from anywhere below the repository root.
 * @param {readonly string[]} folders
 */
const into = (folders) => `^(\\.\\./)+(${folders.join('|')})(/|$)`;

/** Modules that reach the machine: files, threads, processes, loaders. */
const MACHINE_MODULES = [
  'fs',
  'fs/promises',
  'worker_threads',
  'child_process',
  'cluster',
  'net',
  'http',
  'https',
  'dgram',
];

/**
 * One direction of imports, visible in the folders (README, "Code layout"):
 * `bin/` → `cli/` → `local/` → `lambdas/` and `adapters/` → `core/`, and `lib/` (the CDK app) beside.
 * Each entry bans, for the files it names, imports that would run against that direction.
 * Exported for test/lint/layers.test.ts, which proves that each rule fires.
 * @type {import('typescript-eslint').ConfigArray}
 */
export const layerRules = [
  {
    // The core is the MLOps domain: pure, it must not know which cloud or machine it runs on.
    files: ['core/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['@aws-sdk/*', 'aws-cdk-lib', 'aws-cdk-lib/*', 'constructs', 'tsx', 'tsx/*'],
              message: 'core imports no AWS SDK, CDK or loader: put it in an adapter',
            },
            {
              group: MACHINE_MODULES.flatMap((m) => [m, `node:${m}`]),
              message: 'core uses no files, threads, processes or sockets: put it in an adapter',
            },
            {
              regex: into(['adapters', 'lambdas', 'lib', 'local', 'cli', 'bin', 'test', 'bench']),
              message: 'core imports only core',
            },
          ],
        },
      ],
      'no-restricted-syntax': [
        'error',
        {
          // esquery's regular expressions end at the first slash: write it as \x2F.
          selector: `ImportExpression[source.value=/^(node:)?(${MACHINE_MODULES.join('|').replaceAll('/', '\\x2F')})$|^tsx/]`,
          message: 'core loads no files, threads, processes or loaders: put it in an adapter',
        },
        {
          selector: "MemberExpression[object.type='MetaProperty'][property.name='resolve']",
          message: 'core resolves no modules at run time: put it in an adapter',
        },
      ],
    },
  },
  {
    // Adapters implement the core's ports for AWS and this machine; they know nothing of who runs them.
    files: ['adapters/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: into(['lambdas', 'lib', 'local', 'cli', 'bin', 'test', 'bench']),
              message: 'adapters import only core and other adapters',
            },
          ],
        },
      ],
    },
  },
  {
    // Handlers wire the core to AWS; the local cloud runs them, never the other way round.
    files: ['lambdas/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: into(['lib', 'local', 'cli', 'bin', 'test', 'bench']),
              message: 'handlers import only core, adapters and lambdas/shared',
            },
          ],
        },
      ],
    },
  },
  {
    // The CDK app names the handlers' entry files but runs none of the local cloud or the CLI.
    files: ['lib/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: into(['local', 'cli', 'bin', 'test', 'bench']),
              message: 'lib imports no local cloud or CLI',
            },
          ],
        },
      ],
    },
  },
  {
    // The local cloud serves the CLI; the CLI is the outer layer.
    files: ['local/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            { regex: into(['cli', 'bin', 'test', 'bench']), message: 'the local cloud imports no CLI' },
          ],
        },
      ],
    },
  },
  {
    files: ['cli/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        { patterns: [{ regex: into(['bin', 'test', 'bench']), message: 'the CLI imports no entry point' }] },
      ],
    },
  },
];

export default tseslint.config(
  { ignores: ['node_modules/', 'cdk.out/', '.test-out/', 'coverage/'] },
  eslint.configs.recommended,
  // Type-checked: floating promises, unsafe `any`, awaits of non-promises and the like are errors.
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
    },
  },
  {
    // Plain JavaScript launchers run on Node, outside the TypeScript project.
    files: ['**/*.mjs', '**/*.js'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: { globals: { process: 'readonly', console: 'readonly', URL: 'readonly' } },
  },
  ...layerRules,
);
