import { SendWhatsAppMessageCommand, SocialMessagingServiceException } from '@aws-sdk/client-socialmessaging';
import type { CampaignRow, DueRow } from '../db/send-queue';
import { buildTemplateMessage } from '../platform/message';
import { bizOpaqueCallbackData } from '../shared/ids';
import { ErrorAction, actionForAwsError, actionForCode, metaCodeFromMessage } from '../shared/meta-errors';
import type { ActivityDeps } from './deps';
import { META_API_VERSION } from '../platform/meta-api';

/** How one SendWhatsAppMessage call ended, as the engine needs to know it. */
export type SendOutcome =
  | { kind: 'sent'; messageId: string }
  | { kind: 'error'; action: ErrorAction; code?: number; message: string }
  /** Not dispatched: the batch was braked before this message's slot, or the message was late for it. */
  | { kind: 'not-sent' };

/** Raised inside the AWS client when a message would leave after its slot's grace: it was never sent. */
class LateForSlotError extends Error {
  override name = 'LateForSlotError';
}

/**
 * One SendWhatsAppMessage call. `notAfterMs` is checked at the last step of the AWS client's pipeline,
 * after signing and just before the HTTP request is written, so a pause anywhere in between (garbage
 * collection, a busy event loop) cannot push a message past its slot's grace: it comes back unsent.
 */
export async function sendOne(
  deps: ActivityDeps,
  c: CampaignRow,
  row: DueRow,
  notAfterMs: number,
  clock: () => number,
): Promise<SendOutcome> {
  const command = new SendWhatsAppMessageCommand({
    originationPhoneNumberId: c.phoneNumberId,
    metaApiVersion: deps.metaApiVersion ?? META_API_VERSION,
    message: buildTemplateMessage({
      to: row.phone,
      templateName: c.templateName,
      templateLanguage: c.templateLanguage,
      bodyParameters: row.params,
      bizOpaqueCallbackData: bizOpaqueCallbackData(c.id, row.seq),
    }),
  });
  command.middlewareStack.add(
    (next) => (args) => {
      if (clock() > notAfterMs) throw new LateForSlotError('late for its send slot');
      return next(args);
    },
    { step: 'finalizeRequest', priority: 'low', name: 'waSlotDeadline' },
  );
  try {
    const out = await deps.socialMessaging.send(command);
    if (!out.messageId)
      return { kind: 'error', action: ErrorAction.Ambiguous, message: 'accepted without a message id' };
    return { kind: 'sent', messageId: out.messageId };
  } catch (err) {
    if (err instanceof LateForSlotError) return { kind: 'not-sent' };
    return classifySendError(err);
  }
}

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
    const action = actionForAwsError(err.name);
    // Transient trouble says enough by itself; other refusals keep the exception's name for the record.
    return {
      kind: 'error',
      action,
      message: action === ErrorAction.RetryTransient ? message : `${err.name}: ${message}`,
    };
  }
  return { kind: 'error', action: ErrorAction.Ambiguous, message };
}
