/**
 * What every onboarding test needs: the product worker run with the payload codec (and a workflow bundle
 * that carries the encoding failure converter), and clients that speak the same codec. The time-skipping
 * client variant unlocks the test server's clock while it waits for a result, like env.client does.
 */
import { randomBytes } from 'node:crypto';
import { Client } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { TimeSkippingWorkflowClient } from '@temporalio/testing';
import { bundleWorkflowCode, Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { register } from 'tsx/cjs/api';
import { createActivities, type ActivityDeps } from '../../src/activities';
import { keyringOf, type CodecKeyring } from '../../src/shared/codec-keys';
import { codecDataConverter, FAILURE_CONVERTER_PATH } from '../../src/shared/data-converter';
import { createWorker, WORKFLOWS_PATH } from '../../src/worker/create-worker';
import type { PollOptions } from '../helpers/poll';

// Temporal loads converters by path with Node's own require, which cannot read TypeScript; outside tests
// tsx (npm run wa-campaigns) or the build provide that, here its require hook does.
register();

/** A keyring with one fresh key. */
export function testKeyring(id = 'k1'): CodecKeyring {
  return keyringOf([{ id, key: randomBytes(32) }]);
}

let bundle: Promise<WorkflowBundleWithSourceMap> | undefined;

/**
 * The product's workflows bundled once per test process with the failure converter the production
 * worker bundles too (test/helpers/product-worker.ts bundles without it).
 */
export function codecWorkflowBundle(): Promise<WorkflowBundleWithSourceMap> {
  bundle ??= bundleWorkflowCode({
    workflowsPath: WORKFLOWS_PATH,
    failureConverterPath: FAILURE_CONVERTER_PATH,
    logger: {
      log() {},
      trace() {},
      debug() {},
      info() {},
      warn() {},
      error: (m: string) => console.error(m),
    },
  });
  return bundle;
}

/**
 * Runs the product's worker with the codec until the returned function is called (a "crash" when called
 * mid-way). `uncached` keeps no workflow in memory between tasks: the time-skipping server never hands a
 * stopped worker's sticky tasks to its successor, so tests that restart workers must not use sticky
 * queues; as a bonus every task replays the whole history, which exercises determinism.
 */
export async function startCodecWorker(
  env: TestWorkflowEnvironment,
  options: { taskQueue: string; deps: ActivityDeps; keyring: CodecKeyring; uncached?: boolean },
): Promise<() => Promise<void>> {
  const common = {
    connection: env.nativeConnection,
    namespace: env.namespace ?? 'default',
    taskQueue: options.taskQueue,
    workflowBundle: await codecWorkflowBundle(),
    dataConverter: codecDataConverter(options.keyring),
  };
  const worker = options.uncached
    ? await Worker.create({
        ...common,
        activities: createActivities(options.deps),
        maxCachedWorkflows: 0,
        shutdownGraceTime: 1_000,
      })
    : await createWorker({ ...common, deps: options.deps, handleSignals: false, shutdownGraceTimeMs: 1_000 });
  const running = worker.run();
  return async () => {
    worker.shutdown();
    await running;
  };
}

/** A client with the codec (or none: `keyring` undefined) on the environment's connection. */
export function codecClient(env: TestWorkflowEnvironment, keyring: CodecKeyring | undefined): Client {
  const dataConverter = codecDataConverter(keyring);
  return new Client({
    connection: env.connection,
    namespace: env.namespace ?? 'default',
    ...(dataConverter ? { dataConverter } : {}),
  });
}

/** The same, whose result() lets the time-skipping server skip ahead while it waits. */
export function timeSkippingCodecClient(
  env: TestWorkflowEnvironment,
  keyring: CodecKeyring,
): Pick<Client, 'workflow'> {
  const dataConverter = codecDataConverter(keyring);
  return {
    workflow: new TimeSkippingWorkflowClient({
      connection: env.connection,
      namespace: env.namespace ?? 'default',
      ...(dataConverter ? { dataConverter } : {}),
    }),
  };
}

/** How the onboarding tests poll a workflow's status in real time. */
export const ONBOARDING_POLL: PollOptions = { timeoutMs: 20_000, everyMs: 50 };
