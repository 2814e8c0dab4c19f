/**
 * What becomes of a recipient whose message failed, whichever way the failure arrived: an exception
 * from SendWhatsAppMessage (the send activity) or a `failed` status event (the ingest service). The
 * code's action comes from meta-errors.ts; this turns the action into the recipient's next state. Pure,
 * so the sender and the ingest decide alike and each writes the decisions with its own statements.
 */
import { ErrorAction, retryAtFor } from './meta-errors';

/** Where a failure was learnt: the two differ in what is known about the message. */
export enum FailureSource {
  /** SendWhatsAppMessage refused the call or gave no answer. */
  Send = 'send',
  /** The platform took the message and later reported it failed: a definite answer. */
  Status = 'status',
}

export interface FailureFacts {
  source: FailureSource;
  action: ErrorAction;
  /** Sends made to this recipient so far, counting the one that failed. */
  attempts: number;
  /** The deciding process's clock, epoch ms. */
  nowMs: number;
  /** When the platform says the message failed (status events); a daily cap counts from there. */
  failedAtMs?: number;
  /** The campaign's deadline, if it has one. */
  deadlineMs?: number;
}

/** The recipient's next state. */
export interface RecipientFailure {
  state: 'pending' | 'failed' | 'expired' | 'ambiguous';
  /** When a retried recipient is due again, epoch ms. */
  nextAttemptAtMs?: number;
  /** The failed try does not count against the recipient: the campaign was braked, not the user. */
  uncount?: boolean;
  /** The user opted out: never market to them again. */
  suppress?: boolean;
}

/** Actions that concern the whole campaign rather than one recipient: the campaign pauses or stops. */
export function brakesCampaign(action: ErrorAction): boolean {
  return (
    action === ErrorAction.PauseTemplate ||
    action === ErrorAction.StopTemplate ||
    action === ErrorAction.StopCampaign
  );
}

/** Decides what happens to one recipient for one failed message. */
export function decideRecipientFailure(f: FailureFacts): RecipientFailure {
  switch (f.action) {
    case ErrorAction.Suppress:
      return { state: 'failed', suppress: true };
    case ErrorAction.Drop:
      return { state: 'failed' };
    case ErrorAction.PauseTemplate:
      // The campaign pauses; this recipient waits for it and is sent again after the pause.
      return { state: 'pending', uncount: true };
    case ErrorAction.StopTemplate:
    case ErrorAction.StopCampaign:
      // A refused send never went out: the recipient waits with the unsent ones for the campaign's end.
      // A failed status is a message that did go out, so its failure is recorded.
      return f.source === FailureSource.Send ? { state: 'pending', uncount: true } : { state: 'failed' };
    case ErrorAction.Ambiguous:
      // Without an answer the platform may have the message: never resend blindly. A failed status
      // with an "unknown error" is a definite answer, so it is safe to retry like a transient one.
      return f.source === FailureSource.Send ? { state: 'ambiguous' } : retry(ErrorAction.RetryTransient, f);
    case ErrorAction.RetryBackoff:
    case ErrorAction.WaitUpgrade:
    case ErrorAction.RetryTransient:
    case ErrorAction.RetryNextDay:
      return retry(f.action, f);
  }
}

function retry(action: ErrorAction, f: FailureFacts): RecipientFailure {
  const at = retryAtFor(action, f.attempts, f.nowMs, Math.max(f.nowMs, f.failedAtMs ?? f.nowMs));
  if (at === undefined) return { state: 'failed' };
  if (f.deadlineMs !== undefined && at >= f.deadlineMs) return { state: 'expired' };
  return { state: 'pending', nextAttemptAtMs: at };
}
