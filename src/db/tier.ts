import { sql } from 'drizzle-orm';
import type { Database } from './client';
import { num, queryRows, toMs, ts } from './query';
import { recordset, textList } from './sql-values';

export interface ReachRequest {
  scopeKey: string;
  /** null = unlimited tier. */
  limit: number | null;
  windowMs: number;
  nowMs: number;
  /**
   * When the sends will have happened at the latest; stored as the reach time so the ledger never ends
   * early. One time for all, or one per phone (same order as `phones`).
   */
  reachAtMs: number | readonly number[];
  /** Users to be reached outside a customer-service window, in priority order. */
  phones: readonly string[];
}

export interface ReachGrant {
  granted: string[];
  denied: string[];
  used: number;
  /** When the oldest counted reach leaves the window (epoch ms), if anything is counted. */
  resetsAt?: number;
}

/**
 * Takes tier budget for business-initiated sends. Under a transaction-scoped advisory lock on the scope,
 * it counts the users reached in the rolling window, grants what is left (users already counted are
 * free), and records the grants before anything is sent, so concurrent senders on any worker share one
 * budget exactly.
 */
export async function reserveReach(db: Database, req: ReachRequest): Promise<ReachGrant> {
  if (req.phones.length === 0) return { granted: [], denied: [], used: 0 };
  const times = req.reachAtMs;
  const latest = typeof times === 'number' ? times : Math.max(...times);
  const byPhone =
    typeof times === 'number' ? undefined : new Map(req.phones.map((p, i) => [p, times[i] ?? latest]));
  const reachAt = (phone: string) => byPhone?.get(phone) ?? latest;
  return db.transaction(async (tx) => {
    const since = ts(req.nowMs - req.windowMs);
    await tx.execute(sql`select pg_advisory_xact_lock(hashtext(${req.scopeKey}))`);
    const already = new Set(
      (
        await queryRows<{ phone: string }>(
          tx,
          sql`select phone from reaches where scope_key = ${req.scopeKey} and reached_at > ${since}
              and phone in ${textList(req.phones)}`,
        )
      ).map((r) => r.phone),
    );
    const [countRow] = await queryRows<{ used: unknown; oldest: unknown }>(
      tx,
      sql`select count(*) as used, min(reached_at) as oldest from reaches
          where scope_key = ${req.scopeKey} and reached_at > ${since}`,
    );
    const used = num(countRow?.used ?? 0);
    let room = req.limit === null ? Number.POSITIVE_INFINITY : Math.max(0, req.limit - used);
    const granted: string[] = [];
    const denied: string[] = [];
    for (const phone of req.phones) {
      if (already.has(phone)) granted.push(phone);
      else if (room > 0) {
        granted.push(phone);
        room--;
      } else denied.push(phone);
    }
    if (granted.length > 0) {
      const source = recordset(
        granted.map((p) => ({ phone: p, at: new Date(reachAt(p)).toISOString() })),
        'v',
        'phone text, at timestamptz',
      );
      await tx.execute(
        sql`insert into reaches (scope_key, phone, reached_at) select ${req.scopeKey}, v.phone, v.at from ${source}
            on conflict (scope_key, phone) do update set reached_at = greatest(reaches.reached_at, excluded.reached_at)`,
      );
    }
    const newlyCounted = granted.filter((p) => !already.has(p)).length;
    const oldest =
      toMs(countRow?.oldest) ?? (granted.length > 0 ? Math.min(...granted.map(reachAt)) : undefined);
    return {
      granted,
      denied,
      used: used + newlyCounted,
      resetsAt: oldest === undefined ? undefined : oldest + req.windowMs,
    };
  });
}

export interface TierUsage {
  used: number;
  limit: number | null;
  /** When the oldest counted reach leaves the window (epoch ms). */
  resetsAt?: number;
}

/** The budget used in the rolling window ending now. */
export async function tierUsage(
  db: Database,
  scopeKey: string,
  limit: number | null,
  windowMs: number,
  nowMs: number,
): Promise<TierUsage> {
  const since = ts(nowMs - windowMs);
  const [row] = await queryRows<{ used: unknown; oldest: unknown }>(
    db,
    sql`select count(*) as used, min(reached_at) as oldest from reaches
        where scope_key = ${scopeKey} and reached_at > ${since}`,
  );
  const oldest = toMs(row?.oldest);
  return { used: num(row?.used ?? 0), limit, resetsAt: oldest === undefined ? undefined : oldest + windowMs };
}

/**
 * Moves the recorded reach time of users later (never earlier): used when their sends happened, or may
 * have happened, after the time first recorded for them.
 */
export async function extendReach(
  db: Database,
  scopeKey: string,
  reaches: readonly { phone: string; atMs: number }[],
): Promise<void> {
  if (reaches.length === 0) return;
  const source = recordset(
    reaches.map((r) => ({ phone: r.phone, at: new Date(r.atMs).toISOString() })),
    'v',
    'phone text, at timestamptz',
  );
  await db.execute(
    sql`update reaches x set reached_at = greatest(x.reached_at, v.at)
        from ${source}
        where x.scope_key = ${scopeKey} and x.phone = v.phone`,
  );
}
