import { SocialMessagingServiceException } from '@aws-sdk/client-socialmessaging';
import { ErrorAction, actionForCode, metaCodeFromMessage } from '../shared/meta-errors';

/** How one SendWhatsAppMessage call ended, as the engine needs to know it. */
export type SendOutcome =
  | { kind: 'sent'; messageId: string }
  | { kind: 'error'; action: ErrorAction; code?: number; message: string }
  /** Not dispatched: the batch was braked before this message's slot. */
  | { kind: 'not-sent' };

/**
 * Classifies an error from SendWhatsAppMessage. A Meta code in the message decides; without one, the
 * AWS error type does. No answer at all (time-out, reset connection) means the platform may have taken
 * the message, so it is ambiguous rather than retried.
 */
export function classifySendError(err: unknown): SendOutcome {
  const message = err instanceof Error ? err.message : String(err);
  const code = metaCodeFromMessage(message);
  if (code !== undefined) return { kind: 'error', action: actionForCode(code), code, message };
  if (err instanceof SocialMessagingServiceException) {
    switch (err.name) {
      case 'ThrottledRequestException':
      case 'InternalServiceException':
      case 'DependencyException':
        return { kind: 'error', action: ErrorAction.RetryTransient, message };
      // SendWhatsAppMessage models AccessDeniedException for Meta's account-level refusals; other
      // operations use AccessDeniedByMetaException for the same, so either stops the campaign.
      case 'AccessDeniedException':
      case 'AccessDeniedByMetaException':
      case 'ResourceNotFoundException':
        return { kind: 'error', action: ErrorAction.StopCampaign, message: `${err.name}: ${message}` };
      default:
        return { kind: 'error', action: ErrorAction.Drop, message: `${err.name}: ${message}` };
    }
  }
  return { kind: 'error', action: ErrorAction.Ambiguous, message };
}
