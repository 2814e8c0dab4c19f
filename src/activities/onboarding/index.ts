import type { ActivityDeps } from '../deps';
import { prepareEventDestination, type PrepareEventDestinationInput } from './event-destination';
import {
  findOnboardingEvent,
  findVerificationCode,
  type FindOnboardingEventInput,
  type FindVerificationCodeInput,
} from './event-archive';
import { finalizeSetup, type FinalizeSetupInput } from './finalize';
import { storeNumberLimits, type StoreNumberLimitsInput } from './number-limits';
import { recordOnboarding, type RecordOnboardingInput } from '../../db/onboardings';
import { registrationStatus } from './registration-status';
import { exchangeSignupToken, type ExchangeSignupTokenInput } from './signup';
import { enableTwoWaySms, type EnableTwoWaySmsInput } from './two-way-sms';
import {
  confirmVerificationCode,
  requestVerificationCode,
  type ConfirmVerificationCodeInput,
  type RequestVerificationCodeInput,
} from './verification-code';

export type { FinalizeSetupResult } from './finalize';

/** The onboarding workflow's activities, bound to their dependencies. */
export function createOnboardingActivities(deps: ActivityDeps) {
  return {
    exchangeSignupToken: (input: ExchangeSignupTokenInput) => exchangeSignupToken(deps, input),
    prepareEventDestination: (input: PrepareEventDestinationInput) => prepareEventDestination(deps, input),
    enableTwoWaySms: (input: EnableTwoWaySmsInput) => enableTwoWaySms(deps, input),
    finalizeSetup: (input: FinalizeSetupInput) => finalizeSetup(deps, input),
    registrationStatus: (input: { wabaId: string }) => registrationStatus(deps, input),
    requestVerificationCode: (input: RequestVerificationCodeInput) => requestVerificationCode(deps, input),
    confirmVerificationCode: (input: ConfirmVerificationCodeInput) => confirmVerificationCode(deps, input),
    findOnboardingEvent: (input: FindOnboardingEventInput) => findOnboardingEvent(deps.db, input),
    findVerificationCode: (input: FindVerificationCodeInput) => findVerificationCode(deps.db, input),
    recordOnboarding: (input: RecordOnboardingInput) => recordOnboarding(deps.db, input),
    storeNumberLimits: (input: StoreNumberLimitsInput) => storeNumberLimits(deps, input),
  };
}
