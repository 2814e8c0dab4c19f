/**
 * Capture drivers for number-workflow histories (scripts/capture-history.ts --driver). `continued`: the
 * dev server is told to suggest continue-as-new after a few dozen events, and the driver sends number
 * events and a rate change until the first run has continued as new, some events still waiting in its
 * inbox; that first run is recorded:
 *
 *   npx tsx scripts/capture-history.ts --set number --workflows src/workflows/index.ts \
 *     --workflow numberWorkflow --id continued --driver test/replay/drivers/number.ts#continued
 *
 * `carriedInbox` (below) records a run that starts with carried events.
 */
import type { Client, WorkflowHandle } from '@temporalio/client';
import type { Activities } from '../../../src/activities';
import {
  numberStatusSignal,
  setRateUpdate,
  type NumberWorkflowInput,
} from '../../../src/workflows/definitions';
import type { CaptureDriver } from '../../../scripts/capture-history';

/** A campaign that has finished: signalling it fails, which the workflow shrugs off. */
const GONE_CAMPAIGN = 'cmp-replay-gone';

function numberActivities(): Pick<Activities, 'listActiveCampaigns' | 'setNumberRate'> {
  return {
    listActiveCampaigns: () => Promise.resolve([GONE_CAMPAIGN]),
    setNumberRate: ({ mps }) => Promise.resolve(mps),
  };
}

const EVENTS = ['FLAGGED', 'UNFLAGGED', 'RESTRICTED', 'CONNECTED', 'ACCOUNT_RESTRICTION'];

export const continued = (): CaptureDriver => ({
  devServerArgs: ['--dynamic-config-value', 'limit.historyCount.suggestContinueAsNew=40'],
  args: (): [NumberWorkflowInput] => [{ phoneNumberId: 'phone-number-id-replay' }],
  activities: numberActivities(),
  drive: async (handle: WorkflowHandle, client: Client) => {
    const first = (await handle.describe()).runId;
    const firstRun = client.workflow.getHandle(handle.workflowId, first);
    await handle.executeUpdate(setRateUpdate, { args: [{ mps: 250 }] });
    for (let i = 0; ; i++) {
      // Three at a time, so the run that is told to continue as new still has some in its inbox.
      for (let k = 0; k < 3; k++) {
        const event = EVENTS[(3 * i + k) % EVENTS.length] ?? 'FLAGGED';
        await handle.signal(numberStatusSignal, { event, reason: `replay event ${3 * i + k}` });
      }
      const { status } = await firstRun.describe();
      if (status.name !== 'RUNNING') return first;
      if (i > 50) throw new Error('the number workflow never continued as new');
      await new Promise((r) => setTimeout(r, 200));
    }
  },
});

/**
 * A run that starts with events carried in its inbox and hands the rest on again: two events a run, a
 * slow campaign look-up so that seven events sent at once pile up, and the second run recorded.
 *
 *   npx tsx scripts/capture-history.ts --set number --workflows src/workflows/index.ts \
 *     --workflow numberWorkflow --id carried-inbox --driver test/replay/drivers/number.ts#carriedInbox
 */
export const carriedInbox = (): CaptureDriver => ({
  args: (): [NumberWorkflowInput] => [{ phoneNumberId: 'phone-number-id-replay', eventsPerRun: 2 }],
  activities: {
    ...numberActivities(),
    listActiveCampaigns: () =>
      new Promise<string[]>((resolve) => setTimeout(() => resolve([GONE_CAMPAIGN]), 200)),
  },
  drive: async (handle: WorkflowHandle, client: Client) => {
    const first = (await handle.describe()).runId;
    await handle.executeUpdate(setRateUpdate, { args: [{ mps: 250 }] });
    for (let i = 0; i < 7; i++) {
      const event = EVENTS[i % EVENTS.length] ?? 'FLAGGED';
      await handle.signal(numberStatusSignal, { event, reason: `replay event ${i}` });
    }
    const second = await nextRun(client, handle.workflowId, first);
    await nextRun(client, handle.workflowId, second);
    return second;
  },
});

/** Waits for run `runId` to continue as new and returns the id of the run it started. */
async function nextRun(client: Client, workflowId: string, runId: string): Promise<string> {
  const run = client.workflow.getHandle(workflowId, runId);
  for (let i = 0; i < 300; i++) {
    const { events } = await run.fetchHistory();
    const next = events?.at(-1)?.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId;
    if (next) return next;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`run ${runId} never continued as new`);
}
