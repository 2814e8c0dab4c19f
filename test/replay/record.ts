import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import type { WorkflowHandle } from '@temporalio/client';
import { HISTORIES_ROOT } from './replay';

/**
 * With WA_RECORD_HISTORIES=1, writes the history of a workflow a test just ran as a replay fixture
 * (test/fixtures/histories/<set>/<name>.json). Tests that exercise a workflow's paths are the natural
 * source of histories worth replaying; re-record deliberately, when a workflow change is meant to be
 * incompatible and running executions have been drained.
 */
export async function recordHistoryFixture(handle: WorkflowHandle, set: string, name: string): Promise<void> {
  if (process.env.WA_RECORD_HISTORIES !== '1') return;
  const history = await handle.fetchHistory();
  const dir = path.join(HISTORIES_ROOT, set);
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, `${name}.json`), `${historyToJSON(history)}\n`);
}
