import { sql } from 'drizzle-orm';
import type { Database } from '../../db/client';
import { num, queryRows } from '../../db/query';
import { phoneNumberArnResource, wabaArnResource } from '../../platform/resource-ids';
import { SMS_ONLY_TOPIC_NOTE } from '../../shared/archive-notes';
import type { OnboardingEventSeen } from '../../workflows/definitions';
import { parseInboundSms } from '../../platform/inbound-sms';

/**
 * Fallbacks that read the ingest service's archive (events_raw) directly. The ingest service signals
 * the onboarding workflow when it stores an event for it; these find the same evidence if that signal
 * is lost or the ingest service predates it. Only authenticated notifications count: forged or refused
 * deliveries are archived with outcome `rejected`, and WhatsApp events from a topic accepted for inbound SMS
 * only are not evidence either.
 */

export interface FindOnboardingEventInput {
  wabaId: string;
  phoneNumberIds: string[];
  /** Only events received after this (epoch ms). */
  sinceMs: number;
}

interface ArchivedRow {
  id: unknown;
  message: string | null;
}

/** ARN suffixes AWS puts in an event's context: `waba/<hex>` and `phone-number-id/<hex>`. */
function arnSuffixes(input: FindOnboardingEventInput): string[] {
  return [wabaArnResource(input.wabaId), ...input.phoneNumberIds.map(phoneNumberArnResource)];
}

/** The newest archived WhatsApp event of the WABA or its numbers since `sinceMs`, if any. */
export async function findOnboardingEvent(
  db: Database,
  input: FindOnboardingEventInput,
): Promise<OnboardingEventSeen | null> {
  const matches = arnSuffixes(input).map((s) => sql`body->>'Message' like ${`%${s}"%`}`);
  const rows = await queryRows<ArchivedRow>(
    db,
    sql`select id, body->>'Message' as message from events_raw
        where received_at >= ${new Date(input.sinceMs).toISOString()}::timestamptz and outcome <> 'rejected'
          and coalesce(error, '') not like ${`%${SMS_ONLY_TOPIC_NOTE}%`}
          and body->>'Type' = 'Notification' and (${sql.join(matches, sql` or `)})
        order by id desc limit 20`,
  );
  for (const row of rows) {
    const seen = describeEvent(row.message);
    if (seen) return { ...seen, eventId: num(row.id) };
  }
  return null;
}

/** Field, limit and quality of the first change of a WhatsApp event `Message`. */
function describeEvent(message: string | null): Omit<OnboardingEventSeen, 'eventId'> | undefined {
  try {
    const outer = JSON.parse(message ?? '') as { whatsAppWebhookEntry?: unknown };
    const entry = (
      typeof outer.whatsAppWebhookEntry === 'string'
        ? JSON.parse(outer.whatsAppWebhookEntry)
        : outer.whatsAppWebhookEntry
    ) as { changes?: { field?: string; value?: Record<string, unknown> }[] } | undefined;
    const change = entry?.changes?.[0];
    if (!change?.field) return undefined;
    const limit = change.value?.current_limit;
    const quality = change.value?.quality_rating ?? change.value?.new_quality_rating;
    return {
      field: change.field,
      ...(typeof limit === 'string' ? { currentLimit: limit } : {}),
      ...(typeof quality === 'string' ? { qualityRating: quality } : {}),
    };
  } catch {
    return undefined;
  }
}

export interface FindVerificationCodeInput {
  /** E.164 of the two-way SMS number. */
  destinationNumber: string;
  sinceMs: number;
}

/** The newest verification code that arrived by SMS on that number since `sinceMs`, if any. */
export async function findVerificationCode(
  db: Database,
  input: FindVerificationCodeInput,
): Promise<{ code: string; inboundMessageId?: string } | null> {
  const rows = await queryRows<ArchivedRow>(
    db,
    sql`select id, body->>'Message' as message from events_raw
        where received_at >= ${new Date(input.sinceMs).toISOString()}::timestamptz and outcome <> 'rejected'
          and body->>'Type' = 'Notification' and body->>'Message' like ${'%"destinationNumber"%'}
        order by id desc limit 50`,
  );
  const wanted = input.destinationNumber.replace(/\D/g, '');
  for (const row of rows) {
    const sms = parseInboundSms(row.message);
    if (sms?.code && sms.destinationNumber.replace(/\D/g, '') === wanted) {
      return { code: sms.code, ...(sms.inboundMessageId ? { inboundMessageId: sms.inboundMessageId } : {}) };
    }
  }
  return null;
}
