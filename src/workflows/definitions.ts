/**
 * Signals, queries and updates, defined once: workflows, the client, the ingest service and tests all
 * import these same objects. The types and values they carry live in the pure contracts module
 * (src/shared/workflow-contracts.ts), re-exported here so a caller finds a workflow's whole interface in
 * one import; activities import the contracts module itself.
 */
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type {
  CampaignProgress,
  CampaignState,
  CancelInput,
  CancelOnboardingInput,
  NumberStatus,
  NumberStatusSignal,
  OnboardingEventSeen,
  OnboardingStatus,
  PauseInput,
  SetRateInput,
  SubmitPinInput,
  SubmitVerificationCodeInput,
  TemplateStatusSignal,
  VerificationCodeReceived,
} from '../shared/workflow-contracts';

export * from '../shared/workflow-contracts';

export const templateStatusSignal = defineSignal<[TemplateStatusSignal]>('templateStatus');
export const numberStatusSignal = defineSignal<[NumberStatusSignal]>('numberStatus');
export const campaignProgressQuery = defineQuery<CampaignProgress>('campaignProgress');
export const pauseCampaignUpdate = defineUpdate<CampaignState, [PauseInput]>('pauseCampaign');
export const resumeCampaignUpdate = defineUpdate<CampaignState, []>('resumeCampaign');
export const cancelCampaignUpdate = defineUpdate<CampaignState, [CancelInput]>('cancelCampaign');
export const setRateUpdate = defineUpdate<NumberStatus, [SetRateInput]>('setRate');
export const numberStatusQuery = defineQuery<NumberStatus>('numberStatus');
export const onboardingStatusQuery = defineQuery<OnboardingStatus>('onboardingStatus');
export const submitPinUpdate = defineUpdate<OnboardingStatus, [SubmitPinInput]>('submitPin');
export const submitVerificationCodeUpdate = defineUpdate<OnboardingStatus, [SubmitVerificationCodeInput]>(
  'submitVerificationCode',
);
export const cancelOnboardingUpdate = defineUpdate<OnboardingStatus, [CancelOnboardingInput]>(
  'cancelOnboarding',
);
/** Sent by the ingest service when an event of the WABA or number has been stored. */
export const onboardingEventSeenSignal = defineSignal<[OnboardingEventSeen]>('onboardingEventSeen');
/** Sent by the ingest service (deliverVerificationCode) when an inbound SMS carries a verification code. */
export const verificationCodeSignal = defineSignal<[VerificationCodeReceived]>('verificationCode');
