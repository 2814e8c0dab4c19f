import { bundleWorkflowCode, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { ActivityDeps } from '../../src/activities';
import { WORKFLOWS_PATH, createWorker } from '../../src/worker/create-worker';

let bundle: Promise<WorkflowBundleWithSourceMap> | undefined;

/** The product's workflows bundled once per test process (bundling takes seconds). */
export function productWorkflowBundle(): Promise<WorkflowBundleWithSourceMap> {
  bundle ??= bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, logger: quietLogger });
  return bundle;
}

const quietLogger = {
  log: () => {},
  trace: () => {},
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: (message: string) => console.error(message),
};

/** Runs the product's worker (real workflows and activities) against a test environment until stopped. */
export async function runProductWorker(
  env: TestWorkflowEnvironment,
  options: { taskQueue: string; deps: ActivityDeps },
): Promise<() => Promise<void>> {
  const worker = await createWorker({
    connection: env.nativeConnection,
    namespace: env.namespace ?? 'default',
    taskQueue: options.taskQueue,
    deps: options.deps,
    workflowBundle: await productWorkflowBundle(),
    handleSignals: false,
    shutdownGraceTimeMs: 2_000,
  });
  const running = worker.run();
  return async () => {
    worker.shutdown();
    await running;
  };
}
