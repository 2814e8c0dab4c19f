/** Builders for platform events in the envelope AWS End User Messaging Social publishes to SNS. */

export const ACCOUNT_ID = '210987654321';
export const META_WABA_ID = '104729385610234';
export const WABA_HEX = '5e0c1f2a9b8d4c7e8a6b3d2f1e0c9b8a';
export const WABA_ARN = `arn:aws:social-messaging:eu-west-1:${ACCOUNT_ID}:waba/${WABA_HEX}`;
export const WABA_ID = `waba-${WABA_HEX}`;
export const META_PHONE_ID = '620118374520961';
export const PHONE_HEX = '9f3e2d1c0b4a48e6a7c5d3b1f0e2c4a6';
export const PHONE_ARN = `arn:aws:social-messaging:eu-west-1:${ACCOUNT_ID}:phone-number-id/${PHONE_HEX}`;
export const PHONE_NUMBER_ID = `phone-number-id-${PHONE_HEX}`;
export const DISPLAY_NUMBER = '447700900123';
export const TOPIC_ARN = `arn:aws:sns:eu-west-1:${ACCOUNT_ID}:wa-events`;

export interface Change {
  field: string;
  value: Record<string, unknown>;
}

const metadata = { display_phone_number: DISPLAY_NUMBER, phone_number_id: META_PHONE_ID };
const secs = (ms: number) => String(Math.floor(ms / 1000));

/**
 * The SNS `Message` string: context with the ARNs, and `whatsAppWebhookEntry` as a JSON string of one
 * Meta entry. `phone: false` leaves MetaPhoneNumberIds empty, as for WABA-level events.
 */
export function platformMessage(
  changes: Change[],
  opts: { phone?: boolean; extra?: Record<string, unknown> } = {},
): string {
  return JSON.stringify({
    context: {
      MetaWabaIds: [{ wabaId: META_WABA_ID, arn: WABA_ARN }],
      MetaPhoneNumberIds: opts.phone === false ? [] : [{ metaPhoneNumberId: META_PHONE_ID, arn: PHONE_ARN }],
    },
    whatsAppWebhookEntry: JSON.stringify({ id: META_WABA_ID, changes }),
    aws_account_id: ACCOUNT_ID,
    message_timestamp: new Date().toISOString(),
    ...opts.extra,
  });
}

/** `phone-number-id-<hex>`'s ARN, as AWS names a number in an event's context. */
export function phoneArn(hex: string): string {
  return `arn:aws:social-messaging:eu-west-1:${ACCOUNT_ID}:phone-number-id/${hex}`;
}

/**
 * The SNS `Message` of an event about the number `phone-number-id-<hex>` alone (no WABA in the
 * context), published by AWS at `at` (`message_timestamp`; null leaves it out).
 */
export function numberMessage(hex: string, changes: Change[], at: Date | null = new Date()): string {
  return platformMessage(changes, {
    extra: {
      context: { MetaWabaIds: [], MetaPhoneNumberIds: [{ metaPhoneNumberId: hex, arn: phoneArn(hex) }] },
      message_timestamp: at?.toISOString(),
    },
  });
}

export interface StatusInput {
  id: string;
  status: string;
  recipient?: string;
  biz?: string;
  atMs?: number;
  errors?: { code: number; title?: string; message?: string }[];
  pricing?: Record<string, unknown>;
  conversation?: Record<string, unknown>;
}

export function statusObject(s: StatusInput): Record<string, unknown> {
  return {
    id: s.id,
    status: s.status,
    timestamp: secs(s.atMs ?? Date.now()),
    recipient_id: s.recipient ?? '447700900001',
    ...(s.biz ? { biz_opaque_callback_data: s.biz } : {}),
    ...(s.conversation ? { conversation: s.conversation } : {}),
    ...(s.pricing ? { pricing: s.pricing } : {}),
    ...(s.errors
      ? {
          errors: s.errors.map((e) => ({
            code: e.code,
            title: e.title ?? `error ${e.code}`,
            message: e.message ?? `error ${e.code}`,
            error_data: { details: `details of ${e.code}` },
          })),
        }
      : {}),
  };
}

export function statusChange(...statuses: StatusInput[]): Change {
  return {
    field: 'messages',
    value: { messaging_product: 'whatsapp', metadata, statuses: statuses.map(statusObject) },
  };
}

export function inboundChange(
  ...messages: {
    from: string;
    id: string;
    text?: string;
    atMs?: number;
    type?: string;
    extra?: Record<string, unknown>;
  }[]
): Change {
  return {
    field: 'messages',
    value: {
      messaging_product: 'whatsapp',
      metadata,
      contacts: messages.map((m) => ({ profile: { name: 'Test User' }, wa_id: m.from })),
      messages: messages.map((m) => ({
        from: m.from,
        id: m.id,
        timestamp: secs(m.atMs ?? Date.now()),
        type: m.type ?? 'text',
        ...(m.text !== undefined ? { text: { body: m.text } } : {}),
        ...m.extra,
      })),
    },
  };
}

export function userPreferenceChange(
  waId: string,
  value: string,
  atMs = Date.now(),
  category = 'marketing_messages',
): Change {
  return {
    field: 'user_preferences',
    value: {
      messaging_product: 'whatsapp',
      metadata,
      contacts: [{ profile: { name: 'Test User' }, wa_id: waId }],
      user_preferences: [
        {
          wa_id: waId,
          detail: `User requested to ${value} marketing messages`,
          category,
          value,
          timestamp: Math.floor(atMs / 1000),
        },
      ],
    },
  };
}

export function templateStatusChange(name: string, language: string, event: string, title?: string): Change {
  return {
    field: 'message_template_status_update',
    value: {
      event,
      message_template_id: 884422,
      message_template_name: name,
      message_template_language: language,
      reason: 'NONE',
      ...(title ? { other_info: { title, description: `${title} description` } } : {}),
    },
  };
}

export function templateQualityChange(
  name: string,
  language: string,
  previous: string,
  next: string,
): Change {
  return {
    field: 'message_template_quality_update',
    value: {
      previous_quality_score: previous,
      new_quality_score: next,
      message_template_id: 884422,
      message_template_name: name,
      message_template_language: language,
    },
  };
}

export function phoneQualityChange(
  event: string,
  currentLimit: string,
  extra: Record<string, unknown> = {},
): Change {
  return {
    field: 'phone_number_quality_update',
    value: { display_phone_number: DISPLAY_NUMBER, event, current_limit: currentLimit, ...extra },
  };
}

export function accountUpdateChange(event: string, extra: Record<string, unknown> = {}): Change {
  return { field: 'account_update', value: { event, ...extra } };
}
