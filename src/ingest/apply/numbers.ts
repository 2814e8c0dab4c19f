import { sql, type SQL } from 'drizzle-orm';
import { DEFAULT_NUMBER_SETTINGS, tierLimitOf } from '../../db/numbers';
import { queryRows } from '../../db/query';
import { numberWorkflowId } from '../../shared/ids';
import type { NumberStatusSignal } from '../../workflows/definitions';
import { asNumber, asObject, asString, objects, type JsonObject } from '../events/shape';
import type { ApplyContext } from './context';
import { resolvePhoneNumberId } from './phone-number';

const UPGRADED_MPS = 1_000;

/** Portfolio limits are numbers, -1 meaning unlimited. */
function limitOf(value: unknown): number | null | undefined {
  const n = asNumber(value);
  if (n === undefined) return undefined;
  return n < 0 ? null : n;
}

/** Changes a stored number, creating it with the platform's defaults if we have not seen it before. */
async function patchNumber(ctx: ApplyContext, phoneNumberId: string, sets: SQL[]): Promise<void> {
  const d = DEFAULT_NUMBER_SETTINGS;
  await ctx.tx.execute(
    sql`insert into numbers (phone_number_id, mps, tier_limit, tier_window_seconds)
        values (${phoneNumberId}, ${d.mps}, ${d.tierLimit}, ${d.tierWindowSeconds}) on conflict do nothing`,
  );
  await ctx.tx.execute(
    sql`update numbers n set ${sql.join([...sets, sql`updated_at = now()`], sql`, `)}
        where n.phone_number_id = ${phoneNumberId}`,
  );
  ctx.effects.changed++;
}

function signalNumber(ctx: ApplyContext, phoneNumberId: string, payload: NumberStatusSignal): void {
  ctx.signals.push({
    kind: 'number-status',
    workflowId: numberWorkflowId(phoneNumberId),
    phoneNumberId,
    payload,
  });
}

/**
 * `phone_number_quality_update`: stores the number's tier and quality, and tells its workflow about
 * FLAGGED / UNFLAGGED so the campaigns on it pause or resume. Tier changes need no signal: senders
 * read the tier from the table.
 */
export async function applyPhoneQuality(ctx: ApplyContext, value: JsonObject): Promise<void> {
  const event = asString(value.event)?.toUpperCase();
  const display = asString(value.display_phone_number);
  const phoneNumberId = await resolvePhoneNumberId(ctx, undefined, display);
  if (!phoneNumberId) {
    ctx.effects.unmatched++;
    return;
  }
  const sets: SQL[] = [];
  const tier = tierLimitOf(asString(value.current_limit));
  const portfolio = limitOf(value.max_daily_conversations_per_business);
  if (tier !== undefined || portfolio !== undefined) {
    const forNumber = tier !== undefined ? sql`${tier}::int` : sql`n.tier_limit`;
    const forPortfolio = portfolio !== undefined ? sql`${portfolio}::int` : forNumber;
    sets.push(
      sql`tier_limit = case when n.tier_scope = 'portfolio' then ${forPortfolio} else ${forNumber} end`,
    );
  }
  const quality = asString(value.quality_rating ?? value.new_quality_rating)?.toUpperCase();
  if (quality) sets.push(sql`quality_rating = ${quality}`);
  if (event === 'FLAGGED') {
    sets.push(sql`status = 'FLAGGED'`);
    if (!quality) sets.push(sql`quality_rating = 'RED'`);
  } else if (event === 'UNFLAGGED') {
    sets.push(sql`status = 'CONNECTED'`);
    // Meta does not say how good it is now, only that it is no longer low.
    if (!quality)
      sets.push(sql`quality_rating = case when n.quality_rating = 'RED' then null else n.quality_rating end`);
  } else if (event === 'THROUGHPUT_UPGRADE') {
    sets.push(sql`mps = greatest(n.mps, ${UPGRADED_MPS}::int)`);
  }
  if (display) sets.push(sql`display_phone_number = coalesce(n.display_phone_number, ${display})`);
  if (sets.length > 0) await patchNumber(ctx, phoneNumberId, sets);

  if (event === 'FLAGGED') {
    signalNumber(ctx, phoneNumberId, { event, reason: 'phone number quality is low (flagged by Meta)' });
  } else if (event === 'UNFLAGGED') {
    signalNumber(ctx, phoneNumberId, { event });
  }
}

/** The numbers an account-level event concerns: those in the envelope, of its WABA, or named in it. */
async function numbersOfAccount(ctx: ApplyContext, value: JsonObject): Promise<string[]> {
  const ids = new Set(ctx.context.phoneNumberIds);
  if (ctx.context.wabaIds.length > 0) {
    const rows = await queryRows<{ phone_number_id: string }>(
      ctx.tx,
      sql`select phone_number_id from numbers where waba_id in (${sql.join(
        ctx.context.wabaIds.map((w) => sql`${w}`),
        sql`, `,
      )})`,
    );
    for (const r of rows) ids.add(r.phone_number_id);
  }
  const named = asString(value.phone_number);
  if (named && ids.size === 0) {
    const id = await resolvePhoneNumberId(
      { ...ctx, context: { ...ctx.context, phoneNumberIds: [] } },
      undefined,
      named,
    );
    if (id) ids.add(id);
  }
  return [...ids];
}

function restrictionReason(event: string, value: JsonObject): string {
  const restrictions = objects(value.restriction_info).map((r) => {
    const type = asString(r.restriction_type) ?? 'restriction';
    const until = asString(r.expiration);
    return until ? `${type} until ${until}` : type;
  });
  const violation = asString(asObject(value.violation_info)?.violation_type);
  const parts = [...restrictions, ...(violation ? [violation] : [])];
  return parts.length > 0 ? `${event}: ${parts.join(', ')}` : event;
}

/**
 * `account_update`: a restricted, disabled or deleted account stops every campaign on its numbers
 * (through each number's workflow); a reinstatement lifts the number's restriction. Other account
 * news (violations, verification, partners) is archived only.
 */
export async function applyAccountUpdate(ctx: ApplyContext, value: JsonObject): Promise<void> {
  const event = asString(value.event)?.toUpperCase();
  if (!event) {
    ctx.effects.ignored.push('account_update without event');
    return;
  }
  const ban = asObject(value.ban_info)?.waba_ban_state;
  const banStates = (Array.isArray(ban) ? ban : [ban]).map((state) => asString(state)?.toUpperCase());
  const reinstated = banStates.includes('REINSTATE');
  const stops =
    event === 'ACCOUNT_RESTRICTION' ||
    event === 'ACCOUNT_DELETED' ||
    (event === 'DISABLED_UPDATE' && !reinstated);
  if (!stops && !reinstated) {
    ctx.effects.ignored.push(`account_update ${event}`);
    return;
  }
  const targets = await numbersOfAccount(ctx, value);
  if (targets.length === 0) ctx.effects.unmatched++;
  const reason = restrictionReason(event, value);
  for (const phoneNumberId of targets) {
    await patchNumber(ctx, phoneNumberId, [sql`status = ${stops ? 'RESTRICTED' : 'CONNECTED'}`]);
    signalNumber(
      ctx,
      phoneNumberId,
      stops ? { event, reason, stop: true } : { event: 'UNRESTRICTED', reason },
    );
  }
}

/**
 * `business_capability_update`: new messaging limits. The portfolio limit applies to numbers budgeted
 * per portfolio, the per-number limit to the others.
 */
export async function applyBusinessCapability(ctx: ApplyContext, value: JsonObject): Promise<void> {
  const portfolio = limitOf(value.max_daily_conversations_per_business);
  const perNumber = limitOf(value.max_daily_conversation_per_phone);
  if ((portfolio === undefined && perNumber === undefined) || ctx.context.wabaIds.length === 0) {
    ctx.effects.ignored.push('business_capability_update without a limit or WABA');
    return;
  }
  const wabas = sql.join(
    ctx.context.wabaIds.map((w) => sql`${w}`),
    sql`, `,
  );
  const forPortfolio = portfolio !== undefined ? sql`${portfolio}::int` : sql`n.tier_limit`;
  const forNumber = perNumber !== undefined ? sql`${perNumber}::int` : sql`n.tier_limit`;
  const changed = await queryRows(
    ctx.tx,
    sql`update numbers n set tier_limit = case when n.tier_scope = 'portfolio' then ${forPortfolio} else ${forNumber} end,
          updated_at = now()
        where n.waba_id in (${wabas}) returning n.phone_number_id`,
  );
  if (changed.length > 0) ctx.effects.changed += changed.length;
  else ctx.effects.unmatched++;
}
