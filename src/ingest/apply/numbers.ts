import { sql, type SQL } from 'drizzle-orm';
import { DEFAULT_NUMBER_SETTINGS } from '../../db/numbers';
import { tierLimitOf } from '../../platform/tiers';
import { queryRows } from '../../db/query';
import { timestamp } from '../../db/sql-values';
import { numberWorkflowId } from '../../shared/ids';
import type { NumberStatusSignal } from '../../workflows/definitions';
import type { PlatformMessage } from '../events/platform-message';
import { asNumber, asObject, asString, asTime, objects, type JsonObject } from '../events/shape';
import type { ApplyContext } from './context';
import { resolvePhoneNumberId } from './phone-number';

const UPGRADED_MPS = 1_000;

/** Portfolio limits are numbers, -1 meaning unlimited. */
function limitOf(value: unknown): number | null | undefined {
  const n = asNumber(value);
  if (n === undefined) return undefined;
  return n < 0 ? null : n;
}

/**
 * Columns holding when the event that last set a part of a number's state happened. SNS does not keep
 * order and batches commit side by side, so an older event may arrive after a newer one; it must not
 * overwrite the newer state nor signal it.
 */
const QUALITY_CLOCK = sql.raw('quality_event_at');
const STATUS_CLOCK = sql.raw('status_event_at');

/**
 * When the event happened, as well as its envelope tells: AWS's `message_timestamp`, else the SNS
 * `Timestamp` of the archived notification. These fields' values carry no time of their own.
 */
async function eventTimeOf(ctx: ApplyContext, message: PlatformMessage): Promise<Date | undefined> {
  if (message.publishedAt) return message.publishedAt;
  const [row] = await queryRows<{ at: unknown }>(
    ctx.tx,
    sql`select body->>'Timestamp' as at from events_raw where id = ${ctx.eventId}`,
  );
  return asTime(row?.at);
}

/** Stores a number we have not seen before with the platform's defaults. */
async function ensureNumberRow(ctx: ApplyContext, phoneNumberId: string): Promise<void> {
  const d = DEFAULT_NUMBER_SETTINGS;
  await ctx.tx.execute(
    sql`insert into numbers (phone_number_id, mps, tier_limit, tier_window_seconds)
        values (${phoneNumberId}, ${d.mps}, ${d.tierLimit}, ${d.tierWindowSeconds}) on conflict do nothing`,
  );
}

interface PatchGuard {
  /** The column ordering this part of the state, and the event's time (unknown: applied as it comes). */
  clock?: { column: SQL; at: Date | undefined };
  /** Only when this holds (the change would change something). */
  when?: SQL;
}

/**
 * Changes a stored number. With a clock, only if the event is not older than the one that last set
 * that part of the state, whose time it then takes. Returns whether the row changed.
 */
async function patchNumber(
  ctx: ApplyContext,
  phoneNumberId: string,
  sets: SQL[],
  guard: PatchGuard = {},
): Promise<boolean> {
  const conditions = [sql`n.phone_number_id = ${phoneNumberId}`];
  const all = [...sets, sql`updated_at = now()`];
  if (guard.clock?.at) {
    const { column, at } = guard.clock;
    conditions.push(sql`(n.${column} is null or n.${column} <= ${timestamp(at)})`);
    all.push(sql`${column} = ${timestamp(at)}`);
  }
  if (guard.when) conditions.push(guard.when);
  // Row locks order concurrent batches: the second re-reads the clock the first one committed.
  const changed = await queryRows(
    ctx.tx,
    sql`update numbers n set ${sql.join(all, sql`, `)} where ${sql.join(conditions, sql` and `)} returning 1`,
  );
  if (changed.length === 0) return false;
  ctx.effects.changed++;
  return true;
}

/** The archive's note for an event older than the state it would change. */
function staleNote(what: string, at: Date | undefined, parts: string[]): string {
  const when = at ? `; event at ${at.toISOString()}` : '';
  return `${what}: older than the state already applied (${parts.join(', ')}${when})`;
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
 * read the tier from the table. Tier and quality follow the newest quality update, the status the
 * newest status event (this or an account update); a throughput upgrade holds whenever it came.
 */
export async function applyPhoneQuality(
  ctx: ApplyContext,
  value: JsonObject,
  message: PlatformMessage,
): Promise<void> {
  const event = asString(value.event)?.toUpperCase();
  const display = asString(value.display_phone_number);
  const phoneNumberId = await resolvePhoneNumberId(ctx, undefined, display);
  if (!phoneNumberId) {
    ctx.effects.unmatched++;
    return;
  }
  const quality: SQL[] = [];
  const tier = tierLimitOf(asString(value.current_limit));
  const portfolio = limitOf(value.max_daily_conversations_per_business);
  if (tier !== undefined || portfolio !== undefined) {
    const forNumber = tier !== undefined ? sql`${tier}::int` : sql`n.tier_limit`;
    const forPortfolio = portfolio !== undefined ? sql`${portfolio}::int` : forNumber;
    quality.push(
      sql`tier_limit = case when n.tier_scope = 'portfolio' then ${forPortfolio} else ${forNumber} end`,
    );
  }
  const rating = asString(value.quality_rating ?? value.new_quality_rating)?.toUpperCase();
  if (rating) quality.push(sql`quality_rating = ${rating}`);
  else if (event === 'FLAGGED') quality.push(sql`quality_rating = 'RED'`);
  // Meta does not say how good it is now, only that it is no longer low.
  else if (event === 'UNFLAGGED')
    quality.push(
      sql`quality_rating = case when n.quality_rating = 'RED' then null else n.quality_rating end`,
    );
  const status = event === 'FLAGGED' ? 'FLAGGED' : event === 'UNFLAGGED' ? 'CONNECTED' : undefined;
  const anyOrder: { set: SQL; when: SQL }[] = [];
  if (event === 'THROUGHPUT_UPGRADE')
    anyOrder.push({
      set: sql`mps = greatest(n.mps, ${UPGRADED_MPS}::int)`,
      when: sql`n.mps < ${UPGRADED_MPS}::int`,
    });
  if (display)
    anyOrder.push({
      set: sql`display_phone_number = coalesce(n.display_phone_number, ${display})`,
      when: sql`n.display_phone_number is null`,
    });
  if (quality.length === 0 && !status && anyOrder.length === 0) return;

  const at = await eventTimeOf(ctx, message);
  await ensureNumberRow(ctx, phoneNumberId);
  if (anyOrder.length > 0) {
    const needed = sql.join(
      anyOrder.map((c) => sql`(${c.when})`),
      sql` or `,
    );
    await patchNumber(
      ctx,
      phoneNumberId,
      anyOrder.map((c) => c.set),
      { when: sql`(${needed})` },
    );
  }
  const stale: string[] = [];
  const qualityClock = { column: QUALITY_CLOCK, at };
  if (quality.length > 0 && !(await patchNumber(ctx, phoneNumberId, quality, { clock: qualityClock })))
    stale.push('tier and quality');
  if (status) {
    const statusClock = { column: STATUS_CLOCK, at };
    if (!(await patchNumber(ctx, phoneNumberId, [sql`status = ${status}`], { clock: statusClock })))
      stale.push('status');
    else if (status === 'FLAGGED')
      signalNumber(ctx, phoneNumberId, {
        event: 'FLAGGED',
        reason: 'phone number quality is low (flagged by Meta)',
      });
    else signalNumber(ctx, phoneNumberId, { event: 'UNFLAGGED' });
  }
  if (stale.length > 0)
    ctx.effects.ignored.push(staleNote(`phone_number_quality_update ${event ?? ''}`.trim(), at, stale));
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
 * news (violations, verification, partners) is archived only. A number keeps the status of its newest
 * status event, this or a quality update.
 */
export async function applyAccountUpdate(
  ctx: ApplyContext,
  value: JsonObject,
  message: PlatformMessage,
): Promise<void> {
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
  const at = targets.length > 0 ? await eventTimeOf(ctx, message) : undefined;
  const stale: string[] = [];
  for (const phoneNumberId of targets) {
    await ensureNumberRow(ctx, phoneNumberId);
    const status = sql`status = ${stops ? 'RESTRICTED' : 'CONNECTED'}`;
    if (!(await patchNumber(ctx, phoneNumberId, [status], { clock: { column: STATUS_CLOCK, at } }))) {
      stale.push(phoneNumberId);
      continue;
    }
    signalNumber(
      ctx,
      phoneNumberId,
      stops ? { event, reason, stop: true } : { event: 'UNRESTRICTED', reason },
    );
  }
  if (stale.length > 0) ctx.effects.ignored.push(staleNote(`account_update ${event}`, at, stale));
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
