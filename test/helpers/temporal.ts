/**
 * The one place tests (and scripts/capture-history.ts) get Temporal from: servers provisioned by
 * tools/temporal-binaries.ts, workflow bundles built once per process, and workers that live exactly
 * as long as a callback. Deliberately free of static vitest imports so scripts run by tsx can use it too.
 *
 * Typical test file (one server per file, a fresh task queue per test):
 *
 *   let env: TestWorkflowEnvironment;
 *   beforeAll(async () => { env = await createTimeSkippingEnv(); });
 *   afterAll(async () => { await env?.teardown(); });
 *
 *   it('…', () => withWorker(env, { activities }, async ({ client, taskQueue }) => {
 *     const result = await client.workflow.execute(sleepDays, { taskQueue, workflowId: uniqueId('sleep'), args: [30] });
 *   }));
 */
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import {
  bundleWorkflowCode,
  DefaultLogger,
  Runtime,
  Worker,
  type LogEntry,
  type LogLevel,
  type WorkerOptions,
  type WorkflowBundle,
} from '@temporalio/worker';
import {
  ensureDevServer,
  ensureTestServer,
  explainServerStartFailure,
  type ProvisionedServer,
} from '../../tools/temporal-binaries';

/** Test-only workflows (test/workflows/index.ts). Product workflows will pass their own workflowsPath. */
export const TEST_WORKFLOWS_PATH = path.resolve(__dirname, '../workflows/index.ts');

/** One provisioned server, or why provisioning it failed (reported by the tests that need it). */
export type ServerProvision = { ok: true; server: ProvisionedServer } | { ok: false; error: string };

/** What test/setup/global-setup.ts provides: each server separately, so one failed build spares the other. */
export interface TemporalProvision {
  devServer: ServerProvision;
  testServer: ServerProvision;
}

declare module 'vitest' {
  export interface ProvidedContext {
    waTemporal: TemporalProvision;
  }
}

/**
 * The server to start. Inside vitest it comes from the global set-up, which built anything missing once
 * before any test file ran; elsewhere (scripts) provisioning runs here, which is instant when cached.
 */
export async function getProvisionedServer(kind: 'devServer' | 'testServer'): Promise<ProvisionedServer> {
  if (process.env.VITEST) {
    // Dynamic: vitest refuses to be require()d, and this module must also load under plain tsx.
    const { inject } = await import('vitest');
    const provided = inject('waTemporal')?.[kind];
    if (provided) {
      if (!provided.ok) throw new Error(provided.error);
      return provided.server;
    }
  }
  return kind === 'devServer' ? ensureDevServer() : ensureTestServer();
}

/**
 * ApplicationFailure type for failures a test provokes on purpose (e.g. an activity failing its first
 * attempts). The test runtime does not log them, so real warnings stand out.
 */
export const PLANNED_FAILURE_TYPE = 'PlannedFailure';

/** Harmless in tests, logged on every run otherwise. */
const EXPECTED_NOISE = [
  /^No activities registered, not polling for activity tasks/,
  // The Java test server does not advertise this capability; no test relies on heartbeat details.
  /did not advertise the activity_failure_include_heartbeat capability/,
];

/** Patterns a test expects right now (see {@link withExpectedLogs}). */
const expectedNow = new Set<RegExp>();

function isExpectedNoise(entry: LogEntry): boolean {
  if (EXPECTED_NOISE.some((re) => re.test(entry.message))) return true;
  const error = entry.meta?.error as { type?: unknown } | undefined;
  if (error?.type === PLANNED_FAILURE_TYPE) return true;
  if (expectedNow.size === 0) return false;
  // Core puts the interesting part (e.g. the nondeterminism message) into meta.failure, not the message.
  const failure = entry.meta?.failure;
  const text = `${entry.message}\n${typeof failure === 'string' ? failure : ''}`;
  return [...expectedNow].some((re) => re.test(text));
}

/**
 * Keeps log entries matching `patterns` out of the output while `fn` runs: for tests that provoke a
 * failure on purpose (e.g. replaying a tampered history), whose warnings would otherwise look like a problem.
 */
export async function withExpectedLogs<T>(patterns: RegExp[], fn: () => Promise<T>): Promise<T> {
  const added = patterns.filter((p) => !expectedNow.has(p));
  added.forEach((p) => expectedNow.add(p));
  try {
    return await fn();
  } finally {
    added.forEach((p) => expectedNow.delete(p));
  }
}

let runtimeReady = false;

/**
 * Installs a Temporal runtime that logs warnings and errors only (TEMPORAL_TEST_LOG_LEVEL overrides) and
 * forwards the native core's logs through the same filter, so test output is not buried in worker
 * start/stop lines and provoked failures. Must run before the first worker or native connection exists;
 * if the process already has a runtime, that one is kept.
 */
export function installQuietRuntime(): void {
  if (runtimeReady) return;
  runtimeReady = true;
  const level = (process.env.TEMPORAL_TEST_LOG_LEVEL ?? 'WARN') as LogLevel;
  const logger = new DefaultLogger(level, (entry) => {
    if (isExpectedNoise(entry)) return;
    const time = new Date(Number(entry.timestampNanos / 1_000_000n)).toISOString();
    console.error(`${time} [${entry.level}] ${entry.message}`, entry.meta ?? '');
  });
  try {
    Runtime.install({
      logger,
      telemetryOptions: { logging: { filter: { core: level, other: 'ERROR' }, forward: {} } },
    });
  } catch {
    // A runtime was created earlier (e.g. by the caller): keep it.
  }
}

/** Starts the time-skipping test server (one per test file is plenty; it is cheap, not free). */
export async function createTimeSkippingEnv(): Promise<TestWorkflowEnvironment> {
  installQuietRuntime();
  const testServer = await getProvisionedServer('testServer');
  try {
    return await TestWorkflowEnvironment.createTimeSkipping({
      server: { executable: testServer.executable },
    });
  } catch (err) {
    throw explainServerStartFailure(testServer, err);
  }
}

/** Starts a throw-away dev server (in-memory SQLite, no UI): a real Temporal server with real timers. */
export async function createDevServerEnv(
  options: {
    namespace?: string;
    /** More `temporal server start-dev` flags (e.g. dynamic config). */ extraArgs?: string[];
  } = {},
): Promise<TestWorkflowEnvironment> {
  installQuietRuntime();
  const devServer = await getProvisionedServer('devServer');
  try {
    return await TestWorkflowEnvironment.createLocal({
      server: {
        executable: devServer.executable,
        ui: false,
        ...(options.namespace ? { namespace: options.namespace } : {}),
        ...(options.extraArgs ? { extraArgs: options.extraArgs } : {}),
      },
    });
  } catch (err) {
    throw explainServerStartFailure(devServer, err);
  }
}

const bundles = new Map<string, Promise<WorkflowBundle>>();

/**
 * Bundles workflow code once per process and workflowsPath: webpack takes seconds, and every worker and
 * replay in a test file can share the result.
 */
export function getWorkflowBundle(workflowsPath: string = TEST_WORKFLOWS_PATH): Promise<WorkflowBundle> {
  const key = path.resolve(workflowsPath);
  let bundle = bundles.get(key);
  if (!bundle) {
    bundle = bundleWorkflowCode({ workflowsPath: key, logger: new DefaultLogger('WARN') });
    // A failed bundle must not be cached, or one syntax error would poison the rest of the run.
    bundle.catch(() => bundles.delete(key));
    bundles.set(key, bundle);
  }
  return bundle;
}

/** A readable id that cannot collide between tests, files or reruns against a long-lived server. */
export function uniqueId(prefix: string): string {
  return `${prefix}-${randomUUID().slice(0, 8)}`;
}

export interface WithWorkerOptions {
  /** Defaults to the test-only workflows. */
  workflowsPath?: string;
  activities?: object;
  /** Defaults to a fresh queue, so workers of different tests never steal each other's tasks. */
  taskQueue?: string;
  /** Anything else for Worker.create (e.g. maxCachedWorkflows, interceptors). */
  workerOptions?: Partial<
    Omit<WorkerOptions, 'connection' | 'namespace' | 'taskQueue' | 'workflowBundle' | 'activities'>
  >;
}

export interface WorkerContext {
  client: Client;
  taskQueue: string;
  worker: Worker;
}

/**
 * Runs a worker on `env` for the duration of `fn` and resolves only after the worker has shut down
 * (worker.runUntil), so no worker outlives its test or keeps polling a server that is being torn down.
 */
export async function withWorker<T>(
  env: TestWorkflowEnvironment,
  options: WithWorkerOptions,
  fn: (ctx: WorkerContext) => Promise<T>,
): Promise<T> {
  const taskQueue = options.taskQueue ?? uniqueId('tq');
  const worker = await Worker.create({
    ...options.workerOptions,
    connection: env.nativeConnection,
    namespace: env.namespace ?? 'default',
    taskQueue,
    workflowBundle: await getWorkflowBundle(options.workflowsPath),
    ...(options.activities ? { activities: options.activities } : {}),
  });
  return worker.runUntil(() => fn({ client: env.client, taskQueue, worker }));
}
