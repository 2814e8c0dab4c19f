import { linkedWabaId, phoneNumberId } from '../../platform/resource-ids';
import { asObject, asString, asTime, objects, parseMaybeJson, type JsonObject } from './shape';

/** One `changes[]` element of a Meta webhook entry. */
export interface WebhookChange {
  field: string;
  value: JsonObject;
}

/** One Meta webhook entry: the changes of one WhatsApp Business Account. */
export interface WebhookEntry {
  /** The Meta WABA id. */
  id?: string;
  changes: WebhookChange[];
}

/** The AWS identities the platform attaches to an event. */
export interface EventContext {
  /** AWS WABA ids (`waba-<hex>`), from the ARNs in `MetaWabaIds`. */
  wabaIds: string[];
  /** AWS phone number ids (`phone-number-id-<hex>`), from the ARNs in `MetaPhoneNumberIds`. */
  phoneNumberIds: string[];
}

/** The SNS `Message` of a WhatsApp event, parsed down to its Meta entries. */
export interface PlatformMessage {
  context: EventContext;
  entries: WebhookEntry[];
  awsAccountId?: string;
  /** When AWS published it. */
  publishedAt?: Date;
  /** AWS's own id of the event (`messageId`, a UUID), where the envelope carries one. */
  eventId?: string;
}

/** Why a `Message` could not be read as a WhatsApp event; kept with the raw event. */
export class UnrecognizedMessage extends Error {
  override name = 'UnrecognizedMessage';
}

function readContext(raw: unknown): EventContext {
  const ctx = asObject(raw) ?? {};
  const unique = (ids: (string | undefined)[]) => [
    ...new Set(ids.filter((id): id is string => id !== undefined)),
  ];
  return {
    wabaIds: unique(objects(ctx.MetaWabaIds).map((w) => linkedWabaId(asString(w.arn)))),
    phoneNumberIds: unique(objects(ctx.MetaPhoneNumberIds).map((p) => phoneNumberId(asString(p.arn)))),
  };
}

function readEntry(raw: JsonObject): WebhookEntry {
  const changes = objects(raw.changes).flatMap((c) => {
    const field = asString(c.field);
    // A change without a field cannot be acted on; the raw event still holds it.
    return field ? [{ field, value: asObject(c.value) ?? {} }] : [];
  });
  const id = asString(raw.id);
  return id === undefined ? { changes } : { id, changes };
}

/**
 * `whatsAppWebhookEntry` is a JSON string of one Meta entry. Tolerated as well: an object instead of a
 * string, an array of entries, or Meta's own webhook body `{object, entry: [...]}`.
 */
function readEntries(raw: unknown): WebhookEntry[] {
  const parsed = parseMaybeJson(raw);
  if (Array.isArray(parsed)) return objects(parsed).map(readEntry);
  const obj = asObject(parsed);
  if (!obj) throw new UnrecognizedMessage('whatsAppWebhookEntry is not a JSON object');
  if (Array.isArray(obj.entry)) return objects(obj.entry).map(readEntry);
  return [readEntry(obj)];
}

/**
 * Levels two and three of the envelope: the SNS `Message` string, then the `whatsAppWebhookEntry`
 * string inside it. Unknown fields are ignored here and kept in the raw event.
 */
export function parsePlatformMessage(message: unknown): PlatformMessage {
  const obj = asObject(parseMaybeJson(message));
  if (!obj) throw new UnrecognizedMessage('Message is not a JSON object');
  if (obj.whatsAppWebhookEntry === undefined) {
    throw new UnrecognizedMessage('Message has no whatsAppWebhookEntry (not a WhatsApp event)');
  }
  const result: PlatformMessage = {
    context: readContext(obj.context),
    entries: readEntries(obj.whatsAppWebhookEntry),
  };
  const account = asString(obj.aws_account_id);
  if (account) result.awsAccountId = account;
  const publishedAt = asTime(obj.message_timestamp);
  if (publishedAt) result.publishedAt = publishedAt;
  const eventId = asString(obj.messageId);
  if (eventId) result.eventId = eventId;
  return result;
}
