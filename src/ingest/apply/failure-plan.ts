import { ErrorAction, retryAtFor } from '../../shared/meta-errors';

export interface FailureFacts {
  action: ErrorAction;
  /** Sends made to this recipient so far, counting the one that failed. */
  attempts: number;
  /** The service's clock. */
  nowMs: number;
  /** When the platform says the message failed. */
  failedAtMs: number;
  /** The campaign's deadline, if it has one. */
  deadlineMs?: number;
}

/** What becomes of a recipient whose message the platform reports as failed. */
export interface FailurePlan {
  state: 'pending' | 'failed' | 'expired';
  nextAttemptAt?: Date;
  /** The failed try does not count against the recipient (the campaign was braked, not the user). */
  uncount?: boolean;
  suppress?: boolean;
}

function retryAt(f: FailureFacts): number | undefined {
  // A failed status is a definite answer, so an "unknown error" is safe to retry like a transient one.
  const action = f.action === ErrorAction.Ambiguous ? ErrorAction.RetryTransient : f.action;
  return retryAtFor(action, f.attempts, f.nowMs, Math.max(f.nowMs, f.failedAtMs));
}

const RETRYABLE = new Set([
  ErrorAction.RetryBackoff,
  ErrorAction.WaitUpgrade,
  ErrorAction.RetryTransient,
  ErrorAction.Ambiguous,
  ErrorAction.RetryNextDay,
]);

/** The engine's rule for a failed message (see src/shared/meta-errors.ts), applied to an event. */
export function planFailure(f: FailureFacts): FailurePlan {
  switch (f.action) {
    case ErrorAction.Suppress:
      return { state: 'failed', suppress: true };
    case ErrorAction.PauseTemplate:
      // The campaign pauses; this recipient waits for it and is sent again after the pause.
      return { state: 'pending', uncount: true };
    case ErrorAction.StopTemplate:
    case ErrorAction.StopCampaign:
    case ErrorAction.Drop:
      return { state: 'failed' };
    default:
      break;
  }
  if (!RETRYABLE.has(f.action)) return { state: 'failed' };
  const at = retryAt(f);
  if (at === undefined) return { state: 'failed' };
  if (f.deadlineMs !== undefined && at >= f.deadlineMs) return { state: 'expired' };
  return { state: 'pending', nextAttemptAt: new Date(at) };
}
