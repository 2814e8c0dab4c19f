/**
 * Capture drivers for onboarding histories (scripts/capture-history.ts --driver): a scripted platform and
 * an operator who answers what the workflow asks for. Each run goes through as many of the workflow's
 * branches as one history can hold, so the replay test covers them. Recorded with, e.g.:
 *
 *   npx tsx scripts/capture-history.ts --set onboarding --workflows src/workflows/index.ts \
 *     --workflow onboardingWorkflow --id full-run --driver test/replay/drivers/onboarding.ts#fullRun
 */
import { ApplicationFailure } from '@temporalio/activity';
import type { Client, WorkflowHandle } from '@temporalio/client';
import type { Activities } from '../../../src/activities';
import {
  EventDestinationKind,
  FinalizeOutcome,
  OnboardingStep,
  WabaMode,
  onboardingEventSeenSignal,
  onboardingStatusQuery,
  submitPinUpdate,
  submitVerificationCodeUpdate,
  verificationCodeSignal,
  type OnboardingStatus,
  type OnboardingWorkflowInput,
} from '../../../src/workflows/definitions';
import type { CaptureDriver } from '../../../scripts/capture-history';

type OnboardingActivities = Pick<
  Activities,
  | 'exchangeSignupToken'
  | 'prepareEventDestination'
  | 'enableTwoWaySms'
  | 'finalizeSetup'
  | 'registrationStatus'
  | 'requestVerificationCode'
  | 'confirmVerificationCode'
  | 'findOnboardingEvent'
  | 'findVerificationCode'
  | 'recordOnboarding'
  | 'storeNumberLimits'
>;

const NUMBER = { phoneNumberId: 'phone-number-id-replay', displayPhoneNumber: '+49 151 00000001' };
const TOPIC_ARN = 'arn:aws:sns:us-east-1:123456789012:wa-events-replay';
const RIGHT_CODE = '314159';

/** A platform that says yes, except where `finalizeOutcomes` (used up in order) says otherwise. */
function scriptedPlatform(finalizeOutcomes: FinalizeOutcome[] = []): OnboardingActivities {
  let statusChecks = 0;
  return {
    exchangeSignupToken: () =>
      Promise.resolve({
        associateInProgressToken: 'in-progress-replay',
        wabaId: 'waba-replay',
        wabaArn: 'arn:aws:social-messaging:us-east-1:123456789012:waba/waba-replay',
        numbers: [{ ...NUMBER, metaPhoneNumberId: 'meta-replay' }],
      }),
    prepareEventDestination: () =>
      Promise.resolve({
        eventDestinationArn: TOPIC_ARN,
        kind: EventDestinationKind.NewTopic,
        subscription: 'pending' as const,
        documents: {},
      }),
    enableTwoWaySms: () => Promise.resolve({ phoneNumber: '+15550100' }),
    finalizeSetup: () => {
      const outcome = finalizeOutcomes.shift() ?? FinalizeOutcome.Done;
      return Promise.resolve(
        outcome === FinalizeOutcome.Done
          ? { outcome }
          : { outcome, phoneNumberIds: [NUMBER.phoneNumberId], message: `refused: ${outcome}` },
      );
    },
    // INCOMPLETE once, so the history holds a status poll.
    registrationStatus: () =>
      Promise.resolve({ complete: statusChecks++ > 0, eventDestinationArns: [TOPIC_ARN] }),
    requestVerificationCode: () => Promise.resolve(),
    confirmVerificationCode: ({ code }) =>
      Promise.resolve(
        code === RIGHT_CODE ? { accepted: true } : { accepted: false, reason: 'Verify code error' },
      ),
    findOnboardingEvent: () => Promise.resolve(null),
    findVerificationCode: () => Promise.resolve(null),
    recordOnboarding: () => Promise.resolve(),
    storeNumberLimits: () =>
      Promise.resolve([
        { phoneNumberId: NUMBER.phoneNumberId, mps: 80, tierLimit: 1000, qualityRating: 'GREEN' },
      ]),
  };
}

/** Polls the status query until `ready` holds (real time: this is a script, not a test). */
async function until(
  handle: WorkflowHandle,
  ready: (s: OnboardingStatus) => boolean,
): Promise<OnboardingStatus> {
  for (;;) {
    const s = await handle.query(onboardingStatusQuery);
    if (ready(s)) return s;
    if ([OnboardingStep.Ready, OnboardingStep.Failed, OnboardingStep.Expired].includes(s.step)) {
      throw new Error(`onboarding ended (${s.step}: ${s.reason ?? ''}) before the driver was done`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

function inputOf(onboardingId: string, extra: Partial<OnboardingWorkflowInput>): OnboardingWorkflowInput {
  return {
    onboardingId,
    accessToken: 'token-replay',
    signupCompletedAt: new Date().toISOString(),
    wabaMode: WabaMode.New,
    eventDestination: { kind: EventDestinationKind.NewTopic },
    ingestUrl: 'https://ingest.example.com/sns',
    ...extra,
  };
}

/**
 * Everything an onboarding can go through on its way to ready: a reminder while waiting for the PIN, a
 * PIN mismatch and a second PIN, a recently-deleted block, verification by code (a wrong code by signal,
 * the right one by update, while the SMS archive is polled), an INCOMPLETE status, and the first event.
 */
export const fullRun = (): CaptureDriver => ({
  args: () => [
    inputOf('ob-replay-full', {
      twoWaySms: { smsPhoneNumberId: 'phone-sms-replay' },
      tuning: {
        reminderEveryMs: 1_500,
        recentlyDeletedWaitMs: 500,
        statusPollMs: 200,
        archivePollMs: 300,
        archivePollMaxMs: 600,
      },
    }),
  ],
  activities: scriptedPlatform([
    FinalizeOutcome.PinMismatch,
    FinalizeOutcome.RecentlyDeleted,
    FinalizeOutcome.NeedsVerification,
  ]),
  drive: async (handle: WorkflowHandle, _client: Client) => {
    await until(handle, (s) => s.step === OnboardingStep.AwaitingInput && s.reminders.sent > 0);
    await handle.executeUpdate(submitPinUpdate, { args: [{ pin: '111111', dataLocalizationRegion: 'DE' }] });
    await until(
      handle,
      (s) => s.step === OnboardingStep.AwaitingInput && s.numbers[0]?.problem !== undefined,
    );
    await handle.executeUpdate(submitPinUpdate, { args: [{ pin: '222222' }] });
    await until(handle, (s) => s.step === OnboardingStep.AwaitingCode && s.waitingFor !== undefined);
    await handle.signal(verificationCodeSignal, { code: '000000', phoneNumberId: NUMBER.phoneNumberId });
    await until(handle, (s) => /give the right code/.test(s.numbers[0]?.problem ?? ''));
    await handle.executeUpdate(submitVerificationCodeUpdate, { args: [{ code: RIGHT_CODE }] });
    await until(handle, (s) => s.step === OnboardingStep.Verifying);
    await handle.signal(onboardingEventSeenSignal, {
      field: 'phone_number_quality_update',
      phoneNumberId: NUMBER.phoneNumberId,
      currentLimit: 'TIER_1K',
    });
    await handle.result();
    return (await handle.describe()).runId;
  },
});

/** The platform refuses the event destination for good: the onboarding fails with its words. */
export const refusedTopic = (): CaptureDriver => ({
  args: () => [
    inputOf('ob-replay-refused', {
      eventDestination: { kind: EventDestinationKind.ExistingTopic, topicArn: `${TOPIC_ARN}.fifo` },
    }),
  ],
  activities: {
    ...scriptedPlatform(),
    prepareEventDestination: () =>
      Promise.reject(
        ApplicationFailure.create({
          type: 'FifoTopic',
          message: `${TOPIC_ARN}.fifo is a FIFO topic; Social Messaging publishes only to standard topics`,
          nonRetryable: true,
        }),
      ),
  },
});

/** Nobody gives a PIN: reminders, then the registration deadline ends the onboarding as expired. */
export const deadlinePassed = (): CaptureDriver => ({
  args: () => [
    inputOf('ob-replay-deadline', { tuning: { registrationWindowMs: 4_000, reminderEveryMs: 1_000 } }),
  ],
  activities: scriptedPlatform(),
});
