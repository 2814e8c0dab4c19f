/**
 * kill -9 of the worker process at random moments, three times in one campaign: the worker runs as a
 * real child process (`wa-campaigns worker`), the campaigns are started by the client in this process,
 * and the emulator's send log is the judge. Two campaigns share the number, one at-most-once and one
 * at-least-once: both complete, nobody is lost, the at-most-once campaign messages nobody twice, and the
 * at-least-once one repeats a message only for a recipient it counted as re-sent after an ambiguous send.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres';
import { sleep } from '../helpers/poll';
import { createDevServerEnv } from '../helpers/temporal';
import {
  finishCampaignPair,
  randomKillPoints,
  beginCrashRun,
  startCrashRig,
  untilUnderWay,
  type CrashRig,
} from './harness';

const MPS = 300;
const AT_MOST_ONCE = 800;
const AT_LEAST_ONCE = 500;
// A dead worker is noticed after 4 s instead of 30. Each send activity runs until its campaign is drained
// (a minute at most): a workflow task after a kill waits up to 10 s for the dead worker's sticky queue to
// time out, so fewer activity completions mean fewer such waits.
const TUNING = { ambiguityWaitMs: 2_000, sendHeartbeatTimeoutMs: 4_000, batchMaxMs: 60_000 };

let env: TestWorkflowEnvironment;
let database: TestDatabase;
let rig: CrashRig;

beforeAll(async () => {
  [env, database] = await Promise.all([createDevServerEnv(), createTestDatabase('crash_kill')]);
  rig = await startCrashRig({
    label: 'kill',
    databaseUrl: database.url,
    temporal: env,
    mps: MPS,
  });
});

afterAll(async () => {
  await rig?.close();
  await env?.teardown();
  await database?.drop();
});

describe('worker killed with SIGKILL three times mid-campaign', () => {
  it('completes both campaigns with nobody lost and no uncounted duplicate', async () => {
    const { pair, mark } = await beginCrashRun(
      rig,
      'kill',
      { atMostOnce: AT_MOST_ONCE, atLeastOnce: AT_LEAST_ONCE },
      TUNING,
    );
    const points = randomKillPoints([
      [0.1, 0.3],
      [0.4, 0.6],
      [0.7, 0.85],
    ]);
    const kills: string[] = [];
    for (const point of points) {
      const target = Math.round(point * pair.total);
      await untilUnderWay(rig.database.db, pair.ids, target);
      mark(`${target} under way`);
      // A little further at random, so the kill lands anywhere in a chunk, not at its boundary.
      await sleep(Math.random() * 250);
      await rig.worker.kill9();
      kills.push(`${Math.round(point * 100)}%`);
      mark('killed and restarted');
    }

    const verdicts = await finishCampaignPair(rig, pair, 'kill', `kills at ${kills.join(', ')}`);
    mark('both completed and verified');
    // What a kill can leave ambiguous is bounded by the chunks in flight (about a quarter second each).
    expect(verdicts.strict.unknown).toBeLessThanOrEqual(3 * MPS);
  }, 240_000);
});
