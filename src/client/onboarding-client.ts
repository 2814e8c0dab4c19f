import { createHash } from 'node:crypto';
import { WorkflowUpdateFailedError, type Client, type WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { onboardingWorkflowId } from '../shared/ids';
import {
  cancelOnboardingUpdate,
  onboardingStatusQuery,
  pinProblem,
  regionProblem,
  submitPinUpdate,
  submitVerificationCodeUpdate,
  verificationCodeProblem,
  type EventDestinationChoice,
  type OnboardingEventSeen,
  type OnboardingResult,
  type OnboardingStatus,
  type OnboardingTuning,
  type OnboardingWorkflowInput,
  type VerificationCodeReceived,
  type WabaMode,
} from '../workflows/definitions';
import type { onboardingWorkflow } from '../workflows/onboarding';
import { signalOnboardingEventSeen, signalVerificationCode } from '../workflows/onboarding-signals';

/** The workflow refused an input (bad PIN format, unknown number, onboarding over); the message says why. */
export class OnboardingInputRefused extends Error {
  override name = 'OnboardingInputRefused';
}

export interface OnboardingClientOptions {
  /** A client with the product's data converter (payload codec), or secrets would travel in clear. */
  temporal: Pick<Client, 'workflow'>;
  taskQueue: string;
  /** The ingest service's public SNS endpoint, used when a start names none. */
  ingestUrl?: string;
}

export interface StartOnboardingInput {
  /** Default: derived from the access token, so starting the same signup twice finds the same onboarding. */
  onboardingId?: string;
  accessToken: string;
  /** When embedded signup finished; default now. */
  signupCompletedAt?: Date;
  wabaMode: WabaMode;
  eventDestination: EventDestinationChoice;
  ingestUrl?: string;
  twoWaySms?: { smsPhoneNumberId: string; roleArn?: string };
  tuning?: Partial<OnboardingTuning>;
}

export interface StartOnboardingResult {
  onboardingId: string;
  workflowId: string;
  /** False when this signup's onboarding was already running. */
  started: boolean;
}

/**
 * A stable id for one signup: a short digest of its access token (not reversible, and the token itself
 * never leaves the encrypted workflow input).
 */
export function onboardingIdFor(accessToken: string): string {
  return `ob-${createHash('sha256').update(accessToken).digest('hex').slice(0, 16)}`;
}

/** Starts and drives onboarding workflows: what the `onboard` CLI commands and scripts use. */
export class OnboardingClient {
  constructor(private readonly options: OnboardingClientOptions) {}

  /** Starts onboarding one signup; idempotent for the same onboarding id. */
  async start(input: StartOnboardingInput): Promise<StartOnboardingResult> {
    if (!input.accessToken.trim()) throw new OnboardingInputRefused('the access token is empty');
    const onboardingId = input.onboardingId ?? onboardingIdFor(input.accessToken);
    const workflowId = onboardingWorkflowId(onboardingId);
    const ingestUrl = input.ingestUrl ?? this.options.ingestUrl;
    const args: OnboardingWorkflowInput = {
      onboardingId,
      accessToken: input.accessToken.trim(),
      signupCompletedAt: (input.signupCompletedAt ?? new Date()).toISOString(),
      wabaMode: input.wabaMode,
      eventDestination: input.eventDestination,
      ...(ingestUrl ? { ingestUrl } : {}),
      ...(input.twoWaySms ? { twoWaySms: input.twoWaySms } : {}),
      ...(input.tuning ? { tuning: input.tuning } : {}),
    };
    try {
      await this.options.temporal.workflow.start<typeof onboardingWorkflow>('onboardingWorkflow', {
        workflowId,
        taskQueue: this.options.taskQueue,
        args: [args],
      });
      return { onboardingId, workflowId, started: true };
    } catch (err) {
      if (err instanceof Error && err.name === 'WorkflowExecutionAlreadyStartedError') {
        return { onboardingId, workflowId, started: false };
      }
      throw err;
    }
  }

  /** Current step, what it waits for, the deadline and each number's state. */
  status(onboardingId: string): Promise<OnboardingStatus> {
    return this.handle(onboardingId).query(onboardingStatusQuery);
  }

  /** Gives a number's two-step PIN (and optional data-localization region). */
  submitPin(
    onboardingId: string,
    input: { phoneNumberId?: string; pin: string; dataLocalizationRegion?: string },
  ): Promise<OnboardingStatus> {
    // Checked here too, for an answer without a round trip; the workflow's validator is the authority.
    const problem = pinProblem(input.pin) ?? regionProblem(input.dataLocalizationRegion);
    if (problem) return Promise.reject(new OnboardingInputRefused(problem));
    return this.update(() => this.handle(onboardingId).executeUpdate(submitPinUpdate, { args: [input] }));
  }

  /** Gives the verification code Meta sent to a number (when no two-way SMS number delivers it). */
  submitCode(
    onboardingId: string,
    input: { phoneNumberId?: string; code: string },
  ): Promise<OnboardingStatus> {
    const problem = verificationCodeProblem(input.code);
    if (problem) return Promise.reject(new OnboardingInputRefused(problem));
    return this.update(() =>
      this.handle(onboardingId).executeUpdate(submitVerificationCodeUpdate, { args: [input] }),
    );
  }

  cancel(onboardingId: string, reason?: string): Promise<OnboardingStatus> {
    return this.update(() =>
      this.handle(onboardingId).executeUpdate(cancelOnboardingUpdate, { args: [reason ? { reason } : {}] }),
    );
  }

  /** Waits for the onboarding to end. */
  result(onboardingId: string): Promise<OnboardingResult> {
    return this.handle(onboardingId).result();
  }

  private handle(onboardingId: string): WorkflowHandle<typeof onboardingWorkflow> {
    return this.options.temporal.workflow.getHandle<typeof onboardingWorkflow>(
      onboardingWorkflowId(onboardingId),
    );
  }

  private async update<T>(call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (err) {
      if (err instanceof WorkflowUpdateFailedError && err.cause instanceof ApplicationFailure) {
        throw new OnboardingInputRefused(err.cause.message);
      }
      throw err;
    }
  }
}

/**
 * Hands a verification code to the onboarding waiting for it (the ingest service does this for codes
 * that arrive by two-way SMS). The client must carry the product's data converter: the code is a secret.
 */
export function deliverVerificationCode(
  temporal: Pick<Client, 'workflow'>,
  onboardingId: string,
  code: VerificationCodeReceived,
): Promise<void> {
  return signalVerificationCode(temporal, onboardingWorkflowId(onboardingId), code);
}

/** Tells an onboarding that an event of its WABA or number has been stored. */
export function reportOnboardingEvent(
  temporal: Pick<Client, 'workflow'>,
  onboardingId: string,
  seen: OnboardingEventSeen,
): Promise<void> {
  return signalOnboardingEventSeen(temporal, onboardingWorkflowId(onboardingId), seen);
}
