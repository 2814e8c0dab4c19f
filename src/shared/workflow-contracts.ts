/**
 * What the workflows exchange with their callers and their activities: inputs, results, states, enums,
 * tuning defaults and input checks. Pure (no Temporal, no I/O), so activities, the ingest service and
 * the client import the same values the workflows decide by without pulling in workflow code. The
 * signals, queries and updates that carry these types are defined in src/workflows/definitions.ts.
 */
import { DATA_LOCALIZATION_REGIONS } from '../platform/regions';

export enum CampaignState {
  Running = 'running',
  Waiting = 'waiting',
  Paused = 'paused',
  Completed = 'completed',
  Cancelled = 'cancelled',
  Failed = 'failed',
}

export const FINAL_CAMPAIGN_STATES: readonly CampaignState[] = [
  CampaignState.Completed,
  CampaignState.Cancelled,
  CampaignState.Failed,
];

export interface CampaignWorkflowInput {
  campaignId: string;
  phoneNumberId: string;
  templateName: string;
  templateLanguage: string;
  /** ISO time; sending starts no earlier. */
  startAt?: string;
  /** ISO time; what is not sent by then is reported as expired. */
  deadline?: string;
  /** Tuning; defaults suit production. */
  tuning?: Partial<CampaignTuning>;
  /** Control state carried across continue-as-new. */
  carried?: CarriedCampaignState;
}

export interface CampaignTuning {
  /** Longest one send activity runs before reporting back (ms). */
  batchMaxMs: number;
  /** How often the template's status is polled while sending, in case an event is lost (ms). */
  templateCheckEveryMs: number;
  /** First and second template pause lengths (ms): Meta's FIRST_PAUSE and SECOND_PAUSE. */
  firstPauseMs: number;
  secondPauseMs: number;
  /** How often a paused campaign re-checks when no pause length is known (ms). */
  pausePollMs: number;
  /** How long an unanswered send waits for a status event before the ambiguity policy decides (ms). */
  ambiguityWaitMs: number;
  /** Longest a campaign sleeps before looking again when it knows of nothing due (ms). */
  maxIdleMs: number;
  /**
   * Heartbeat timeout of the send activity (ms): how long a dead worker goes unnoticed before its send
   * activity is retried elsewhere. Shorter values only suit tests and demos.
   */
  sendHeartbeatTimeoutMs: number;
}

/** Fraction of a number's MPS the engine uses; the rest absorbs dispatch jitter (WA_PACE_SAFETY). */
export const DEFAULT_PACE_SAFETY = 0.98;

export const DEFAULT_CAMPAIGN_TUNING: CampaignTuning = {
  batchMaxMs: 60_000,
  templateCheckEveryMs: 5 * 60_000,
  firstPauseMs: 3 * 3600_000,
  secondPauseMs: 6 * 3600_000,
  pausePollMs: 15 * 60_000,
  ambiguityWaitMs: 15 * 60_000,
  maxIdleMs: 6 * 3600_000,
  sendHeartbeatTimeoutMs: 30_000,
};

export interface CarriedCampaignState {
  state: CampaignState;
  reason?: string;
  pauseSource?: PauseSource;
  recheckAt?: number;
  templatePauses: number;
  lastTemplateCheckAt?: number;
  batches: number;
}

/** Who paused a campaign: a person (only a person resumes it) or the platform (resumes by itself). */
export enum PauseSource {
  Operator = 'operator',
  Template = 'template',
  Number = 'number',
}

export interface CampaignProgress {
  campaignId: string;
  state: CampaignState;
  reason?: string;
  /** When a waiting or paused campaign looks again (epoch ms). */
  nextCheckAt?: number;
  batches: number;
  lastBatch?: BatchSummary;
}

/** What one send activity reports back. */
export interface BatchSummary {
  sent: number;
  failed: number;
  retryScheduled: number;
  skipped: number;
  ambiguous: number;
  /** Recipients not yet final. */
  remaining: number;
  /** Why the activity returned. */
  outcome: BatchOutcome;
  /** The earliest moment something becomes due (retry, send window, budget), epoch ms. */
  nextDueAt?: number;
  /** When the tier budget next frees up (epoch ms), set with outcome `budget`. */
  budgetResetsAt?: number;
  /** Set with outcome `stop` / `template-paused`. */
  code?: number;
  reason?: string;
}

export enum BatchOutcome {
  /** Nothing left to send. */
  Drained = 'drained',
  /** Recipients remain but none is due yet. */
  NothingDue = 'nothing-due',
  /** The tier budget is spent until `budgetResetsAt`. */
  Budget = 'budget',
  /** Ran for its time slice; more is due. */
  TimeSlice = 'time-slice',
  /** The platform paused the template. */
  TemplatePaused = 'template-paused',
  /** The template's quality turned RED while sending (seen by looking it up). */
  TemplateQuality = 'template-quality',
  /** Account- or template-level trouble: the campaign must stop. */
  Stop = 'stop',
}

export interface TemplateStatusSignal {
  templateName: string;
  templateLanguage: string;
  /** APPROVED, PAUSED, DISABLED, REINSTATED, FLAGGED …, or a quality score GREEN/YELLOW/RED. */
  event: string;
  /** other_info.title: FIRST_PAUSE, SECOND_PAUSE, UNPAUSE, DISABLED … */
  detail?: string;
  reason?: string;
}

export interface NumberStatusSignal {
  /** FLAGGED, UNFLAGGED, RESTRICTED, ACCOUNT_RESTRICTION, DISABLED_UPDATE … */
  event: string;
  reason?: string;
  /** True when the campaign must stop rather than pause. */
  stop?: boolean;
}

export interface PauseInput {
  reason?: string;
}
export interface CancelInput {
  reason?: string;
}

export interface NumberWorkflowInput {
  phoneNumberId: string;
  /** Events one run handles before it continues as new (default 500); small values only suit tests. */
  eventsPerRun?: number;
  carried?: NumberCarriedState;
}

/** Everything a number workflow keeps, handed to its next run when it continues as new. */
export interface NumberCarriedState {
  restricted?: { event: string; reason?: string };
  /** The rate last set by setRate. */
  mps?: number;
  /**
   * Events received but not yet fanned out. The ingest's outbox counts an event delivered once the
   * signal is accepted, so the next run handles these first, in order, or they are lost.
   */
  inbox?: NumberStatusSignal[];
}

export interface SetRateInput {
  mps: number;
}

export interface NumberStatus {
  phoneNumberId: string;
  mps?: number;
  restricted?: { event: string; reason?: string };
}

// ---------------------------------------------------------------------------------------------------
// Onboarding a number (workflow `onboarding:<id>`, src/workflows/onboarding.ts).

export { DATA_LOCALIZATION_REGIONS, type DataLocalizationRegion } from '../platform/regions';

/** Why a two-step verification PIN cannot be used, or undefined. Never quotes the PIN. */
export function pinProblem(pin: unknown): string | undefined {
  if (typeof pin !== 'string' || !/^\d{6}$/.test(pin))
    return 'the two-step verification PIN must be exactly 6 digits';
  return undefined;
}

/** Why a verification code cannot be used, or undefined. Never quotes the code. */
export function verificationCodeProblem(code: unknown): string | undefined {
  if (typeof code !== 'string' || !/^\d{6}$/.test(code)) return 'the verification code must be 6 digits';
  return undefined;
}

/** Why a data-localization region is not accepted, or undefined. */
export function regionProblem(region: unknown): string | undefined {
  if (region === undefined) return undefined;
  if (typeof region === 'string' && (DATA_LOCALIZATION_REGIONS as readonly string[]).includes(region))
    return undefined;
  return `dataLocalizationRegion must be one of ${DATA_LOCALIZATION_REGIONS.join(', ')}`;
}

export enum OnboardingStep {
  /** Exchanging the embedded-signup access token (signupCallback). */
  Signup = 'signup',
  /** Checking or creating the SNS topic, its policy, and subscribing the ingest service. */
  EventDestination = 'event-destination',
  /** Turning on two-way SMS on the number that receives verification codes. */
  TwoWaySms = 'two-way-sms',
  /** Waiting for the operator's PINs (and regions). */
  AwaitingInput = 'awaiting-input',
  /** setupFinalization under way. */
  Finalizing = 'finalizing',
  /** Registration refused for a while (133015, 133016, 133008/133009); retried when the time is up. */
  Blocked = 'blocked',
  /** The number must be verified by a code first (133006). */
  AwaitingCode = 'awaiting-verification-code',
  /** Waiting for GetLinkedWhatsAppBusinessAccount to report COMPLETE. */
  Registering = 'registering',
  /** Waiting for a first event to reach the ingest service. */
  Verifying = 'verifying',
  Ready = 'ready',
  /** The 14-day registration deadline passed: signup must be redone. */
  Expired = 'expired',
  Cancelled = 'cancelled',
  Failed = 'failed',
}

export const FINAL_ONBOARDING_STEPS: readonly OnboardingStep[] = [
  OnboardingStep.Ready,
  OnboardingStep.Expired,
  OnboardingStep.Cancelled,
  OnboardingStep.Failed,
];

/** A WABA created by the signup (the operator chooses new PINs) or an existing one imported (its PINs). */
export enum WabaMode {
  New = 'new',
  Import = 'import',
}

export enum EventDestinationKind {
  NewTopic = 'new-topic',
  ExistingTopic = 'existing-topic',
  Connect = 'connect',
}

export type EventDestinationChoice =
  | { kind: EventDestinationKind.NewTopic; topicName?: string; kmsKeyId?: string }
  | { kind: EventDestinationKind.ExistingTopic; topicArn: string }
  | { kind: EventDestinationKind.Connect; instanceArn: string; roleArn: string };

export interface OnboardingTuning {
  /** Meta's registration window after embedded signup. */
  registrationWindowMs: number;
  /** How often a waiting onboarding reminds (log and status). */
  reminderEveryMs: number;
  /** 133015: the number was deleted recently; Meta asks to wait 5 minutes. */
  recentlyDeletedWaitMs: number;
  /** 133016: more than 10 register/deregister calls in 72 h block the number for 72 h. */
  registrationBlockMs: number;
  /** 133008 / 133009: too many or too fast PIN guesses. */
  tooManyGuessesWaitMs: number;
  /** First and longest pause between registration-status checks. */
  statusPollMs: number;
  statusPollMaxMs: number;
  /** How often the event archive is checked, in case the ingest service's signal is lost: first, then at most. */
  archivePollMs: number;
  archivePollMaxMs: number;
  /** How long registration may stay INCOMPLETE after a successful finalization. */
  completionTimeoutMs: number;
  /** How long to wait for a first event to reach the ingest service. */
  verificationTimeoutMs: number;
}

export const DEFAULT_ONBOARDING_TUNING: OnboardingTuning = {
  registrationWindowMs: 14 * 24 * 3600_000,
  reminderEveryMs: 24 * 3600_000,
  recentlyDeletedWaitMs: 5 * 60_000,
  registrationBlockMs: 72 * 3600_000,
  tooManyGuessesWaitMs: 3600_000,
  statusPollMs: 5_000,
  statusPollMaxMs: 5 * 60_000,
  archivePollMs: 5_000,
  archivePollMaxMs: 30 * 60_000,
  completionTimeoutMs: 24 * 3600_000,
  verificationTimeoutMs: 3 * 24 * 3600_000,
};

export interface OnboardingWorkflowInput {
  onboardingId: string;
  /** The embedded signup's Meta access token. Secret: it travels only inside encrypted payloads. */
  accessToken: string;
  /** When embedded signup finished (ISO); the 14-day registration deadline runs from here. */
  signupCompletedAt: string;
  wabaMode: WabaMode;
  eventDestination: EventDestinationChoice;
  /** Public URL of the ingest service's SNS endpoint; subscribed to the topic. */
  ingestUrl?: string;
  /** An AWS End User Messaging SMS number (id or ARN) that receives the verification code by two-way SMS. */
  twoWaySms?: { smsPhoneNumberId: string; roleArn?: string };
  tuning?: Partial<OnboardingTuning>;
}

export interface OnboardingNumberStatus {
  phoneNumberId: string;
  displayPhoneNumber: string;
  metaPhoneNumberId?: string;
  /** Whether a PIN is held for it (never the PIN itself). */
  pinProvided: boolean;
  dataLocalizationRegion?: string;
  /** What is wrong with the last attempt for this number, for the operator. */
  problem?: string;
  registered: boolean;
  /** What the campaign engine will use, once stored. */
  limits?: { mps: number; tierLimit: number | null; qualityRating?: string };
}

/** Policy documents the operator must apply where the workflow may not (KMS key, IAM role). */
export interface OnboardingDocuments {
  topicPolicyStatement?: string;
  kmsKeyPolicyStatement?: string;
  connectRolePermissions?: string;
  connectRoleTrust?: string;
}

export interface OnboardingStatus {
  onboardingId: string;
  step: OnboardingStep;
  /** What the workflow is waiting for, in words; absent while it works or once it has finished. */
  waitingFor?: string;
  signupCompletedAt: string;
  /** Registration deadline (ISO). */
  deadline: string;
  wabaMode: WabaMode;
  wabaId?: string;
  numbers: OnboardingNumberStatus[];
  eventDestination?: {
    arn: string;
    kind: EventDestinationKind;
    subscription: 'pending' | 'confirmed' | 'none';
  };
  documents: OnboardingDocuments;
  reminders: { sent: number; last?: string; next?: string };
  /** Until when registration is refused (133015, 133016 …). */
  blockedUntil?: string;
  lastError?: string;
  /** Why the onboarding ended (final steps). */
  reason?: string;
}

export type OnboardingResult = Pick<
  OnboardingStatus,
  'onboardingId' | 'step' | 'reason' | 'wabaId' | 'numbers'
>;

export interface SubmitPinInput {
  /** Which number; may be left out when only one still needs a PIN. */
  phoneNumberId?: string;
  pin: string;
  dataLocalizationRegion?: string;
}

export interface SubmitVerificationCodeInput {
  phoneNumberId?: string;
  code: string;
}

export interface CancelOnboardingInput {
  reason?: string;
}

/** The ingest service stored an event of the onboarding's WABA or number. */
export interface OnboardingEventSeen {
  field: string;
  wabaId?: string;
  phoneNumberId?: string;
  /** `current_limit` of a phone_number_quality_update (TIER_250 …). */
  currentLimit?: string;
  qualityRating?: string;
  /** events_raw id. */
  eventId?: number;
}

/** An inbound SMS carried a verification code for a number being onboarded. */
export interface VerificationCodeReceived {
  code: string;
  /** The two-way SMS number it arrived on (E.164). */
  destinationNumber?: string;
  /** The WhatsApp number it is for, when known. */
  phoneNumberId?: string;
  inboundMessageId?: string;
}

/** How one setupFinalization ended: the registration refusals the workflow handles itself are outcomes. */
export enum FinalizeOutcome {
  Done = 'done',
  /** 133005: a PIN does not match the one set on the number; the operator must give the right one. */
  PinMismatch = 'pin-mismatch',
  /** 133006: the number must be verified with a code first. */
  NeedsVerification = 'needs-verification',
  /** 133015: the number was deleted recently; retry after 5 minutes. */
  RecentlyDeleted = 'recently-deleted',
  /** 133016: too many register/deregister calls; blocked for 72 hours. */
  Blocked = 'blocked',
  /** 133008 / 133009: too many or too fast PIN guesses. */
  TooManyGuesses = 'too-many-guesses',
  /** The in-progress token is past the registration deadline: signup must be redone. */
  SignupExpired = 'signup-expired',
}
