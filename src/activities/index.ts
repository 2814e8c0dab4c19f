import { updateNumber } from '../db/numbers';
import type { ActivityDeps } from './deps';
import { createOnboardingActivities } from './onboarding';
import { sendBatch, type SendBatchInput } from './send-batch';
import { checkTemplate, type CheckTemplateInput } from './templates';
import {
  activeCampaignIds,
  closeRecipients,
  recordCampaignState,
  type CloseRecipientsInput,
  type RecordCampaignStateInput,
} from '../db/campaigns';

export type { ActivityDeps } from './deps';

export interface SetNumberRateInput {
  phoneNumberId: string;
  mps: number;
}

/** Every activity, bound to its dependencies. Workflows import only the type of this. */
export function createActivities(deps: ActivityDeps) {
  return {
    ...createOnboardingActivities(deps),
    sendBatch: (input: SendBatchInput) => sendBatch(deps, input),
    checkTemplate: (input: CheckTemplateInput) => checkTemplate(deps, input),
    recordCampaignState: (input: RecordCampaignStateInput) => recordCampaignState(deps.db, input),
    closeRecipients: (input: CloseRecipientsInput) => closeRecipients(deps.db, input),
    listActiveCampaigns: (input: { phoneNumberId: string }) =>
      activeCampaignIds(deps.db, input.phoneNumberId),
    setNumberRate: async (input: SetNumberRateInput): Promise<number> =>
      (await updateNumber(deps.db, input.phoneNumberId, { mps: input.mps })).mps,
  };
}

export type Activities = ReturnType<typeof createActivities>;
