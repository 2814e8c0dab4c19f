import {
  ActivityFailure,
  ApplicationFailure,
  TimeoutFailure,
  allHandlersFinished,
  condition,
  log,
  proxyActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { OnboardingEventSeen as EventSeen } from './definitions';
import {
  DEFAULT_ONBOARDING_TUNING,
  EventDestinationKind,
  FINAL_ONBOARDING_STEPS,
  FinalizeOutcome,
  OnboardingStep,
  WabaMode,
  cancelOnboardingUpdate,
  onboardingEventSeenSignal,
  onboardingStatusQuery,
  pinProblem,
  regionProblem,
  submitPinUpdate,
  submitVerificationCodeUpdate,
  verificationCodeProblem,
  verificationCodeSignal,
  type CancelOnboardingInput,
  type OnboardingDocuments,
  type OnboardingNumberStatus,
  type OnboardingResult,
  type OnboardingStatus,
  type OnboardingWorkflowInput,
  type SubmitPinInput,
  type SubmitVerificationCodeInput,
} from './definitions';

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
const platform = proxyActivities<Activities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '5 minutes' },
});

// Mirroring progress into the database: short and idempotent, retried until the database answers.
const bookkeeping = proxyActivities<Activities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '30 seconds' },
});

// Looking into the event archive is only a fallback for a lost signal: two tries, then wait for the next look.
const archive = proxyActivities<Activities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1 second', maximumAttempts: 2 },
});

interface NumberState {
  phoneNumberId: string;
  displayPhoneNumber: string;
  metaPhoneNumberId?: string;
  /** Secret: held only in workflow memory, rebuilt on replay from the (encrypted) update that gave it. */
  pin?: string;
  region?: string;
  problem?: string;
  registered: boolean;
  awaitingCode: boolean;
  /** Secret, like the PIN. */
  code?: string;
  limits?: OnboardingNumberStatus['limits'];
}

type WaitOutcome = 'ready' | 'timeout' | 'cancelled';

/** A look that may find what a wait is for, repeated with growing pauses. */
interface Poll {
  check: () => Promise<void>;
}

const invalid = (message: string) =>
  ApplicationFailure.create({ type: 'InvalidOnboardingInput', message, nonRetryable: true });

/**
 * Brings the numbers of one embedded signup into service: exchanges the signup token, prepares the
 * event destination, collects the operator's PINs (reminding until the 14-day deadline), registers the
 * numbers (handling Meta's registration refusals), waits for the platform to report COMPLETE and for a
 * first event to reach the ingest service, then stores the numbers' limits for the campaign engine.
 */
export async function onboardingWorkflow(input: OnboardingWorkflowInput): Promise<OnboardingResult> {
  const tuning = { ...DEFAULT_ONBOARDING_TUNING, ...input.tuning };
  const deadlineMs = Date.parse(input.signupCompletedAt) + tuning.registrationWindowMs;
  const deadline = new Date(deadlineMs).toISOString();
  const onboardingId = input.onboardingId;

  let step = OnboardingStep.Signup;
  let waitingFor: string | undefined;
  let wabaId: string | undefined;
  let numbers: NumberState[] = [];
  let destination: OnboardingStatus['eventDestination'];
  let documents: OnboardingDocuments = {};
  let smsNumber: string | undefined;
  let blockedUntil: number | undefined;
  let lastError: string | undefined;
  let reason: string | undefined;
  let seen: EventSeen | undefined;
  let cancel: CancelOnboardingInput | undefined;
  const reminders: { sent: number; last?: number; next?: number } = { sent: 0 };
  const refusedCodes = new Set<string>();
  // Bumped by every signal and update, so a wait can wake for anything new.
  let changes = 0;
  let mirrored: string | undefined;

  const isFinal = () => FINAL_ONBOARDING_STEPS.includes(step);
  const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString());

  const status = (): OnboardingStatus => ({
    onboardingId,
    step,
    ...(waitingFor ? { waitingFor } : {}),
    signupCompletedAt: input.signupCompletedAt,
    deadline,
    wabaMode: input.wabaMode,
    ...(wabaId ? { wabaId } : {}),
    numbers: numbers.map((n) => ({
      phoneNumberId: n.phoneNumberId,
      displayPhoneNumber: n.displayPhoneNumber,
      ...(n.metaPhoneNumberId ? { metaPhoneNumberId: n.metaPhoneNumberId } : {}),
      pinProvided: n.pin !== undefined,
      ...(n.region ? { dataLocalizationRegion: n.region } : {}),
      ...(n.problem ? { problem: n.problem } : {}),
      registered: n.registered,
      ...(n.limits ? { limits: n.limits } : {}),
    })),
    ...(destination ? { eventDestination: destination } : {}),
    documents,
    reminders: {
      sent: reminders.sent,
      ...(reminders.last !== undefined ? { last: iso(reminders.last) } : {}),
      ...(waitingFor && reminders.next !== undefined ? { next: iso(reminders.next) } : {}),
    },
    ...(blockedUntil !== undefined ? { blockedUntil: iso(blockedUntil) } : {}),
    ...(lastError ? { lastError } : {}),
    ...(reason ? { reason } : {}),
  });

  const numberFor = (phoneNumberId: string | undefined, candidates: NumberState[]): NumberState => {
    if (phoneNumberId !== undefined) {
      const found = numbers.find((n) => n.phoneNumberId === phoneNumberId);
      if (!found) throw invalid(`${phoneNumberId} is not one of this onboarding's numbers`);
      return found;
    }
    const only = candidates.length === 1 ? candidates[0] : numbers.length === 1 ? numbers[0] : undefined;
    if (!only) {
      throw invalid(`name the number: one of ${candidates.map((n) => n.phoneNumberId).join(', ') || 'none'}`);
    }
    return only;
  };
  const assertOpen = () => {
    if (isFinal() || cancel) throw invalid(`the onboarding has ended (${cancel ? 'cancelled' : step})`);
  };

  setHandler(onboardingStatusQuery, status);
  setHandler(
    submitPinUpdate,
    (pinInput) => {
      const n = numberFor(
        pinInput.phoneNumberId,
        numbers.filter((x) => x.pin === undefined),
      );
      n.pin = pinInput.pin;
      if (pinInput.dataLocalizationRegion !== undefined) n.region = pinInput.dataLocalizationRegion;
      n.problem = undefined;
      changes++;
      return status();
    },
    {
      validator: (pinInput: SubmitPinInput) => {
        assertOpen();
        if (numbers.length === 0)
          throw invalid('the signup has not named its numbers yet; try again in a moment');
        const problem = pinProblem(pinInput.pin) ?? regionProblem(pinInput.dataLocalizationRegion);
        if (problem) throw invalid(problem);
        const n = numberFor(
          pinInput.phoneNumberId,
          numbers.filter((x) => x.pin === undefined),
        );
        if (n.registered) throw invalid(`${n.phoneNumberId} is already registered`);
      },
    },
  );
  setHandler(
    submitVerificationCodeUpdate,
    (codeInput) => {
      const n = numberFor(
        codeInput.phoneNumberId,
        numbers.filter((x) => x.awaitingCode),
      );
      n.code = codeInput.code;
      changes++;
      return status();
    },
    {
      validator: (codeInput: SubmitVerificationCodeInput) => {
        assertOpen();
        const problem = verificationCodeProblem(codeInput.code);
        if (problem) throw invalid(problem);
        const n = numberFor(
          codeInput.phoneNumberId,
          numbers.filter((x) => x.awaitingCode),
        );
        if (!n.awaitingCode) throw invalid(`${n.phoneNumberId} is not waiting for a verification code`);
      },
    },
  );
  setHandler(
    cancelOnboardingUpdate,
    (cancelInput) => {
      cancel = cancelInput;
      changes++;
      return status();
    },
    { validator: (_: CancelOnboardingInput) => assertOpen() },
  );
  setHandler(onboardingEventSeenSignal, (e) => {
    seen ??= e;
    changes++;
  });
  setHandler(verificationCodeSignal, (e) => {
    // A signal cannot be refused like an update; a malformed code is dropped with a note.
    if (verificationCodeProblem(e.code)) {
      log.warn('ignoring a malformed verification code signal', { onboardingId });
      return;
    }
    const waiting = numbers.filter((n) => n.awaitingCode && n.code === undefined);
    const n = waiting.find((x) => x.phoneNumberId === e.phoneNumberId) ?? waiting[0];
    if (n && !refusedCodes.has(e.code)) {
      n.code = e.code;
      changes++;
    }
  });

  /** Mirrors progress into the database when step or wait changed (the ingest service looks there). */
  async function mirror(final = false): Promise<void> {
    const key = `${step}|${waitingFor ?? ''}|${numbers.map(numberState).join(',')}|${reminders.sent}`;
    if (key === mirrored && !final) return;
    mirrored = key;
    await bookkeeping.recordOnboarding({
      onboardingId,
      step,
      deadline,
      ...(waitingFor ? { waitingFor } : {}),
      ...(wabaId ? { wabaId } : {}),
      ...(destination ? { eventDestinationArn: destination.arn } : {}),
      ...(smsNumber ? { smsNumber } : {}),
      ...(reason ? { reason } : {}),
      final,
      numbers: numbers.map((n) => ({
        phoneNumberId: n.phoneNumberId,
        displayPhoneNumber: n.displayPhoneNumber,
        ...(n.metaPhoneNumberId ? { metaPhoneNumberId: n.metaPhoneNumberId } : {}),
        state: numberState(n),
      })),
    });
  }

  function numberState(n: NumberState): string {
    if (n.limits) return 'ready';
    if (n.registered) return 'registered';
    if (n.awaitingCode) return 'awaiting-code';
    return n.pin !== undefined ? 'pin-given' : 'awaiting-pin';
  }

  /**
   * Waits until `ready()`, `untilMs` or a cancellation, reminding every `reminderEveryMs` (log and
   * status) and, with a poll, looking for the awaited thing itself at growing intervals.
   */
  async function waitFor(
    what: string,
    ready: () => boolean,
    untilMs: number,
    poll?: Poll,
  ): Promise<WaitOutcome> {
    waitingFor = what;
    reminders.next = Date.now() + tuning.reminderEveryMs;
    let pollEvery = tuning.archivePollMs;
    let nextPoll = poll ? Date.now() + pollEvery : Number.POSITIVE_INFINITY;
    try {
      await mirror();
      for (;;) {
        if (cancel) return 'cancelled';
        if (ready()) return 'ready';
        const now = Date.now();
        if (now >= untilMs) return 'timeout';
        if (now >= reminders.next) {
          reminders.sent++;
          reminders.last = now;
          reminders.next = now + tuning.reminderEveryMs;
          log.warn(`onboarding ${onboardingId} is waiting for ${what}`, {
            onboardingId,
            step,
            until: iso(untilMs),
            registrationDeadline: deadline,
          });
          await mirror();
          continue;
        }
        if (poll && now >= nextPoll) {
          await poll.check();
          pollEvery = Math.min(pollEvery * 2, tuning.archivePollMaxMs);
          nextPoll = Date.now() + pollEvery;
          continue;
        }
        const seenChanges = changes;
        const wakeAt = Math.min(untilMs, reminders.next, nextPoll);
        await condition(() => changes !== seenChanges || cancel !== undefined, Math.max(1, wakeAt - now));
      }
    } finally {
      waitingFor = undefined;
    }
  }

  async function finish(final: OnboardingStep, why: string | undefined): Promise<OnboardingResult> {
    step = final;
    reason = why;
    waitingFor = undefined;
    await mirror(true);
    await condition(allHandlersFinished);
    log.info('onboarding finished', { onboardingId, step, reason });
    const s = status();
    return {
      onboardingId,
      step: s.step,
      numbers: s.numbers,
      ...(wabaId ? { wabaId } : {}),
      ...(reason ? { reason } : {}),
    };
  }

  const expiredReason = () =>
    `the numbers were not registered within 14 days of embedded signup (deadline ${deadline}): signup must be redone`;
  const cancelled = () => finish(OnboardingStep.Cancelled, cancel?.reason ?? 'cancelled by operator');

  /** Waits out a registration refusal that lifts with time, but not past the deadline. */
  async function blockedFor(ms: number, why: string): Promise<void> {
    step = OnboardingStep.Blocked;
    blockedUntil = Date.now() + ms;
    lastError = why;
    await waitFor(
      `registration to be allowed again at ${iso(blockedUntil)} (${why})`,
      () => false,
      Math.min(blockedUntil, deadlineMs),
    );
    blockedUntil = undefined;
  }

  /** 133006: requests a code for each number, waits for it (two-way SMS or the operator), hands it to Meta. */
  async function verifyNumbers(ids: string[]): Promise<OnboardingResult | undefined> {
    const targets = numbers.filter((n) => ids.includes(n.phoneNumberId));
    const untilDeadline = platformUntil(deadlineMs);
    const unknown = targets.find((n) => !n.metaPhoneNumberId);
    if (unknown)
      return finish(
        OnboardingStep.Failed,
        `${unknown.phoneNumberId} must be verified, but has no Meta phone number id`,
      );
    step = OnboardingStep.AwaitingCode;
    for (const n of targets) {
      n.awaitingCode = true;
      n.code = undefined;
      n.problem = 'must be verified with a code first (133006)';
    }
    const requestedAt = Date.now();
    for (const n of targets) {
      await untilDeadline.requestVerificationCode({
        onboardingId,
        accessToken: input.accessToken,
        metaPhoneNumberId: n.metaPhoneNumberId as string,
      });
    }
    const checkArchive: Poll | undefined = smsNumber
      ? {
          check: async () => {
            const found = await archive
              .findVerificationCode({ destinationNumber: smsNumber as string, sinceMs: requestedAt - 60_000 })
              .catch(() => null);
            const n = targets.find((t) => t.awaitingCode && t.code === undefined);
            if (found && n && !refusedCodes.has(found.code)) n.code = found.code;
          },
        }
      : undefined;
    const where = smsNumber
      ? `arrives by two-way SMS on ${smsNumber}, or give it with \`onboard code ${onboardingId}\``
      : `give it with \`onboard code ${onboardingId}\``;
    while (targets.some((t) => t.awaitingCode)) {
      const pending = targets.filter((t) => t.awaitingCode);
      const outcome = await waitFor(
        `the verification code sent by SMS to ${pending.map((t) => t.displayPhoneNumber).join(', ')} (${where})`,
        () => pending.some((t) => t.code !== undefined),
        deadlineMs,
        checkArchive,
      );
      if (outcome !== 'ready') return undefined;
      for (const n of pending.filter((t) => t.code !== undefined)) {
        const code = n.code as string;
        const answer = await untilDeadline.confirmVerificationCode({
          onboardingId,
          accessToken: input.accessToken,
          metaPhoneNumberId: n.metaPhoneNumberId as string,
          code,
        });
        n.code = undefined;
        if (answer.accepted) {
          n.awaitingCode = false;
          n.problem = undefined;
        } else {
          refusedCodes.add(code);
          n.problem = `${answer.reason ?? 'the code was refused'}; give the right code`;
        }
      }
    }
    return undefined;
  }

  /** Collects PINs and registers the numbers; returns a result only when the onboarding ends here. */
  async function register(
    event: { eventDestinationArn: string; roleArn?: string },
    token: string,
  ): Promise<OnboardingResult | undefined> {
    for (;;) {
      if (cancel) return cancelled();
      if (Date.now() >= deadlineMs) return finish(OnboardingStep.Expired, expiredReason());
      const missing = numbers.filter((n) => n.pin === undefined);
      if (missing.length > 0) {
        step = OnboardingStep.AwaitingInput;
        const ask =
          input.wabaMode === WabaMode.Import
            ? 'the two-step verification PIN already set on'
            : 'a new 6-digit two-step verification PIN (keep it: Meta asks for it again) for';
        await waitFor(
          `${ask} ${missing.map((n) => `${n.displayPhoneNumber} (${n.phoneNumberId})`).join(', ')}: \`onboard pin ${onboardingId}\``,
          () => numbers.every((n) => n.pin !== undefined),
          deadlineMs,
        );
        continue;
      }
      step = OnboardingStep.Finalizing;
      await mirror();
      const out = await platformUntil(deadlineMs).finalizeSetup({
        onboardingId,
        associateInProgressToken: token,
        wabaId: wabaId as string,
        numbers: numbers.map((n) => ({
          phoneNumberId: n.phoneNumberId,
          pin: n.pin as string,
          ...(n.region ? { dataLocalizationRegion: n.region } : {}),
        })),
        eventDestination: event,
      });
      lastError = out.message;
      switch (out.outcome) {
        case FinalizeOutcome.Done:
          for (const n of numbers) n.registered = true;
          lastError = undefined;
          return undefined;
        case FinalizeOutcome.PinMismatch:
          // Never retried blindly: each attempt counts toward Meta's limit, and only a person knows the PIN.
          for (const n of numbers.filter((x) => out.phoneNumberIds?.includes(x.phoneNumberId))) {
            n.pin = undefined;
            n.problem = 'PIN mismatch (133005): the number already has a two-step PIN; give that one';
          }
          continue;
        case FinalizeOutcome.RecentlyDeleted:
          await blockedFor(tuning.recentlyDeletedWaitMs, 'the number was deleted recently (133015)');
          continue;
        case FinalizeOutcome.Blocked:
          await blockedFor(tuning.registrationBlockMs, 'more than 10 registration attempts in 72 h (133016)');
          continue;
        case FinalizeOutcome.TooManyGuesses:
          await blockedFor(tuning.tooManyGuessesWaitMs, `too many PIN attempts (${out.code ?? 133008})`);
          continue;
        case FinalizeOutcome.NeedsVerification: {
          const ended = await verifyNumbers(out.phoneNumberIds ?? numbers.map((n) => n.phoneNumberId));
          if (ended) return ended;
          continue;
        }
        case FinalizeOutcome.SignupExpired:
          return finish(OnboardingStep.Expired, expiredReason());
      }
    }
  }

  async function run(): Promise<OnboardingResult> {
    if (Date.now() >= deadlineMs) return finish(OnboardingStep.Expired, expiredReason());
    await mirror();
    const signup = await platformUntil(deadlineMs).exchangeSignupToken({
      onboardingId,
      accessToken: input.accessToken,
    });
    wabaId = signup.wabaId;
    numbers = signup.numbers.map((n) => ({
      phoneNumberId: n.phoneNumberId,
      displayPhoneNumber: n.displayPhoneNumber,
      ...(n.metaPhoneNumberId ? { metaPhoneNumberId: n.metaPhoneNumberId } : {}),
      registered: false,
      awaitingCode: false,
    }));
    if (cancel) return cancelled();

    step = OnboardingStep.EventDestination;
    await mirror();
    const dest = await platformUntil(deadlineMs).prepareEventDestination({
      onboardingId,
      wabaArn: signup.wabaArn,
      choice: input.eventDestination,
      ...(input.ingestUrl ? { ingestUrl: input.ingestUrl } : {}),
      allowSmsPublish: input.twoWaySms !== undefined,
    });
    destination = { arn: dest.eventDestinationArn, kind: dest.kind, subscription: dest.subscription };
    documents = dest.documents;

    if (input.twoWaySms) {
      if (dest.kind === EventDestinationKind.Connect) {
        return finish(
          OnboardingStep.Failed,
          'two-way SMS needs an SNS topic as the event destination, not Amazon Connect',
        );
      }
      step = OnboardingStep.TwoWaySms;
      await mirror();
      const sms = await platformUntil(deadlineMs).enableTwoWaySms({
        onboardingId,
        smsPhoneNumberId: input.twoWaySms.smsPhoneNumberId,
        channelArn: dest.eventDestinationArn,
        ...(input.twoWaySms.roleArn ? { roleArn: input.twoWaySms.roleArn } : {}),
      });
      smsNumber = sms.phoneNumber;
    }

    const ended = await register(
      { eventDestinationArn: dest.eventDestinationArn, ...(dest.roleArn ? { roleArn: dest.roleArn } : {}) },
      signup.associateInProgressToken,
    );
    if (ended) return ended;

    // Registration accepted; the platform reports COMPLETE once every number of the WABA is registered.
    step = OnboardingStep.Registering;
    const completeBy = Date.now() + tuning.completionTimeoutMs;
    for (let pause = tuning.statusPollMs; ; pause = Math.min(pause * 2, tuning.statusPollMaxMs)) {
      if ((await platform.registrationStatus({ wabaId: signup.wabaId })).complete) break;
      if (Date.now() >= completeBy) {
        return finish(
          OnboardingStep.Failed,
          `registration was accepted but the account is still INCOMPLETE after ${tuning.completionTimeoutMs / 3600_000} h`,
        );
      }
      const outcome = await waitFor(
        'the platform to report the registration COMPLETE',
        () => false,
        Math.min(completeBy, Date.now() + pause),
      );
      if (outcome === 'cancelled') return cancelled();
    }

    if (dest.kind === EventDestinationKind.Connect) {
      // Events go to Amazon Connect, not to our ingest service: nothing of ours can see them arrive.
      log.info('event destination is Amazon Connect; skipping the ingest check', { onboardingId });
    } else {
      step = OnboardingStep.Verifying;
      const sinceMs = workflowInfo().runStartTime.getTime() - 5 * 60_000;
      const outcome = await waitFor(
        "a first event of this account to reach the ingest service (write to the number from any phone, or wait for Meta's onboarding update)",
        () => seen !== undefined,
        Date.now() + tuning.verificationTimeoutMs,
        {
          check: async () => {
            const found = await archive
              .findOnboardingEvent({
                wabaId: signup.wabaId,
                phoneNumberIds: numbers.map((n) => n.phoneNumberId),
                sinceMs,
              })
              .catch(() => null);
            if (found) seen ??= found;
          },
        },
      );
      if (outcome === 'cancelled') return cancelled();
      if (outcome === 'timeout') {
        return finish(
          OnboardingStep.Failed,
          `registered, but no event reached the ingest service within ${tuning.verificationTimeoutMs / 3600_000} h: ` +
            `check the subscription of ${dest.eventDestinationArn} (${destination.subscription}) and WA_INGEST_TOPIC_ARNS`,
        );
      }
      destination.subscription = 'confirmed';
    }

    const limits = await platform.storeNumberLimits({
      wabaId: signup.wabaId,
      numbers: numbers.map((n) => ({
        phoneNumberId: n.phoneNumberId,
        displayPhoneNumber: n.displayPhoneNumber,
      })),
      ...(seen ? { seen } : {}),
    });
    for (const l of limits) {
      const n = numbers.find((x) => x.phoneNumberId === l.phoneNumberId);
      if (n)
        n.limits = {
          mps: l.mps,
          tierLimit: l.tierLimit,
          ...(l.qualityRating ? { qualityRating: l.qualityRating } : {}),
        };
    }
    return finish(OnboardingStep.Ready, 'registered, events arriving, limits stored: ready for campaigns');
  }

  try {
    return await run();
  } catch (err) {
    // A refusal the platform will repeat (bad topic, wrong account, invalid token …) ends the onboarding
    // with its reason; a deadline reached while retrying ends it as expired. Anything else is a bug:
    // rethrown, it fails the workflow task and is retried once fixed.
    if (err instanceof ActivityFailure) {
      if (err.cause instanceof TimeoutFailure && Date.now() >= deadlineMs) {
        return finish(OnboardingStep.Expired, expiredReason());
      }
      if (err.cause instanceof ApplicationFailure && err.cause.nonRetryable) {
        lastError = err.cause.message;
        return finish(OnboardingStep.Failed, err.cause.message);
      }
    }
    throw err;
  }
}
