import { sql } from 'drizzle-orm';
import type { Database } from './client';
import { num, queryRows } from './query';

/** A run of consecutive send slots claimed on a number's timeline, in the database clock. */
export interface SlotClaim {
  /** Slot of the first message, epoch ms (database clock). */
  firstSlotMs: number;
  intervalMs: number;
  count: number;
  /** The database clock when the claim was made; maps slots onto the local clock. */
  dbNowMs: number;
}

const DB_NOW_MS = sql`(extract(epoch from clock_timestamp()) * 1000)::bigint`;

/**
 * Claims `count` slots `intervalMs` apart on the number's timeline. One atomic statement: concurrent
 * claims from any worker get disjoint runs, so together they never exceed the number's rate. The run
 * starts no earlier than `leadMs` from now, so the claimer has time to reach its first slot.
 */
export async function claimSlots(
  db: Database,
  phoneNumberId: string,
  count: number,
  intervalMs: number,
  leadMs = 0,
): Promise<SlotClaim> {
  const span = Math.ceil(count * intervalMs);
  const lead = Math.max(0, Math.ceil(leadMs));
  // The clock is read once (in the CTE) so the returned "now" is the one the claim was made with.
  const [row] = await queryRows<{ next_slot_ms: unknown; now_ms: unknown }>(
    db,
    sql`with clock as (select ${DB_NOW_MS} as now_ms)
        insert into pacers as p (phone_number_id, next_slot_ms)
        select ${phoneNumberId}, now_ms + ${lead} + ${span} from clock
        on conflict (phone_number_id) do update
          set next_slot_ms = greatest(p.next_slot_ms, (select now_ms from clock) + ${lead}) + ${span}
        returning p.next_slot_ms, (select now_ms from clock) as now_ms`,
  );
  if (!row) throw new Error(`could not claim send slots for ${phoneNumberId}`);
  const end = num(row.next_slot_ms);
  return { firstSlotMs: end - span, intervalMs, count, dbNowMs: num(row.now_ms) };
}

/**
 * Keeps every sender on the number quiet for `ms` from now: used when the platform says we went too fast
 * (130429) or that the number is being upgraded (131057). Returns the consecutive-throttle streak.
 */
export async function holdNumber(
  db: Database,
  phoneNumberId: string,
  ms: number,
  throttled: boolean,
): Promise<number> {
  const [row] = await queryRows<{ throttle_streak: unknown }>(
    db,
    sql`insert into pacers as p (phone_number_id, next_slot_ms, throttle_streak)
        values (${phoneNumberId}, ${DB_NOW_MS} + ${Math.ceil(ms)}, ${throttled ? 1 : 0})
        on conflict (phone_number_id) do update
          set next_slot_ms = greatest(p.next_slot_ms, ${DB_NOW_MS} + ${Math.ceil(ms)}),
              throttle_streak = case when ${throttled} then p.throttle_streak + 1 else p.throttle_streak end
        returning p.throttle_streak`,
  );
  return num(row?.throttle_streak ?? 0);
}

/** Forgets past throttling once sends go through again. */
export async function clearThrottle(db: Database, phoneNumberId: string): Promise<void> {
  await db.execute(
    sql`update pacers set throttle_streak = 0 where phone_number_id = ${phoneNumberId} and throttle_streak > 0`,
  );
}
