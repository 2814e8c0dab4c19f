/**
 * Signals to a running onboarding, sent from outside workflow code. The onboarding client (which knows
 * the onboarding id) and the ingest's outbox (which stored the workflow id when it planned the signal)
 * both send through here, so neither depends on the other and each signal is paired with its payload
 * type once. The Temporal client must carry the product's data converter: a verification code is a
 * secret. Not part of the workflow bundle; it only needs a client handle.
 */
import type { Client } from '@temporalio/client';
import {
  onboardingEventSeenSignal,
  verificationCodeSignal,
  type OnboardingEventSeen,
  type VerificationCodeReceived,
} from './definitions';

/** Hands a verification code to the onboarding workflow `workflowId` (`onboarding:<id>`). */
export async function signalVerificationCode(
  temporal: Pick<Client, 'workflow'>,
  workflowId: string,
  code: VerificationCodeReceived,
): Promise<void> {
  await temporal.workflow.getHandle(workflowId).signal(verificationCodeSignal, code);
}

/** Tells the onboarding workflow `workflowId` that an event of its WABA or number has been stored. */
export async function signalOnboardingEventSeen(
  temporal: Pick<Client, 'workflow'>,
  workflowId: string,
  seen: OnboardingEventSeen,
): Promise<void> {
  await temporal.workflow.getHandle(workflowId).signal(onboardingEventSeenSignal, seen);
}
