import { sql } from 'drizzle-orm';
import { queryRows } from '../../db/query';
import { asString, type JsonObject } from '../events/shape';
import type { ApplyContext } from './context';

/**
 * The AWS phone number id an event concerns. AWS names it in the envelope's context (the ARN suffix);
 * when it does not, a number we know by its display number is used.
 */
export async function resolvePhoneNumberId(
  ctx: ApplyContext,
  metadata: JsonObject | undefined,
  displayPhoneNumber = asString(metadata?.display_phone_number),
): Promise<string | undefined> {
  if (ctx.context.phoneNumberIds.length > 0) return ctx.context.phoneNumberIds[0];
  const digits = displayPhoneNumber?.replace(/\D/g, '');
  if (!digits) return undefined;
  const [row] = await queryRows<{ phone_number_id: string }>(
    ctx.tx,
    sql`select phone_number_id from numbers
        where regexp_replace(coalesce(display_phone_number, ''), '[^0-9]', '', 'g') = ${digits} limit 1`,
  );
  return row?.phone_number_id;
}
