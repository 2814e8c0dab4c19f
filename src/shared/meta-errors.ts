/**
 * What the engine does with each Meta error code, whether it arrives as an exception from
 * SendWhatsAppMessage (the code inside the message text, e.g. "(#131056)") or in a `failed` status event.
 * Pure data and functions: imported by workflows and activities alike.
 */

export enum ErrorAction {
  /** Retry this recipient after 4^X seconds (pair rate, throughput). */
  RetryBackoff = 'retry-backoff',
  /** The number is being upgraded or in maintenance: wait about a minute, then retry. */
  WaitUpgrade = 'wait-upgrade',
  /** Per-user marketing cap: retry this recipient no sooner than 24 h later. */
  RetryNextDay = 'retry-next-day',
  /** Transient platform trouble: retry with backoff, a few times. */
  RetryTransient = 'retry-transient',
  /** The platform may have sent it anyway: never resend blindly. */
  Ambiguous = 'ambiguous',
  /** The user stopped marketing messages: never retry, suppress them. */
  Suppress = 'suppress',
  /** Permanent for this recipient: record and move on. */
  Drop = 'drop',
  /** The template was paused: pause the campaign. */
  PauseTemplate = 'pause-template',
  /** The template is disabled or broken: stop the campaign. */
  StopTemplate = 'stop-template',
  /** Account-level trouble: stop the campaign. */
  StopCampaign = 'stop-campaign',
}

const ACTIONS: ReadonlyMap<number, ErrorAction> = new Map([
  [130429, ErrorAction.RetryBackoff],
  [131056, ErrorAction.RetryBackoff],
  [131057, ErrorAction.WaitUpgrade],
  [2494100, ErrorAction.WaitUpgrade],
  [131000, ErrorAction.Ambiguous],
  [131016, ErrorAction.RetryTransient],
  [2, ErrorAction.RetryTransient],
  [133004, ErrorAction.RetryTransient],
  [4, ErrorAction.RetryTransient],
  [80007, ErrorAction.RetryTransient],
  [131049, ErrorAction.RetryNextDay],
  [131050, ErrorAction.Suppress],
  [131026, ErrorAction.Drop],
  [130472, ErrorAction.Drop],
  [131047, ErrorAction.Drop],
  [100, ErrorAction.Drop],
  [131048, ErrorAction.StopCampaign],
  [131031, ErrorAction.StopCampaign],
  [368, ErrorAction.StopCampaign],
  [131042, ErrorAction.StopCampaign],
  // The template itself cannot be sent (missing in that language, paused, disabled, against the
  // format policy): every further message would fail alike.
  [132001, ErrorAction.StopTemplate],
  [132007, ErrorAction.StopTemplate],
  [132015, ErrorAction.PauseTemplate],
  [132016, ErrorAction.StopTemplate],
  // One message's parameters or text do not fit the template (count, format, tabs or newlines, a
  // translation too long): the others may be fine, so only this recipient fails.
  [132000, ErrorAction.Drop],
  [132005, ErrorAction.Drop],
  [132012, ErrorAction.Drop],
  [132018, ErrorAction.Drop],
]);

/** The action for a Meta code; unknown codes are treated as permanent for that one recipient. */
export function actionForCode(code: number): ErrorAction {
  return ACTIONS.get(code) ?? ErrorAction.Drop;
}

/**
 * The action for an AWS exception from SendWhatsAppMessage that carries no Meta code: its documented
 * throttling and service errors are transient, a missing or forbidden resource concerns every message,
 * anything else only this one.
 */
export function actionForAwsError(name: string): ErrorAction {
  switch (name) {
    case 'ThrottledRequestException':
    case 'InternalServiceException':
    case 'DependencyException':
      return ErrorAction.RetryTransient;
    // SendWhatsAppMessage models AccessDeniedException for Meta's account-level refusals; other
    // operations use AccessDeniedByMetaException for the same, so either stops the campaign.
    case 'AccessDeniedException':
    case 'AccessDeniedByMetaException':
    case 'ResourceNotFoundException':
      return ErrorAction.StopCampaign;
    default:
      return ErrorAction.Drop;
  }
}

/** Finds the Meta code AWS carries in an error message, e.g. "… (#131056) …". */
export function metaCodeFromMessage(message: string | undefined): number | undefined {
  const match = message ? /\(#(\d+)\)/.exec(message) : null;
  return match?.[1] ? Number(match[1]) : undefined;
}

/** Seconds to wait before retry number `tries` (0-based) of a rate-limited send: 4^X, capped. */
export function backoffSeconds(tries: number, capSeconds = 1024): number {
  return Math.min(4 ** Math.max(0, tries), capSeconds);
}

/** Short human reasons for the codes that stop a campaign. */
export function describeCode(code: number): string {
  switch (code) {
    case 131048:
      return 'spam rate limit hit (131048)';
    case 131031:
      return 'business account locked (131031)';
    case 368:
      return 'temporarily blocked for policy violations (368)';
    case 131042:
      return 'business eligibility / payment problem (131042)';
    case 132015:
      return 'template paused (132015)';
    case 132016:
      return 'template disabled (132016)';
    case 132001:
      return 'template does not exist in that language (132001)';
    default:
      return `platform error ${code}`;
  }
}

/** Tries a recipient gets for each kind of retry, counting the first send. */
const MAX_RATE_LIMIT_TRIES = 10;
const MAX_TRANSIENT_TRIES = 8;
const MAX_NEXT_DAY_TRIES = 3;

/**
 * When a recipient whose send failed with `action` is tried again (epoch ms), or undefined when its tries
 * are used up or the action is not retried. `attempts` counts the send that failed. Next-day retries count
 * from `nextDayFromMs` (when the daily cap was hit), a minute past Meta's 24 h for clock differences. The
 * send activity and the ingest service (failed statuses) share this schedule, so a code means the same
 * whichever way it arrives.
 */
export function retryAtFor(
  action: ErrorAction,
  attempts: number,
  nowMs: number,
  nextDayFromMs = nowMs,
): number | undefined {
  switch (action) {
    case ErrorAction.RetryBackoff:
      return attempts < MAX_RATE_LIMIT_TRIES ? nowMs + backoffSeconds(attempts - 1) * 1000 : undefined;
    case ErrorAction.WaitUpgrade:
      return attempts < MAX_RATE_LIMIT_TRIES ? nowMs + 60_000 : undefined;
    case ErrorAction.RetryTransient:
      return attempts < MAX_TRANSIENT_TRIES ? nowMs + Math.min(2 ** attempts, 300) * 1000 : undefined;
    case ErrorAction.RetryNextDay:
      return attempts < MAX_NEXT_DAY_TRIES ? nextDayFromMs + 24 * 3600_000 + 60_000 : undefined;
    default:
      return undefined;
  }
}
