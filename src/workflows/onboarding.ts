import {
  ActivityFailure,
  ApplicationFailure,
  TimeoutFailure,
  log,
  proxyActivities,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import {
  EventDestinationKind,
  FinalizeOutcome,
  OnboardingStep,
  WabaMode,
  type OnboardingResult,
  type OnboardingWorkflowInput,
} from '../shared/workflow-contracts';
import { OnboardingState, type Poll } from './onboarding-state';

// Platform calls made before the numbers are registered. They retry transient AWS trouble with backoff
// for as long as the registration deadline leaves (schedule-to-close), so a long outage ends the
// onboarding at its deadline instead of leaving it retrying past it. Refusals are non-retryable.
function platformUntil(deadlineMs: number) {
  return proxyActivities<Activities>({
    startToCloseTimeout: '1 minute',
    scheduleToCloseTimeout: Math.max(1_000, deadlineMs - Date.now()),
    retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '5 minutes' },
  });
}

// Platform calls once the numbers are registered: no deadline any more, so they retry until AWS answers.
const { registrationStatus, storeNumberLimits } = proxyActivities<Activities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '5 minutes' },
});

// Looking into the event archive is only a fallback for a lost signal: two tries, then wait for the next look.
const { findOnboardingEvent, findVerificationCode } = proxyActivities<Activities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1 second', maximumAttempts: 2 },
});

/** One step of an onboarding: returns a result only when the onboarding ends there. */
type Step = (ob: OnboardingState) => Promise<OnboardingResult | undefined>;

/** The signup callback: the token becomes an in-progress token, the WABA and its numbers. */
async function exchangeSignupToken(ob: OnboardingState): Promise<OnboardingResult | undefined> {
  await ob.mirror();
  const signup = await platformUntil(ob.deadlineMs).exchangeSignupToken({
    onboardingId: ob.onboardingId,
    accessToken: ob.input.accessToken,
  });
  ob.wabaId = signup.wabaId;
  ob.wabaArn = signup.wabaArn;
  ob.associateInProgressToken = signup.associateInProgressToken;
  ob.numbers = signup.numbers.map((n) => ({
    phoneNumberId: n.phoneNumberId,
    displayPhoneNumber: n.displayPhoneNumber,
    ...(n.metaPhoneNumberId ? { metaPhoneNumberId: n.metaPhoneNumberId } : {}),
    registered: false,
    awaitingCode: false,
  }));
  return ob.cancel ? ob.cancelled() : undefined;
}

/** The SNS topic (checked or created, its policy, the ingest subscription) or Amazon Connect. */
async function prepareEventDestination(ob: OnboardingState): Promise<OnboardingResult | undefined> {
  ob.step = OnboardingStep.EventDestination;
  await ob.mirror();
  const dest = await platformUntil(ob.deadlineMs).prepareEventDestination({
    onboardingId: ob.onboardingId,
    wabaArn: ob.wabaArn as string,
    choice: ob.input.eventDestination,
    ...(ob.input.ingestUrl ? { ingestUrl: ob.input.ingestUrl } : {}),
    allowSmsPublish: ob.input.twoWaySms !== undefined,
  });
  ob.destination = { arn: dest.eventDestinationArn, kind: dest.kind, subscription: dest.subscription };
  ob.documents = dest.documents;
  ob.connectRoleArn = dest.roleArn;
  return undefined;
}

/** With --sms-number: the SMS number that receives verification codes publishes to our topic. */
async function enableTwoWaySms(ob: OnboardingState): Promise<OnboardingResult | undefined> {
  const twoWaySms = ob.input.twoWaySms;
  if (!twoWaySms) return undefined;
  if (ob.destination?.kind === EventDestinationKind.Connect) {
    return ob.fail('two-way SMS needs an SNS topic as the event destination, not Amazon Connect');
  }
  ob.step = OnboardingStep.TwoWaySms;
  await ob.mirror();
  const sms = await platformUntil(ob.deadlineMs).enableTwoWaySms({
    onboardingId: ob.onboardingId,
    smsPhoneNumberId: twoWaySms.smsPhoneNumberId,
    channelArn: ob.destination?.arn as string,
    ...(twoWaySms.roleArn ? { roleArn: twoWaySms.roleArn } : {}),
  });
  ob.smsNumber = sms.phoneNumber;
  return undefined;
}

/** 133006: requests a code for each number, waits for it (two-way SMS or the operator), hands it to Meta. */
async function verifyNumbers(ob: OnboardingState, ids: string[]): Promise<OnboardingResult | undefined> {
  const targets = ob.numbers.filter((n) => ids.includes(n.phoneNumberId));
  const untilDeadline = platformUntil(ob.deadlineMs);
  const unknown = targets.find((n) => !n.metaPhoneNumberId);
  if (unknown) return ob.fail(`${unknown.phoneNumberId} must be verified, but has no Meta phone number id`);
  ob.step = OnboardingStep.AwaitingCode;
  for (const n of targets) {
    n.awaitingCode = true;
    n.code = undefined;
    n.problem = 'must be verified with a code first (133006)';
  }
  const requestedAt = Date.now();
  for (const n of targets) {
    await untilDeadline.requestVerificationCode({
      onboardingId: ob.onboardingId,
      accessToken: ob.input.accessToken,
      metaPhoneNumberId: n.metaPhoneNumberId as string,
    });
  }
  const smsNumber = ob.smsNumber;
  const checkArchive: Poll | undefined = smsNumber
    ? {
        check: async () => {
          const found = await findVerificationCode({
            destinationNumber: smsNumber,
            sinceMs: requestedAt - 60_000,
          }).catch(() => null);
          const n = targets.find((t) => t.awaitingCode && t.code === undefined);
          if (found && n && !ob.refusedCodes.has(found.code)) n.code = found.code;
        },
      }
    : undefined;
  const where = smsNumber
    ? `arrives by two-way SMS on ${smsNumber}, or give it with \`onboard code ${ob.onboardingId}\``
    : `give it with \`onboard code ${ob.onboardingId}\``;
  while (targets.some((t) => t.awaitingCode)) {
    const pending = targets.filter((t) => t.awaitingCode);
    const outcome = await ob.waitFor(
      `the verification code sent by SMS to ${pending.map((t) => t.displayPhoneNumber).join(', ')} (${where})`,
      () => pending.some((t) => t.code !== undefined),
      ob.deadlineMs,
      checkArchive,
    );
    if (outcome !== 'ready') return undefined;
    for (const n of pending.filter((t) => t.code !== undefined)) {
      const code = n.code as string;
      const answer = await untilDeadline.confirmVerificationCode({
        onboardingId: ob.onboardingId,
        accessToken: ob.input.accessToken,
        metaPhoneNumberId: n.metaPhoneNumberId as string,
        code,
      });
      n.code = undefined;
      if (answer.accepted) {
        n.awaitingCode = false;
        n.problem = undefined;
      } else {
        ob.refusedCodes.add(code);
        n.problem = `${answer.reason ?? 'the code was refused'}; give the right code`;
      }
    }
  }
  return undefined;
}

/** Collects PINs and registers the numbers (setupFinalization), handling Meta's registration refusals. */
async function registerNumbers(ob: OnboardingState): Promise<OnboardingResult | undefined> {
  const { tuning } = ob;
  for (;;) {
    if (ob.cancel) return ob.cancelled();
    if (Date.now() >= ob.deadlineMs) return ob.expire();
    const missing = ob.numbers.filter((n) => n.pin === undefined);
    if (missing.length > 0) {
      ob.step = OnboardingStep.AwaitingInput;
      const ask =
        ob.input.wabaMode === WabaMode.Import
          ? 'the two-step verification PIN already set on'
          : 'a new 6-digit two-step verification PIN (keep it: Meta asks for it again) for';
      await ob.waitFor(
        `${ask} ${missing.map((n) => `${n.displayPhoneNumber} (${n.phoneNumberId})`).join(', ')}: \`onboard pin ${ob.onboardingId}\``,
        () => ob.numbers.every((n) => n.pin !== undefined),
        ob.deadlineMs,
      );
      continue;
    }
    ob.step = OnboardingStep.Finalizing;
    await ob.mirror();
    const out = await platformUntil(ob.deadlineMs).finalizeSetup({
      onboardingId: ob.onboardingId,
      associateInProgressToken: ob.associateInProgressToken as string,
      wabaId: ob.wabaId as string,
      numbers: ob.numbers.map((n) => ({
        phoneNumberId: n.phoneNumberId,
        pin: n.pin as string,
        ...(n.region ? { dataLocalizationRegion: n.region } : {}),
      })),
      eventDestination: {
        eventDestinationArn: ob.destination?.arn as string,
        ...(ob.connectRoleArn ? { roleArn: ob.connectRoleArn } : {}),
      },
    });
    ob.lastError = out.message;
    switch (out.outcome) {
      case FinalizeOutcome.Done:
        for (const n of ob.numbers) n.registered = true;
        ob.lastError = undefined;
        return undefined;
      case FinalizeOutcome.PinMismatch:
        // Never retried blindly: each attempt counts toward Meta's limit, and only a person knows the PIN.
        for (const n of ob.numbers.filter((x) => out.phoneNumberIds?.includes(x.phoneNumberId))) {
          n.pin = undefined;
          n.problem = 'PIN mismatch (133005): the number already has a two-step PIN; give that one';
        }
        continue;
      case FinalizeOutcome.RecentlyDeleted:
        await ob.blockedFor(tuning.recentlyDeletedWaitMs, 'the number was deleted recently (133015)');
        continue;
      case FinalizeOutcome.Blocked:
        await ob.blockedFor(
          tuning.registrationBlockMs,
          'more than 10 registration attempts in 72 h (133016)',
        );
        continue;
      case FinalizeOutcome.TooManyGuesses:
        await ob.blockedFor(tuning.tooManyGuessesWaitMs, `too many PIN attempts (${out.code ?? 133008})`);
        continue;
      case FinalizeOutcome.NeedsVerification: {
        const ended = await verifyNumbers(ob, out.phoneNumberIds ?? ob.numbers.map((n) => n.phoneNumberId));
        if (ended) return ended;
        continue;
      }
      case FinalizeOutcome.SignupExpired:
        return ob.expire();
    }
  }
}

/** Registration accepted; the platform reports COMPLETE once every number of the WABA is registered. */
async function awaitRegistrationComplete(ob: OnboardingState): Promise<OnboardingResult | undefined> {
  const { tuning } = ob;
  ob.step = OnboardingStep.Registering;
  const completeBy = Date.now() + tuning.completionTimeoutMs;
  for (let pause = tuning.statusPollMs; ; pause = Math.min(pause * 2, tuning.statusPollMaxMs)) {
    if ((await registrationStatus({ wabaId: ob.wabaId as string })).complete) return undefined;
    if (Date.now() >= completeBy) {
      return ob.fail(
        `registration was accepted but the account is still INCOMPLETE after ${tuning.completionTimeoutMs / 3600_000} h`,
      );
    }
    const outcome = await ob.waitFor(
      'the platform to report the registration COMPLETE',
      () => false,
      Math.min(completeBy, Date.now() + pause),
    );
    if (outcome === 'cancelled') return ob.cancelled();
  }
}

/** A first event of the account reaches the ingest service (its signal, or a look into the archive). */
async function awaitFirstEvent(ob: OnboardingState): Promise<OnboardingResult | undefined> {
  const destination = ob.destination;
  if (!destination || destination.kind === EventDestinationKind.Connect) {
    // Events go to Amazon Connect, not to our ingest service: nothing of ours can see them arrive.
    log.info('event destination is Amazon Connect; skipping the ingest check', {
      onboardingId: ob.onboardingId,
    });
    return undefined;
  }
  const { tuning } = ob;
  ob.step = OnboardingStep.Verifying;
  const sinceMs = workflowInfo().runStartTime.getTime() - 5 * 60_000;
  const outcome = await ob.waitFor(
    "a first event of this account to reach the ingest service (write to the number from any phone, or wait for Meta's onboarding update)",
    () => ob.seen !== undefined,
    Date.now() + tuning.verificationTimeoutMs,
    {
      check: async () => {
        const found = await findOnboardingEvent({
          wabaId: ob.wabaId as string,
          phoneNumberIds: ob.numbers.map((n) => n.phoneNumberId),
          sinceMs,
        }).catch(() => null);
        if (found) ob.seen ??= found;
      },
    },
  );
  if (outcome === 'cancelled') return ob.cancelled();
  if (outcome === 'timeout') {
    return ob.fail(
      `registered, but no event reached the ingest service within ${tuning.verificationTimeoutMs / 3600_000} h: ` +
        `check the subscription of ${destination.arn} (${destination.subscription}) and WA_INGEST_TOPIC_ARNS`,
    );
  }
  destination.subscription = 'confirmed';
  return undefined;
}

/** The numbers' limits go where the campaign engine reads them. */
async function storeLimits(ob: OnboardingState): Promise<OnboardingResult | undefined> {
  const limits = await storeNumberLimits({
    wabaId: ob.wabaId as string,
    numbers: ob.numbers.map((n) => ({
      phoneNumberId: n.phoneNumberId,
      displayPhoneNumber: n.displayPhoneNumber,
    })),
    ...(ob.seen ? { seen: ob.seen } : {}),
  });
  for (const l of limits) {
    const n = ob.numbers.find((x) => x.phoneNumberId === l.phoneNumberId);
    if (n)
      n.limits = {
        mps: l.mps,
        tierLimit: l.tierLimit,
        ...(l.qualityRating ? { qualityRating: l.qualityRating } : {}),
      };
  }
  return undefined;
}

const STEPS: readonly Step[] = [
  exchangeSignupToken,
  prepareEventDestination,
  enableTwoWaySms,
  registerNumbers,
  awaitRegistrationComplete,
  awaitFirstEvent,
  storeLimits,
];

/**
 * A refusal the platform will repeat (bad topic, wrong account, invalid token …) ends the onboarding
 * with its reason; a deadline reached while retrying ends it as expired. Anything else is a bug:
 * rethrown, it fails the workflow task and is retried once fixed.
 */
function endOnFailure(ob: OnboardingState, err: unknown): Promise<OnboardingResult> {
  if (err instanceof ActivityFailure) {
    if (err.cause instanceof TimeoutFailure && Date.now() >= ob.deadlineMs) return ob.expire();
    if (err.cause instanceof ApplicationFailure && err.cause.nonRetryable) {
      ob.lastError = err.cause.message;
      return ob.fail(err.cause.message);
    }
  }
  throw err;
}

/**
 * Brings the numbers of one embedded signup into service: exchanges the signup token, prepares the
 * event destination, collects the operator's PINs (reminding until the 14-day deadline), registers the
 * numbers (handling Meta's registration refusals), waits for the platform to report COMPLETE and for a
 * first event to reach the ingest service, then stores the numbers' limits for the campaign engine.
 */
export async function onboardingWorkflow(input: OnboardingWorkflowInput): Promise<OnboardingResult> {
  const ob = new OnboardingState(input);
  ob.setHandlers();
  try {
    if (Date.now() >= ob.deadlineMs) return await ob.expire();
    for (const step of STEPS) {
      const ended = await step(ob);
      if (ended) return ended;
    }
    return await ob.finish(
      OnboardingStep.Ready,
      'registered, events arriving, limits stored: ready for campaigns',
    );
  } catch (err) {
    return endOnFailure(ob, err);
  }
}
