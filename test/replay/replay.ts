/**
 * Replay harness: feeds recorded workflow histories (JSON, as written by scripts/capture-history.ts or
 * `temporal workflow show --output json`) through a replay worker running the current workflow code.
 * A workflow change that would break running executions (different commands in a different order) shows up
 * here as a DeterminismViolationError, before it reaches a server.
 */
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { History } from '@temporalio/common/lib/proto-utils';
import { Worker } from '@temporalio/worker';
import { getWorkflowBundle, installQuietRuntime } from '../helpers/temporal';
import { historyFromJson } from './history-json';

/** Root of the committed histories: one folder per set, `<set>/<workflow-id>.json`. */
export const HISTORIES_ROOT = path.resolve(__dirname, '../fixtures/histories');

export interface RecordedHistory {
  file: string;
  /** The file name without `.json`. Histories do not contain the workflow id, and workflows may read it. */
  workflowId: string;
  history: History;
}

export interface ReplayOutcome {
  file: string;
  workflowId: string;
  runId: string;
  /** Undefined when the history replayed cleanly. */
  error?: Error;
}

/** Reads every `*.json` history in `dir` (not recursive), sorted by name so runs are reproducible. */
export async function loadHistories(dir: string): Promise<RecordedHistory[]> {
  const files = (await fsp.readdir(dir)).filter((f) => f.endsWith('.json')).sort();
  return Promise.all(
    files.map(async (f) => {
      const file = path.join(dir, f);
      const json: unknown = JSON.parse(await fsp.readFile(file, 'utf8'));
      return { file, workflowId: path.basename(f, '.json'), history: historyFromJson(json) };
    }),
  );
}

/**
 * Replays every history in `historiesDir` against the workflows at `workflowsPath` with one replay worker,
 * and returns one outcome per history (in file order) instead of stopping at the first failure, so a test
 * can report all broken histories at once.
 */
export async function replayAll(historiesDir: string, workflowsPath: string): Promise<ReplayOutcome[]> {
  installQuietRuntime();
  const histories = await loadHistories(historiesDir);
  const byId = new Map(histories.map((h) => [h.workflowId, h.file]));
  const outcomes: ReplayOutcome[] = [];
  const results = Worker.runReplayHistories(
    {
      workflowBundle: await getWorkflowBundle(workflowsPath),
      replayName: `replay-${path.basename(historiesDir)}`,
    },
    histories.map(({ workflowId, history }) => ({ workflowId, history })),
  );
  for await (const result of results) {
    outcomes.push({
      file: byId.get(result.workflowId) ?? result.workflowId,
      workflowId: result.workflowId,
      runId: result.runId,
      ...(result.error ? { error: result.error } : {}),
    });
  }
  return outcomes;
}

/** One line per failed replay, for assertion messages. */
export function describeFailures(outcomes: ReplayOutcome[]): string {
  return outcomes
    .filter((o) => o.error)
    .map((o) => `${path.relative(process.cwd(), o.file)}: ${o.error?.name}: ${o.error?.message}`)
    .join('\n');
}
