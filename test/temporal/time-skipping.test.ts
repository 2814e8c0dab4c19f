/**
 * The time-skipping test server really skips time: a workflow sleeping 30 days finishes in seconds, and
 * the workflow's own clock says 30 days passed. Both sides are measured, not assumed.
 */
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTimeSkippingEnv, uniqueId, withWorker } from '../helpers/temporal';
import { createTestActivities } from '../workflows/activities';
import { echoAfterRetries, sleepDays } from '../workflows';

const DAY_MS = 24 * 60 * 60 * 1000;

describe('time-skipping test server', () => {
  let env: TestWorkflowEnvironment;
  beforeAll(async () => {
    env = await createTimeSkippingEnv();
  });
  afterAll(async () => {
    await env?.teardown();
  });

  it('runs a 30-day sleep in seconds of real time', async () => {
    expect(env.supportsTimeSkipping).toBe(true);
    const serverTimeBefore = await env.currentTimeMs();
    const wallStart = performance.now();

    const report = await withWorker(env, {}, ({ client, taskQueue }) =>
      client.workflow.execute(sleepDays, { taskQueue, workflowId: uniqueId('sleep-30-days'), args: [30] }),
    );

    const wallElapsedMs = performance.now() - wallStart;
    const serverTimeAfter = await env.currentTimeMs();
    // The workflow's clock moved 30 days…
    expect(report.elapsedMs).toBeGreaterThanOrEqual(30 * DAY_MS);
    expect(report.elapsedMs).toBeLessThan(31 * DAY_MS);
    // …and so did the server's, while the wall clock moved only seconds (worker start included).
    expect(serverTimeAfter - serverTimeBefore).toBeGreaterThanOrEqual(30 * DAY_MS);
    expect(wallElapsedMs).toBeLessThan(20_000);
  });

  it('lets a test move the clock by hand with env.sleep', async () => {
    const before = await env.currentTimeMs();
    await env.sleep('2 days');
    expect((await env.currentTimeMs()) - before).toBeGreaterThanOrEqual(2 * DAY_MS);
  });

  it('runs activity retries against the test server', async () => {
    const { activities, calls } = createTestActivities();
    const result = await withWorker(env, { activities }, ({ client, taskQueue }) =>
      client.workflow.execute(echoAfterRetries, {
        taskQueue,
        workflowId: uniqueId('echo'),
        args: ['ping', 2],
      }),
    );
    expect(result).toBe('ping (attempt 3)');
    expect(calls.map((c) => c.attempt)).toEqual([1, 2, 3]);
  });
});
