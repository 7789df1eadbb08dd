/**
 * Picks the target a command line names: `--stack <name>` a deployed stack, else the local cloud
 * running in `--dir`. Where this stands: CLI target; the targets' modules are loaded on use, so
 * `--help` and usage errors load neither the SDK clients nor the local cloud.
 */
import type { Target, TargetOptions, TargetResolver } from './target';

/** The resolver the commands use outside tests. */
export const resolveTarget: TargetResolver = async (options: TargetOptions): Promise<Target> => {
  if (options.stack !== undefined) {
    const { awsTarget } = await import('./aws-target');
    return awsTarget({ stack: options.stack, ...(options.region ? { region: options.region } : {}) });
  }
  const { localTarget } = await import('./local-target');
  return localTarget(options.dir);
};

/** Runs `work` on the resolved target and releases its clients after. */
export async function withTarget<T>(
  resolver: TargetResolver,
  options: TargetOptions,
  work: (target: Target) => Promise<T>,
): Promise<T> {
  const target = await resolver(options);
  try {
    return await work(target);
  } finally {
    target.close();
  }
}
