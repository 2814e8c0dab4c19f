import type {
  NumberStatusSignal,
  OnboardingEventSeen,
  TemplateStatusSignal,
  VerificationCodeReceived,
} from '../../workflows/definitions';

/** A workflow signal decided while applying an event, sent once the event's transaction commits. */
export type PlannedSignal =
  | { kind: 'campaign-template'; workflowId: string; payload: TemplateStatusSignal }
  | { kind: 'campaign-stop'; workflowId: string; payload: NumberStatusSignal }
  | { kind: 'number-status'; workflowId: string; phoneNumberId: string; payload: NumberStatusSignal }
  /** An event of an onboarding's WABA or number was stored (sent with `reportOnboardingEvent`). */
  | { kind: 'onboarding-event'; workflowId: string; payload: OnboardingEventSeen }
  /** An inbound SMS carried a verification code (sent with `deliverVerificationCode`). */
  | { kind: 'verification-code'; workflowId: string; payload: VerificationCodeReceived };
