import { sql } from 'drizzle-orm';
import type { Database } from './client';
import { queryRows } from './query';

export interface RecordOnboardingInput {
  onboardingId: string;
  step: string;
  waitingFor?: string;
  /** ISO. */
  deadline: string;
  wabaId?: string;
  eventDestinationArn?: string;
  smsNumber?: string;
  reason?: string;
  final?: boolean;
  numbers?: {
    phoneNumberId: string;
    displayPhoneNumber: string;
    metaPhoneNumberId?: string;
    state: string;
  }[];
}

/**
 * Mirrors an onboarding's progress into `onboardings` / `onboarding_numbers`: where the ingest service
 * looks up which workflow an event or SMS belongs to. Upserts only; no secret is ever among the values.
 */
export async function recordOnboarding(db: Database, input: RecordOnboardingInput): Promise<void> {
  await db.transaction(async (tx) => {
    await tx.execute(
      sql`insert into onboardings (id, waba_id, step, waiting_for, deadline, event_destination_arn, sms_number, reason, finished_at)
          values (${input.onboardingId}, ${input.wabaId ?? null}, ${input.step}, ${input.waitingFor ?? null},
                  ${input.deadline}::timestamptz, ${input.eventDestinationArn ?? null}, ${input.smsNumber ?? null},
                  ${input.reason ?? null}, ${input.final ? sql`now()` : null})
          on conflict (id) do update set
            waba_id = coalesce(excluded.waba_id, onboardings.waba_id),
            step = excluded.step,
            waiting_for = excluded.waiting_for,
            event_destination_arn = coalesce(excluded.event_destination_arn, onboardings.event_destination_arn),
            sms_number = coalesce(excluded.sms_number, onboardings.sms_number),
            reason = excluded.reason,
            finished_at = coalesce(onboardings.finished_at, excluded.finished_at),
            updated_at = now()`,
    );
    for (const n of input.numbers ?? []) {
      await tx.execute(
        sql`insert into onboarding_numbers (onboarding_id, phone_number_id, display_phone_number, meta_phone_number_id, state)
            values (${input.onboardingId}, ${n.phoneNumberId}, ${n.displayPhoneNumber}, ${n.metaPhoneNumberId ?? null}, ${n.state})
            on conflict (onboarding_id, phone_number_id) do update set
              display_phone_number = excluded.display_phone_number,
              meta_phone_number_id = coalesce(excluded.meta_phone_number_id, onboarding_numbers.meta_phone_number_id),
              state = excluded.state,
              updated_at = now()`,
      );
    }
  });
}

export interface OnboardingLookup {
  /** AWS WABA id (`waba-…`). */
  wabaId?: string;
  /** AWS phone number id (`phone-number-id-…`). */
  phoneNumberId?: string;
  /** E.164 of a two-way SMS number (an inbound SMS's destinationNumber). */
  smsNumber?: string;
}

/**
 * Ids of the onboardings still running that concern a WABA, a number or a two-way SMS number; the
 * ingest service signals `onboarding:<id>` for each. Works inside the ingest service's transactions.
 */
export async function activeOnboardingsFor(
  db: Pick<Database, 'execute'>,
  lookup: OnboardingLookup,
): Promise<string[]> {
  const digits = lookup.smsNumber?.replace(/\D/g, '');
  if (!lookup.wabaId && !lookup.phoneNumberId && !digits) return [];
  const rows = await queryRows<{ id: string }>(
    db,
    sql`select o.id from onboardings o
        where o.finished_at is null and (
          ${lookup.wabaId ? sql`o.waba_id = ${lookup.wabaId}` : sql`false`}
          or ${digits ? sql`regexp_replace(coalesce(o.sms_number, ''), '[^0-9]', '', 'g') = ${digits}` : sql`false`}
          or ${
            lookup.phoneNumberId
              ? sql`exists (select 1 from onboarding_numbers n where n.onboarding_id = o.id and n.phone_number_id = ${lookup.phoneNumberId})`
              : sql`false`
          })
        order by o.created_at`,
  );
  return rows.map((r) => r.id);
}
