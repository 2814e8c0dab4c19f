/**
 * The number workflow on Temporal's time-skipping server with scripted activities, and a stand-in
 * campaign (a test workflow under the campaign's workflow id) that collects what the number fans out.
 */
import { WorkflowUpdateFailedError } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Activities } from '../../src/activities';
import { campaignWorkflowId, numberWorkflowId } from '../../src/shared/ids';
import { WORKFLOWS_PATH } from '../../src/worker/create-worker';
import {
  numberStatusQuery,
  numberStatusSignal,
  setRateUpdate,
  type NumberStatusSignal,
  type NumberWorkflowInput,
} from '../../src/workflows/definitions';
import type { numberWorkflow } from '../../src/workflows/number';
import type { collectNumberEvents } from '../workflows';
import { createTimeSkippingEnv, uniqueId, withWorker } from '../helpers/temporal';

let env: TestWorkflowEnvironment;

beforeAll(async () => {
  env = await createTimeSkippingEnv();
});

afterAll(async () => {
  await env?.teardown();
});

/** Number activities whose first campaign look-up waits until the test lets it go. */
function gatedActivities(campaignId: string) {
  let arrived!: () => void;
  let release!: () => void;
  const firstLookUp = new Promise<void>((r) => (arrived = r));
  const gate = new Promise<void>((r) => (release = r));
  let lookUps = 0;
  const activities: Pick<Activities, 'listActiveCampaigns' | 'setNumberRate'> = {
    listActiveCampaigns: async () => {
      if (lookUps++ === 0) {
        arrived();
        await gate;
      }
      return [campaignId];
    },
    setNumberRate: ({ mps }) => Promise.resolve(mps),
  };
  return { activities, firstLookUp, release };
}

describe('number workflow (time-skipping)', () => {
  it('carries its inbox and its MPS across continue-as-new: every event still reaches the campaigns', async () => {
    const campaignId = uniqueId('cmp');
    const phoneNumberId = uniqueId('phone-number-id');
    const { activities, firstLookUp, release } = gatedActivities(campaignId);
    const events: NumberStatusSignal[] = [
      { event: 'FLAGGED', reason: 'quality dropped' },
      { event: 'UNFLAGGED' },
      { event: 'FLAGGED', reason: 'quality dropped again' },
      { event: 'RESTRICTED', reason: 'messaging restricted' },
    ];
    await withWorker(env, {}, ({ client, taskQueue: campaignQueue }) =>
      withWorker(env, { workflowsPath: WORKFLOWS_PATH, activities }, async ({ taskQueue }) => {
        const campaign = await client.workflow.start<typeof collectNumberEvents>('collectNumberEvents', {
          taskQueue: campaignQueue,
          workflowId: campaignWorkflowId(campaignId),
          args: [events.length],
        });
        // Two events a run: the first run ends with the last two still in its inbox.
        const input: NumberWorkflowInput = { phoneNumberId, eventsPerRun: 2 };
        const number = await client.workflow.start<typeof numberWorkflow>('numberWorkflow', {
          taskQueue,
          workflowId: numberWorkflowId(phoneNumberId),
          args: [input],
        });
        // A rate out of range is refused by the validator, as an ApplicationFailure saying why.
        const refused = await number
          .executeUpdate(setRateUpdate, { args: [{ mps: 0 }] })
          .catch((err: unknown) => err);
        expect(refused).toBeInstanceOf(WorkflowUpdateFailedError);
        expect((refused as WorkflowUpdateFailedError).cause).toMatchObject({
          type: 'InvalidRate',
          message: 'mps must be a number from 1 to 1000, got 0',
        });
        expect(await number.executeUpdate(setRateUpdate, { args: [{ mps: 250 }] })).toMatchObject({
          mps: 250,
        });

        const [first, ...rest] = events;
        await number.signal(numberStatusSignal, first!);
        // The first event is being fanned out; the others queue up behind it.
        await firstLookUp;
        for (const e of rest) await number.signal(numberStatusSignal, e);
        release();

        expect(await campaign.result()).toEqual(events);
        const latest = await number.describe();
        expect(latest.runId).not.toBe(number.firstExecutionRunId);
        expect(await number.query(numberStatusQuery)).toEqual({
          phoneNumberId,
          mps: 250,
          restricted: { event: 'RESTRICTED', reason: 'messaging restricted' },
        });
        // By the handle of the whole chain: the run it started with has continued as new.
        await env.client.workflow.getHandle(number.workflowId).terminate('test over');
      }),
    );
  });
});
