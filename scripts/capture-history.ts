/**
 * Records a workflow history as a replay fixture: test/fixtures/histories/<set>/<workflow-id>.json, which
 * test/replay/replay.test.ts then replays against the current workflow code on every test run.
 *
 * Run a workflow on a throw-away dev server and record it (the usual case):
 *
 *   npx tsx scripts/capture-history.ts --set test-workflows --workflow greetWithPause --args '["Ada", 100]'
 *
 *   --set <name>          fixture folder under test/fixtures/histories (required)
 *   --workflow <type>     workflow function exported by --workflows (required)
 *   --args <json array>   workflow arguments (default [])
 *   --id <workflow-id>    workflow id and file name (default: the workflow type in kebab-case)
 *   --workflows <path>    workflows module (default test/workflows/index.ts)
 *   --activities <path>[#export]
 *                         module whose export is an activities object, or a zero-argument factory returning
 *                         one or `{ activities }` (default test/workflows/activities.ts#createTestActivities;
 *                         without #export: `activities`, else the module itself)
 *   --driver <path>[#export]
 *                         instead of --activities, for workflows that need a person or a service to talk to
 *                         them: a module whose export (default `driver`) is a {@link CaptureDriver}, or a
 *                         zero-argument factory of one. It gives the activities and drives the started
 *                         workflow with signals and updates; the run it names is recorded
 *   --force               overwrite an existing fixture
 *
 * Or copy the history of a workflow that already ran on some server (e.g. a local compose stack):
 *
 *   npx tsx scripts/capture-history.ts --set campaign --from localhost:7233 --workflow-id cmp_123 \
 *     [--namespace default] [--run-id <id>] [--workflows src/workflows/index.ts]
 *
 * Either way the new fixture is replayed once against --workflows before it is written (skip with
 * --no-verify), so a fixture that could never pass is not committed. A new set also needs an entry in
 * HISTORY_SETS in test/replay/replay.test.ts saying which workflows it belongs to.
 */
import { existsSync } from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import type { History } from '@temporalio/common/lib/proto-utils';
import { Worker } from '@temporalio/worker';
import {
  createDevServerEnv,
  getWorkflowBundle,
  installQuietRuntime,
  TEST_WORKFLOWS_PATH,
  withWorker,
} from '../test/helpers/temporal';
import { historyToJson } from '../test/replay/history-json';

const HISTORIES_ROOT = path.resolve(__dirname, '../test/fixtures/histories');
const DEFAULT_ACTIVITIES = `${path.resolve(__dirname, '../test/workflows/activities.ts')}#createTestActivities`;

/** Plays the outside world for a workflow being recorded: its activities and whoever signals it. */
export interface CaptureDriver {
  activities: object;
  /** More dev-server flags, e.g. `--dynamic-config-value` to make the server suggest continue-as-new early. */
  devServerArgs?: string[];
  /** The workflow's arguments, when they must be made as it starts (a date relative to now); else --args. */
  args?: () => unknown[];
  /**
   * Talks to the started workflow until the history worth keeping is complete, and returns the id of the
   * run to record (a workflow that continues as new has several). A run still open afterwards is
   * terminated once recorded. Without `drive`, the workflow's result is awaited and its last run recorded.
   */
  drive?: (handle: WorkflowHandle, client: Client) => Promise<string>;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      set: { type: 'string' },
      workflow: { type: 'string' },
      args: { type: 'string', default: '[]' },
      id: { type: 'string' },
      workflows: { type: 'string' },
      activities: { type: 'string' },
      force: { type: 'boolean', default: false },
      from: { type: 'string' },
      'workflow-id': { type: 'string' },
      'run-id': { type: 'string' },
      namespace: { type: 'string', default: 'default' },
      'no-verify': { type: 'boolean', default: false },
      driver: { type: 'string' },
    },
  });
  if (!values.set || !/^[a-z0-9][a-z0-9-]*$/.test(values.set)) {
    throw new Error('--set <name> is required (lower-case letters, digits and dashes)');
  }
  const workflowsPath = path.resolve(values.workflows ?? TEST_WORKFLOWS_PATH);
  installQuietRuntime();

  let workflowId: string;
  let history: History;
  if (values.from) {
    if (!values['workflow-id']) throw new Error('--from needs --workflow-id');
    workflowId = values['workflow-id'];
    history = await fetchFromServer(values.from, values.namespace, workflowId, values['run-id']);
  } else {
    if (!values.workflow)
      throw new Error('--workflow <type> is required (or --from <address> to copy a history)');
    const args: unknown = JSON.parse(values.args);
    if (!Array.isArray(args)) throw new Error('--args must be a JSON array');
    workflowId = values.id ?? kebab(values.workflow);
    if (values.driver && values.activities) throw new Error('give --driver or --activities, not both');
    const driver: CaptureDriver = values.driver
      ? await loadDriver(values.driver)
      : { activities: await loadActivities(values.activities ?? DEFAULT_ACTIVITIES) };
    history = await runOnDevServer({
      workflowsPath,
      workflowType: values.workflow,
      args,
      workflowId,
      driver,
    });
  }

  const target = path.join(HISTORIES_ROOT, values.set, `${workflowId}.json`);
  if (existsSync(target) && !values.force) throw new Error(`${target} exists; pass --force to replace it`);
  if (!values['no-verify']) {
    // Replaying through the same path the tests use proves the fixture matches the code right now.
    await Worker.runReplayHistory(
      { workflowBundle: await getWorkflowBundle(workflowsPath) },
      history,
      workflowId,
    );
  }
  await fsp.mkdir(path.dirname(target), { recursive: true });
  // Indented so fixture diffs in review are readable.
  await fsp.writeFile(target, `${JSON.stringify(historyToJson(history), null, 2)}\n`);
  console.log(`wrote ${path.relative(process.cwd(), target)} (${history.events?.length ?? 0} events)`);
}

async function runOnDevServer(opts: {
  workflowsPath: string;
  workflowType: string;
  args: unknown[];
  workflowId: string;
  driver: CaptureDriver;
}): Promise<History> {
  const env = await createDevServerEnv(
    opts.driver.devServerArgs ? { extraArgs: opts.driver.devServerArgs } : {},
  );
  try {
    return await withWorker(
      env,
      { workflowsPath: opts.workflowsPath, activities: opts.driver.activities },
      async ({ client, taskQueue }) => {
        const handle = await client.workflow.start(opts.workflowType, {
          taskQueue,
          workflowId: opts.workflowId,
          args: opts.driver.args?.() ?? opts.args,
        });
        if (!opts.driver.drive) {
          await handle.result();
          return handle.fetchHistory();
        }
        const runId = await opts.driver.drive(handle, client);
        const history = await client.workflow.getHandle(opts.workflowId, runId).fetchHistory();
        // A workflow that never ends by itself (the number workflow) is stopped once its history is read.
        const { status } = await handle.describe();
        if (status.name === 'RUNNING') await handle.terminate('history recorded');
        return history;
      },
    );
  } finally {
    await env.teardown();
  }
}

async function fetchFromServer(
  address: string,
  namespace: string,
  workflowId: string,
  runId?: string,
): Promise<History> {
  const connection = await Connection.connect({ address });
  try {
    const client = new Client({ connection, namespace });
    return await client.workflow.getHandle(workflowId, runId).fetchHistory();
  } finally {
    await connection.close();
  }
}

async function loadActivities(spec: string): Promise<object> {
  const [file = '', exportName] = spec.split('#');
  const mod = (await import(pathToFileURL(path.resolve(file)).href)) as Record<string, unknown> & {
    default?: Record<string, unknown>;
  };
  const pick = (name: string): unknown => mod[name] ?? mod.default?.[name];
  let value: unknown = exportName ? pick(exportName) : (pick('activities') ?? mod.default ?? mod);
  if (value === undefined) throw new Error(`${file} has no export ${exportName ?? 'activities'}`);
  if (typeof value === 'function') value = (value as () => unknown)();
  if (value && typeof value === 'object' && 'activities' in value) value = value.activities;
  if (!value || typeof value !== 'object') throw new Error(`${spec} did not give an activities object`);
  return value;
}

async function loadDriver(spec: string): Promise<CaptureDriver> {
  const [file = '', exportName = 'driver'] = spec.split('#');
  const mod = (await import(pathToFileURL(path.resolve(file)).href)) as Record<string, unknown> & {
    default?: Record<string, unknown>;
  };
  let value: unknown = mod[exportName] ?? mod.default?.[exportName];
  if (typeof value === 'function') value = (value as () => unknown)();
  if (!value || typeof value !== 'object' || !('activities' in value)) {
    throw new Error(`${spec} did not give a driver ({ activities, drive? })`);
  }
  return value as CaptureDriver;
}

function kebab(name: string): string {
  return name.replace(/([a-z0-9])([A-Z])/g, '$1-$2').toLowerCase();
}

main().catch((err: unknown) => {
  console.error(`capture-history: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
});
