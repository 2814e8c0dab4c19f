import type { Surface } from '../meta/error-catalog';

/** A send the platform accepted (it got a message id), in arrival order. */
export interface SendRecord {
  index: number;
  messageId: string;
  originationPhoneNumberId: string;
  /** Recipient wa_id (digits). */
  to: string;
  type: string;
  template?: { name: string; language: string } | undefined;
  acceptedAtMs: number;
  bizOpaqueCallbackData?: string | undefined;
  /** The Cloud API message object as sent. */
  body: unknown;
  /** Set when the platform accepted the send but will report it `failed` (async surface). */
  asyncFailureCode?: number | undefined;
}

/** A send (or other call) the platform refused, synchronously or by a later `failed` event. */
export interface RejectionRecord {
  index: number;
  atMs: number;
  operation: string;
  originationPhoneNumberId?: string | undefined;
  to?: string | undefined;
  template?: { name: string; language: string } | undefined;
  /** Meta error code, or null for AWS-level refusals (bad input, unknown number, quotas). */
  code: number | null;
  awsError?: string | undefined;
  surface: Surface;
  messageId?: string | undefined;
  /** Short machine reason: throughput, pair-rate, template-paused, fault, validation … */
  reason: string;
  message: string;
}

/** A rule of the platform the sender broke in a way a real number pays for (the tier). */
export interface ViolationRecord {
  index: number;
  atMs: number;
  kind: 'messaging-limit';
  originationPhoneNumberId: string;
  to: string;
  messageId?: string | undefined;
  scopeKey: string;
  tier: string;
  limit: number;
  used: number;
  action: 'fail-async' | 'reject' | 'accept';
}

/** An event the platform published (whether or not anyone was subscribed). */
export interface EventRecord {
  index: number;
  atMs: number;
  field: string;
  wabaId: string;
  phoneNumberId?: string | undefined;
  topicArn?: string | undefined;
  /** The SNS `Message` string (the AWS envelope around one Meta webhook entry). */
  message: string;
}
