/**
 * A real Temporal dev server (the `temporal` CLI built by provisioning) running workflows through a real
 * worker with real activities: what the time-skipping server cannot show, e.g. real timers and the
 * visibility (list) API.
 */
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { until } from '../helpers/poll';
import { createDevServerEnv, uniqueId, withWorker } from '../helpers/temporal';
import { createTestActivities } from '../workflows/activities';
import { echoAfterRetries, greetWithPause } from '../workflows';

describe('dev server', () => {
  let env: TestWorkflowEnvironment;
  beforeAll(async () => {
    env = await createDevServerEnv();
  });
  afterAll(async () => {
    await env?.teardown();
  });

  it('executes a workflow whose activities run in the worker', async () => {
    expect(env.supportsTimeSkipping).toBe(false);
    const { activities, calls } = createTestActivities();
    const workflowId = uniqueId('greet');

    const { result, history } = await withWorker(env, { activities }, async ({ client, taskQueue }) => {
      const handle = await client.workflow.start(greetWithPause, {
        taskQueue,
        workflowId,
        args: ['Ada', 200],
      });
      return { result: await handle.result(), history: await handle.fetchHistory() };
    });

    expect(result).toEqual(['Hello, Ada!', 'Hello, Ada again!']);
    // The activity code really ran, in this process, once per call.
    expect(calls).toEqual([
      { activity: 'greet', input: 'Ada', attempt: 1 },
      { activity: 'greet', input: 'Ada again', attempt: 1 },
    ]);
    // And the server recorded the whole exchange.
    const events = history.events ?? [];
    expect(events.filter((e) => e.activityTaskCompletedEventAttributes)).toHaveLength(2);
    expect(events.filter((e) => e.timerFiredEventAttributes)).toHaveLength(1);
  });

  it('retries a failing activity on the server', async () => {
    const { activities, calls } = createTestActivities();
    const result = await withWorker(env, { activities }, ({ client, taskQueue }) =>
      client.workflow.execute(echoAfterRetries, {
        taskQueue,
        workflowId: uniqueId('echo'),
        args: ['pong', 1],
      }),
    );
    expect(result).toBe('pong (attempt 2)');
    expect(calls.map((c) => c.attempt)).toEqual([1, 2]);
  });

  it('lists workflows through the visibility API', async () => {
    const { activities } = createTestActivities();
    const workflowId = uniqueId('listed');
    await withWorker(env, { activities }, ({ client, taskQueue }) =>
      client.workflow.execute(greetWithPause, { taskQueue, workflowId, args: ['Grace', 1] }),
    );
    // Visibility is eventually consistent, even on the dev server.
    const found = await until(
      'the workflow to be listed',
      async () => {
        const statuses: string[] = [];
        for await (const wf of env.client.workflow.list({ query: `WorkflowId = '${workflowId}'` }))
          statuses.push(wf.status.name);
        return statuses.length > 0 ? statuses : undefined;
      },
      { timeoutMs: 5_000, everyMs: 100 },
    );
    expect(found).toEqual(['COMPLETED']);
  });
});
