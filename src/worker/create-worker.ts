import { existsSync } from 'node:fs';
import path from 'node:path';
import type { NativeConnection, Worker as WorkerType, WorkerOptions } from '@temporalio/worker';
import { Worker } from '@temporalio/worker';
import { createActivities, type ActivityDeps } from '../activities';
import { activityErrorsWithoutQueryData } from './interceptors';

export interface CreateWorkerOptions {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  deps: ActivityDeps;
  /** A pre-built bundle (tests, benchmarks); otherwise the workflows are bundled from source. */
  workflowBundle?: WorkerOptions['workflowBundle'];
  shutdownGraceTimeMs?: number;
  /** Handle SIGINT/SIGTERM itself (services), or leave signals to the caller (demo, tests). */
  handleSignals?: boolean;
  /**
   * Payload codec and failure converter path (src/shared/data-converter.ts). A pre-built bundle must have
   * been bundled with the same failureConverterPath for workflow failures to be encoded.
   */
  dataConverter?: WorkerOptions['dataConverter'];
}

/** Entry file of the workflow bundle: the TypeScript source when running from source, else the build. */
export const WORKFLOWS_PATH =
  [path.join(__dirname, '../workflows/index.ts'), path.join(__dirname, '../workflows/index.js')].find(
    (file) => existsSync(file),
  ) ?? path.join(__dirname, '../workflows');

/** Builds the one worker that runs every workflow and activity of the product. */
export async function createWorker(options: CreateWorkerOptions): Promise<WorkerType> {
  return Worker.create({
    connection: options.connection,
    namespace: options.namespace,
    taskQueue: options.taskQueue,
    ...(options.workflowBundle
      ? { workflowBundle: options.workflowBundle }
      : { workflowsPath: WORKFLOWS_PATH }),
    activities: createActivities(options.deps),
    interceptors: { activity: [activityErrorsWithoutQueryData] },
    ...(options.dataConverter ? { dataConverter: options.dataConverter } : {}),
    // Cancellation reaches a running send activity through its heartbeat: keep that path short so a
    // pause or a quality brake stops sending within a second.
    maxHeartbeatThrottleInterval: '500 milliseconds',
    shutdownGraceTime: options.shutdownGraceTimeMs ?? 30_000,
    ...(options.handleSignals === false ? { shutdownSignals: [] } : {}),
  });
}
