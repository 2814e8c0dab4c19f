import {
  ApplicationFailure,
  allHandlersFinished,
  condition,
  log,
  proxyActivities,
  setHandler,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import {
  DEFAULT_ONBOARDING_TUNING,
  FINAL_ONBOARDING_STEPS,
  OnboardingStep,
  pinProblem,
  regionProblem,
  verificationCodeProblem,
  type CancelOnboardingInput,
  type OnboardingDocuments,
  type OnboardingEventSeen,
  type OnboardingNumberStatus,
  type OnboardingResult,
  type OnboardingStatus,
  type OnboardingTuning,
  type OnboardingWorkflowInput,
  type SubmitPinInput,
  type SubmitVerificationCodeInput,
  type VerificationCodeReceived,
} from '../shared/workflow-contracts';
import {
  cancelOnboardingUpdate,
  onboardingEventSeenSignal,
  onboardingStatusQuery,
  submitPinUpdate,
  submitVerificationCodeUpdate,
  verificationCodeSignal,
} from './definitions';

// Mirroring progress into the database: short and idempotent, retried until the database answers.
const { recordOnboarding } = proxyActivities<Activities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '30 seconds' },
});

export interface NumberState {
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

export type WaitOutcome = 'ready' | 'timeout' | 'cancelled';

/** A look that may find what a wait is for, repeated with growing pauses. */
export interface Poll {
  check: () => Promise<void>;
}

const invalid = (message: string) =>
  ApplicationFailure.create({ type: 'InvalidOnboardingInput', message, nonRetryable: true });

const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString());

function numberState(n: NumberState): string {
  if (n.limits) return 'ready';
  if (n.registered) return 'registered';
  if (n.awaitingCode) return 'awaiting-code';
  return n.pin !== undefined ? 'pin-given' : 'awaiting-pin';
}

/**
 * One onboarding's state and its message handlers, and the waits and endings every step shares. The
 * steps (src/workflows/onboarding.ts) change it while they await; the handlers change it meanwhile.
 */
export class OnboardingState {
  readonly onboardingId: string;
  readonly tuning: OnboardingTuning;
  /** Meta's registration deadline (epoch ms and ISO). */
  readonly deadlineMs: number;
  readonly deadline: string;

  step = OnboardingStep.Signup;
  waitingFor: string | undefined;
  wabaId: string | undefined;
  numbers: NumberState[] = [];
  destination: OnboardingStatus['eventDestination'];
  documents: OnboardingDocuments = {};
  smsNumber: string | undefined;
  blockedUntil: number | undefined;
  lastError: string | undefined;
  reason: string | undefined;
  seen: OnboardingEventSeen | undefined;
  cancel: CancelOnboardingInput | undefined;
  /** What the signup callback and the event destination gave, for the steps after them. */
  wabaArn: string | undefined;
  associateInProgressToken: string | undefined;
  connectRoleArn: string | undefined;
  readonly reminders: { sent: number; last?: number; next?: number } = { sent: 0 };
  /** Codes the platform refused, so the same wrong code arriving again is not tried again. */
  readonly refusedCodes = new Set<string>();
  /** Bumped by every signal and update, so a wait can wake for anything new. */
  private changes = 0;
  /** What was last mirrored into the database, so an unchanged state costs no activity. */
  private mirrored: string | undefined;

  constructor(readonly input: OnboardingWorkflowInput) {
    this.onboardingId = input.onboardingId;
    this.tuning = { ...DEFAULT_ONBOARDING_TUNING, ...input.tuning };
    this.deadlineMs = Date.parse(input.signupCompletedAt) + this.tuning.registrationWindowMs;
    this.deadline = new Date(this.deadlineMs).toISOString();
  }

  /** Installs the query, updates and signals; must run before the workflow's first await. */
  setHandlers(): void {
    setHandler(onboardingStatusQuery, () => this.status());
    setHandler(submitPinUpdate, (input) => this.submitPin(input), {
      validator: (input: SubmitPinInput) => this.validatePin(input),
    });
    setHandler(submitVerificationCodeUpdate, (input) => this.submitCode(input), {
      validator: (input: SubmitVerificationCodeInput) => this.validateCode(input),
    });
    setHandler(cancelOnboardingUpdate, (input) => this.requestCancel(input), {
      validator: (_: CancelOnboardingInput) => this.assertOpen(),
    });
    setHandler(onboardingEventSeenSignal, (e) => this.eventSeen(e));
    setHandler(verificationCodeSignal, (e) => this.codeReceived(e));
  }

  status(): OnboardingStatus {
    const { reminders, waitingFor } = this;
    return {
      onboardingId: this.onboardingId,
      step: this.step,
      ...(waitingFor ? { waitingFor } : {}),
      signupCompletedAt: this.input.signupCompletedAt,
      deadline: this.deadline,
      wabaMode: this.input.wabaMode,
      ...(this.wabaId ? { wabaId: this.wabaId } : {}),
      numbers: this.numbers.map((n) => ({
        phoneNumberId: n.phoneNumberId,
        displayPhoneNumber: n.displayPhoneNumber,
        ...(n.metaPhoneNumberId ? { metaPhoneNumberId: n.metaPhoneNumberId } : {}),
        pinProvided: n.pin !== undefined,
        ...(n.region ? { dataLocalizationRegion: n.region } : {}),
        ...(n.problem ? { problem: n.problem } : {}),
        registered: n.registered,
        ...(n.limits ? { limits: n.limits } : {}),
      })),
      ...(this.destination ? { eventDestination: this.destination } : {}),
      documents: this.documents,
      reminders: {
        sent: reminders.sent,
        ...(reminders.last !== undefined ? { last: iso(reminders.last) } : {}),
        ...(waitingFor && reminders.next !== undefined ? { next: iso(reminders.next) } : {}),
      },
      ...(this.blockedUntil !== undefined ? { blockedUntil: iso(this.blockedUntil) } : {}),
      ...(this.lastError ? { lastError: this.lastError } : {}),
      ...(this.reason ? { reason: this.reason } : {}),
    };
  }

  private submitPin(input: SubmitPinInput): OnboardingStatus {
    const n = this.numberFor(input.phoneNumberId, this.withoutPin());
    n.pin = input.pin;
    if (input.dataLocalizationRegion !== undefined) n.region = input.dataLocalizationRegion;
    n.problem = undefined;
    this.changes++;
    return this.status();
  }

  private validatePin(input: SubmitPinInput): void {
    this.assertOpen();
    if (this.numbers.length === 0)
      throw invalid('the signup has not named its numbers yet; try again in a moment');
    const problem = pinProblem(input.pin) ?? regionProblem(input.dataLocalizationRegion);
    if (problem) throw invalid(problem);
    const n = this.numberFor(input.phoneNumberId, this.withoutPin());
    if (n.registered) throw invalid(`${n.phoneNumberId} is already registered`);
  }

  private submitCode(input: SubmitVerificationCodeInput): OnboardingStatus {
    const n = this.numberFor(input.phoneNumberId, this.awaitingCode());
    n.code = input.code;
    this.changes++;
    return this.status();
  }

  private validateCode(input: SubmitVerificationCodeInput): void {
    this.assertOpen();
    const problem = verificationCodeProblem(input.code);
    if (problem) throw invalid(problem);
    const n = this.numberFor(input.phoneNumberId, this.awaitingCode());
    if (!n.awaitingCode) throw invalid(`${n.phoneNumberId} is not waiting for a verification code`);
  }

  private requestCancel(input: CancelOnboardingInput): OnboardingStatus {
    this.cancel = input;
    this.changes++;
    return this.status();
  }

  private eventSeen(e: OnboardingEventSeen): void {
    this.seen ??= e;
    this.changes++;
  }

  private codeReceived(e: VerificationCodeReceived): void {
    // A signal cannot be refused like an update; a malformed code is dropped with a note.
    if (verificationCodeProblem(e.code)) {
      log.warn('ignoring a malformed verification code signal', { onboardingId: this.onboardingId });
      return;
    }
    const waiting = this.numbers.filter((n) => n.awaitingCode && n.code === undefined);
    const n = waiting.find((x) => x.phoneNumberId === e.phoneNumberId) ?? waiting[0];
    if (n && !this.refusedCodes.has(e.code)) {
      n.code = e.code;
      this.changes++;
    }
  }

  private withoutPin(): NumberState[] {
    return this.numbers.filter((x) => x.pin === undefined);
  }

  private awaitingCode(): NumberState[] {
    return this.numbers.filter((x) => x.awaitingCode);
  }

  /** The number an input names, or the only candidate when it names none. */
  private numberFor(phoneNumberId: string | undefined, candidates: NumberState[]): NumberState {
    if (phoneNumberId !== undefined) {
      const found = this.numbers.find((n) => n.phoneNumberId === phoneNumberId);
      if (!found) throw invalid(`${phoneNumberId} is not one of this onboarding's numbers`);
      return found;
    }
    const numbers = this.numbers;
    const only = candidates.length === 1 ? candidates[0] : numbers.length === 1 ? numbers[0] : undefined;
    if (!only) {
      throw invalid(`name the number: one of ${candidates.map((n) => n.phoneNumberId).join(', ') || 'none'}`);
    }
    return only;
  }

  private assertOpen(): void {
    if (FINAL_ONBOARDING_STEPS.includes(this.step) || this.cancel)
      throw invalid(`the onboarding has ended (${this.cancel ? 'cancelled' : this.step})`);
  }

  /** Mirrors progress into the database when step or wait changed (the ingest service looks there). */
  async mirror(final = false): Promise<void> {
    const { step, waitingFor, numbers } = this;
    const key = `${step}|${waitingFor ?? ''}|${numbers.map(numberState).join(',')}|${this.reminders.sent}`;
    if (key === this.mirrored && !final) return;
    this.mirrored = key;
    await recordOnboarding({
      onboardingId: this.onboardingId,
      step,
      deadline: this.deadline,
      ...(waitingFor ? { waitingFor } : {}),
      ...(this.wabaId ? { wabaId: this.wabaId } : {}),
      ...(this.destination ? { eventDestinationArn: this.destination.arn } : {}),
      ...(this.smsNumber ? { smsNumber: this.smsNumber } : {}),
      ...(this.reason ? { reason: this.reason } : {}),
      final,
      numbers: numbers.map((n) => ({
        phoneNumberId: n.phoneNumberId,
        displayPhoneNumber: n.displayPhoneNumber,
        ...(n.metaPhoneNumberId ? { metaPhoneNumberId: n.metaPhoneNumberId } : {}),
        state: numberState(n),
      })),
    });
  }

  /**
   * Waits until `ready()`, `untilMs` or a cancellation, reminding every `reminderEveryMs` (log and
   * status) and, with a poll, looking for the awaited thing itself at growing intervals.
   */
  async waitFor(what: string, ready: () => boolean, untilMs: number, poll?: Poll): Promise<WaitOutcome> {
    const { tuning, reminders } = this;
    this.waitingFor = what;
    reminders.next = Date.now() + tuning.reminderEveryMs;
    let pollEvery = tuning.archivePollMs;
    let nextPoll = poll ? Date.now() + pollEvery : Number.POSITIVE_INFINITY;
    try {
      await this.mirror();
      for (;;) {
        if (this.cancel) return 'cancelled';
        if (ready()) return 'ready';
        const now = Date.now();
        if (now >= untilMs) return 'timeout';
        if (now >= reminders.next) {
          reminders.sent++;
          reminders.last = now;
          reminders.next = now + tuning.reminderEveryMs;
          log.warn(`onboarding ${this.onboardingId} is waiting for ${what}`, {
            onboardingId: this.onboardingId,
            step: this.step,
            until: iso(untilMs),
            registrationDeadline: this.deadline,
          });
          await this.mirror();
          continue;
        }
        if (poll && now >= nextPoll) {
          await poll.check();
          pollEvery = Math.min(pollEvery * 2, tuning.archivePollMaxMs);
          nextPoll = Date.now() + pollEvery;
          continue;
        }
        const seenChanges = this.changes;
        const wakeAt = Math.min(untilMs, reminders.next, nextPoll);
        await condition(
          () => this.changes !== seenChanges || this.cancel !== undefined,
          Math.max(1, wakeAt - now),
        );
      }
    } finally {
      this.waitingFor = undefined;
    }
  }

  /** Waits out a registration refusal that lifts with time, but not past the deadline. */
  async blockedFor(ms: number, why: string): Promise<void> {
    this.step = OnboardingStep.Blocked;
    const blockedUntil = Date.now() + ms;
    this.blockedUntil = blockedUntil;
    this.lastError = why;
    await this.waitFor(
      `registration to be allowed again at ${iso(blockedUntil)} (${why})`,
      () => false,
      Math.min(blockedUntil, this.deadlineMs),
    );
    this.blockedUntil = undefined;
  }

  /** Ends the onboarding: the final step mirrored, every handler done, the result built from the status. */
  async finish(final: OnboardingStep, why: string | undefined): Promise<OnboardingResult> {
    this.step = final;
    this.reason = why;
    this.waitingFor = undefined;
    await this.mirror(true);
    await condition(allHandlersFinished);
    log.info('onboarding finished', {
      onboardingId: this.onboardingId,
      step: this.step,
      reason: this.reason,
    });
    const s = this.status();
    return {
      onboardingId: this.onboardingId,
      step: s.step,
      numbers: s.numbers,
      ...(this.wabaId ? { wabaId: this.wabaId } : {}),
      ...(this.reason ? { reason: this.reason } : {}),
    };
  }

  expire(): Promise<OnboardingResult> {
    return this.finish(
      OnboardingStep.Expired,
      `the numbers were not registered within 14 days of embedded signup (deadline ${this.deadline}): signup must be redone`,
    );
  }

  cancelled(): Promise<OnboardingResult> {
    return this.finish(OnboardingStep.Cancelled, this.cancel?.reason ?? 'cancelled by operator');
  }

  fail(why: string): Promise<OnboardingResult> {
    return this.finish(OnboardingStep.Failed, why);
  }
}
