import {
  ApplicationFailure,
  allHandlersFinished,
  condition,
  continueAsNew,
  getExternalWorkflowHandle,
  log,
  proxyActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import { campaignWorkflowId } from '../shared/ids';
import { isClearedNumberEvent } from '../shared/number-events';
import {
  type NumberStatus,
  type NumberStatusSignal,
  type NumberWorkflowInput,
} from '../shared/workflow-contracts';
import { numberStatusQuery, numberStatusSignal, setRateUpdate } from './definitions';

// Short, idempotent database work, retried until the database answers.
const store = proxyActivities<Activities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds', backoffCoefficient: 2 },
});

const MAX_MPS = 1000;

// Enough to keep a run's history far below Temporal's limits even when the server never suggests it.
const EVENTS_PER_RUN = 500;

/**
 * One sending number: the single writer of its settings and the fan-out point for number- and
 * account-level events to every campaign that sends from it. Runs indefinitely, continuing as new to
 * keep its history short.
 */
export async function numberWorkflow(input: NumberWorkflowInput): Promise<void> {
  const carried = input.carried;
  const status: NumberStatus = {
    phoneNumberId: input.phoneNumberId,
    ...(carried?.mps !== undefined ? { mps: carried.mps } : {}),
    restricted: carried?.restricted,
  };
  const inbox: NumberStatusSignal[] = [...(carried?.inbox ?? [])];
  let handled = 0;
  const eventsPerRun = input.eventsPerRun ?? EVENTS_PER_RUN;

  setHandler(numberStatusQuery, () => status);
  setHandler(numberStatusSignal, (event) => {
    inbox.push(event);
  });
  setHandler(
    setRateUpdate,
    async ({ mps }) => {
      status.mps = await store.setNumberRate({ phoneNumberId: input.phoneNumberId, mps });
      return status;
    },
    {
      validator: ({ mps }) => {
        if (!Number.isFinite(mps) || mps < 1 || mps > MAX_MPS) {
          throw ApplicationFailure.create({
            type: 'InvalidRate',
            message: `mps must be a number from 1 to ${MAX_MPS}, got ${String(mps)}`,
            nonRetryable: true,
          });
        }
      },
    },
  );

  while (!workflowInfo().continueAsNewSuggested && handled < eventsPerRun) {
    await condition(() => inbox.length > 0 || workflowInfo().continueAsNewSuggested);
    const event = inbox.shift();
    if (!event) continue;
    handled++;
    status.restricted = isClearedNumberEvent(event)
      ? undefined
      : { event: event.event.toUpperCase(), reason: event.reason };
    const campaignIds = await store.listActiveCampaigns({ phoneNumberId: input.phoneNumberId });
    for (const id of campaignIds) {
      try {
        await getExternalWorkflowHandle(campaignWorkflowId(id)).signal(numberStatusSignal, event);
      } catch (err) {
        // A campaign that finished in the meantime needs no news.
        log.info('campaign did not take the number event', { campaignId: id, error: String(err) });
      }
    }
  }
  // Signals that come in while handlers finish land in the inbox too, so they are carried with the rest.
  await condition(allHandlersFinished);
  await continueAsNew<typeof numberWorkflow>({
    ...input,
    carried: {
      restricted: status.restricted,
      ...(status.mps !== undefined ? { mps: status.mps } : {}),
      inbox,
    },
  });
}
