import { sql } from 'drizzle-orm';
import { queryRows, toMs } from '../../db/query';
import type { ApplyContext } from './context';
import { timestamp } from '../../db/sql-values';

export interface OptChoice {
  /** E.164, as recipients are stored. */
  phone: string;
  choice: 'stop' | 'resume';
  /** When the user made the choice (the event's time, not ours). */
  at: Date;
  /** Where it came from: inbound-keyword, user-preferences, status-131050. */
  source: string;
  reason: string;
  detail: Record<string, unknown>;
}

export type OptEffect =
  'suppressed' | 'already-suppressed' | 'unsuppressed' | 'not-suppressed' | 'superseded' | 'duplicate';

/**
 * Applies a user's marketing opt-out or opt-in and records it in the audit with its effect. Choices
 * may arrive out of order, so the latest recorded choice wins: an older one is audited as superseded
 * and changes nothing. A redelivery of the same choice (same time, source and action) is skipped.
 */
export async function applyOptChoice(ctx: ApplyContext, c: OptChoice): Promise<OptEffect> {
  const action = c.choice === 'stop' ? 'opt-out' : 'opt-in';
  // One user's choices are decided one at a time, whichever ingest replica receives them.
  await ctx.tx.execute(sql`select pg_advisory_xact_lock(hashtext(${`opt:${c.phone}`}))`);
  const [latest] = await queryRows<{ at: unknown; action: string; source: string }>(
    ctx.tx,
    sql`select at, action, source from opt_out_audit where phone = ${c.phone} order by at desc, id desc limit 1`,
  );
  const latestMs = toMs(latest?.at);
  let effect: OptEffect;
  if (latest && latestMs === c.at.getTime() && latest.action === action && latest.source === c.source) {
    ctx.effects.duplicates++;
    return 'duplicate';
  } else if (latestMs !== undefined && latestMs > c.at.getTime()) {
    effect = 'superseded';
  } else if (c.choice === 'stop') {
    const inserted = await queryRows(
      ctx.tx,
      sql`insert into suppressions (phone, reason, source, created_at) values (${c.phone}, ${c.reason}, ${c.source}, ${timestamp(c.at)})
          on conflict (phone) do nothing returning phone`,
    );
    effect = inserted.length > 0 ? 'suppressed' : 'already-suppressed';
  } else {
    const deleted = await queryRows(
      ctx.tx,
      sql`delete from suppressions where phone = ${c.phone} returning phone`,
    );
    effect = deleted.length > 0 ? 'unsuppressed' : 'not-suppressed';
  }
  if (effect === 'suppressed' || effect === 'unsuppressed') ctx.effects.changed++;
  const detail = JSON.stringify({ ...c.detail, effect, reason: c.reason, eventId: ctx.eventId });
  await ctx.tx.execute(
    sql`insert into opt_out_audit (phone, action, source, detail, at)
        values (${c.phone}, ${action}, ${c.source}, ${detail}::jsonb, ${timestamp(c.at)})`,
  );
  return effect;
}
