import { toWaId } from '../ids';
import type { PhoneNumberState, TemplateState } from '../world/state';

/** One `changes[]` element of a Meta webhook entry. */
export interface WebhookChange {
  field: string;
  value: Record<string, unknown>;
}

/** A status in `value.statuses[]`. */
export interface StatusObject {
  id: string;
  status: 'sent' | 'delivered' | 'read' | 'failed';
  timestamp: string;
  recipient_id: string;
  biz_opaque_callback_data?: string;
  conversation?: { id: string; expiration_timestamp?: string; origin: { type: string } };
  pricing?: { billable: boolean; pricing_model: string; category: string; type: string };
  errors?: { code: number; title: string; message: string; error_data: { details: string }; href: string }[];
}

/** Meta timestamps are Unix seconds as strings. */
export const unixSeconds = (ms: number): string => String(Math.floor(ms / 1000));

function metadata(phone: PhoneNumberState): Record<string, string> {
  return { display_phone_number: toWaId(phone.displayPhoneNumber), phone_number_id: phone.metaPhoneNumberId };
}

/** `messages` change carrying one status of an outbound message. */
export function statusChange(phone: PhoneNumberState, status: StatusObject): WebhookChange {
  return {
    field: 'messages',
    value: { messaging_product: 'whatsapp', metadata: metadata(phone), statuses: [status] },
  };
}

/** `messages` change carrying one inbound text message. */
export function inboundTextChange(
  phone: PhoneNumberState,
  msg: { from: string; name: string; id: string; atMs: number; text: string },
): WebhookChange {
  return {
    field: 'messages',
    value: {
      messaging_product: 'whatsapp',
      metadata: metadata(phone),
      contacts: [{ profile: { name: msg.name }, wa_id: msg.from }],
      messages: [
        {
          from: msg.from,
          id: msg.id,
          timestamp: unixSeconds(msg.atMs),
          type: 'text',
          text: { body: msg.text },
        },
      ],
    },
  };
}

/** `message_template_status_update` change. */
export function templateStatusChange(
  template: TemplateState,
  event: string,
  reason: string,
  otherInfo?: { title: string; description: string },
): WebhookChange {
  return {
    field: 'message_template_status_update',
    value: {
      event,
      message_template_id: Number(template.metaTemplateId),
      message_template_name: template.name,
      message_template_language: template.language,
      reason,
      ...(otherInfo ? { other_info: otherInfo } : {}),
    },
  };
}

/** `message_template_quality_update` change. */
export function templateQualityChange(
  template: TemplateState,
  previous: string,
  next: string,
): WebhookChange {
  return {
    field: 'message_template_quality_update',
    value: {
      previous_quality_score: previous,
      new_quality_score: next,
      message_template_id: Number(template.metaTemplateId),
      message_template_name: template.name,
      message_template_language: template.language,
    },
  };
}

/** `phone_number_quality_update` change. */
export function phoneQualityChange(phone: PhoneNumberState, event: string): WebhookChange {
  return {
    field: 'phone_number_quality_update',
    value: { display_phone_number: toWaId(phone.displayPhoneNumber), event, current_limit: phone.tier },
  };
}

/** `user_preferences` change: a user stopped or resumed marketing messages. */
export function userPreferencesChange(
  phone: PhoneNumberState,
  user: { waId: string; name: string },
  value: 'stop' | 'resume',
  atMs: number,
): WebhookChange {
  return {
    field: 'user_preferences',
    value: {
      messaging_product: 'whatsapp',
      metadata: metadata(phone),
      contacts: [{ profile: { name: user.name }, wa_id: user.waId }],
      user_preferences: [
        {
          wa_id: user.waId,
          detail:
            value === 'stop'
              ? 'User requested to stop marketing messages'
              : 'User requested to resume marketing messages',
          category: 'marketing_messages',
          value,
          timestamp: Math.floor(atMs / 1000),
        },
      ],
    },
  };
}
