/**
 * A campaign's recipients as the send activity works through them: which are due, the intent written
 * before a chunk's calls, the outcomes written after, and the rows a crashed attempt left behind. Each
 * function is one statement (or two) over a whole chunk, never one per recipient.
 */
import { eq, sql } from 'drizzle-orm';
import type { Database } from './client';
import { campaigns, suppressions } from './schema';
import { num, queryRows, toMs, ts } from './query';
import { intArray, recordset, textList } from './sql-values';

export type CampaignRow = typeof campaigns.$inferSelect;

/** A recipient due for sending, with what its message needs. */
export interface DueRow {
  seq: number;
  phone: string;
  params: string[];
  timezone: string | null;
}

/** What one recipient becomes once its chunk's answers are in. */
export interface OutcomeUpdate {
  seq: number;
  state: string;
  messageId: string | null;
  code: number | null;
  message: string | null;
  nextAttemptAtMs: number | null;
  /** Undo the attempt count: the call never went out. */
  uncount: boolean;
}

/** Once the tier budget is spent, only recipients who cost none: where to look for them. */
export interface FreeOnly {
  scopeKey: string;
  tierWindowMs: number;
}

/** What is left of a campaign's recipients after a batch. */
export interface QueueLeft {
  /** Recipients not final yet (pending, mid-send, ambiguous). */
  remaining: number;
  /** Some pending recipient is due now. */
  dueNow: boolean;
  /** The earliest retry or window opening of a pending recipient, epoch ms. */
  nextDueMs: number | undefined;
  /** When the oldest ambiguous send went out, epoch ms. */
  oldestAmbiguousMs: number | undefined;
}

const CUSTOMER_SERVICE_WINDOW_MS = 24 * 3600_000;

export async function loadCampaign(db: Database, campaignId: string): Promise<CampaignRow | undefined> {
  const [campaign] = await db.select().from(campaigns).where(eq(campaigns.id, campaignId));
  return campaign;
}

/** Rows still `sending` belong to an attempt that died mid-chunk: the platform may have them. */
export async function markCrashedIntentsAmbiguous(db: Database, campaignId: string): Promise<number> {
  const rows = await queryRows<{ seq: number }>(
    db,
    sql`update recipients set state = 'ambiguous', updated_at = now()
        where campaign_id = ${campaignId} and state = 'sending' returning seq`,
  );
  return rows.length;
}

/**
 * Decides ambiguous recipients that no status event settled within the wait (counted from when the send
 * went out, kept in `sending_since`): `at-most-once` campaigns record them as `unknown` (never risk a
 * second message), `at-least-once` ones send them again.
 */
export async function settleAmbiguous(db: Database, c: CampaignRow, settledBeforeMs: number): Promise<void> {
  const next = c.ambiguityPolicy === 'at-least-once' ? 'pending' : 'unknown';
  await db.execute(
    sql`update recipients set state = ${next}, next_attempt_at = null, updated_at = now(),
          error_message = coalesce(error_message, 'no status event after an unanswered send')
        where campaign_id = ${c.id} and state = 'ambiguous' and sending_since <= ${ts(settledBeforeMs)}`,
  );
}

/** Up to `limit` pending recipients due at `nowMs`, in list order. */
export async function fetchDue(
  db: Database,
  c: CampaignRow,
  limit: number,
  nowMs: number,
  freeOnly: FreeOnly | undefined,
): Promise<DueRow[]> {
  const now = ts(nowMs);
  // Free: an open customer-service window, or already counted in the rolling tier window (e.g. a row put
  // back after its budget was granted).
  const free = freeOnly
    ? sql`and (exists (select 1 from service_windows w where w.phone_number_id = ${c.phoneNumberId}
                       and w.phone = r.phone and w.last_inbound_at > ${ts(nowMs - CUSTOMER_SERVICE_WINDOW_MS)})
               or exists (select 1 from reaches x where x.scope_key = ${freeOnly.scopeKey} and x.phone = r.phone
                          and x.reached_at > ${ts(nowMs - freeOnly.tierWindowMs)}))`
    : sql``;
  return queryRows<DueRow>(
    db,
    sql`select r.seq, r.phone, r.params, r.timezone from recipients r
        where r.campaign_id = ${c.id} and r.state = 'pending'
          and (r.next_attempt_at is null or r.next_attempt_at <= ${now}) ${free}
        order by r.seq limit ${limit}`,
  );
}

/** Moves recipients to a later time (their send window's next opening). */
export async function deferRecipients(
  db: Database,
  campaignId: string,
  later: readonly { seq: number; atMs: number }[],
): Promise<void> {
  if (later.length === 0) return;
  const source = recordset(
    later.map((l) => ({ seq: l.seq, at: new Date(l.atMs).toISOString() })),
    'v',
    'seq int, at timestamptz',
  );
  await db.execute(
    sql`update recipients r set next_attempt_at = v.at, updated_at = now()
        from ${source} where r.campaign_id = ${campaignId} and r.seq = v.seq`,
  );
}

/** Marks the rows whose users opted out `skipped`; returns the others. */
export async function skipSuppressed(db: Database, campaignId: string, rows: DueRow[]): Promise<DueRow[]> {
  if (rows.length === 0) return rows;
  const phones = textList(rows.map((r) => r.phone));
  const stopped = new Set(
    (
      await queryRows<{ phone: string }>(db, sql`select phone from ${suppressions} where phone in ${phones}`)
    ).map((r) => r.phone),
  );
  if (stopped.size === 0) return rows;
  const skipped = intArray(rows.filter((r) => stopped.has(r.phone)).map((r) => r.seq));
  await db.execute(
    sql`update recipients set state = 'skipped', error_message = 'opted out of marketing', updated_at = now()
        where campaign_id = ${campaignId} and seq = any(${skipped})`,
  );
  return rows.filter((r) => !stopped.has(r.phone));
}

/** The users among `rows` with an open customer-service window on the number (they cost no tier budget). */
export async function openServiceWindows(
  db: Database,
  phoneNumberId: string,
  rows: DueRow[],
  nowMs: number,
): Promise<Set<string>> {
  const phones = textList(rows.map((r) => r.phone));
  const open = await queryRows<{ phone: string }>(
    db,
    sql`select phone from service_windows where phone_number_id = ${phoneNumberId}
        and last_inbound_at > ${ts(nowMs - CUSTOMER_SERVICE_WINDOW_MS)} and phone in ${phones}`,
  );
  return new Set(open.map((r) => r.phone));
}

/**
 * Marks rows `sending` if they are still `pending`; returns the rows this call claimed with their attempts.
 * A retried row forgets its previous (failed) message: statuses of the new one, which may arrive before
 * its answer is recorded, must find the row; the earlier message's late statuses are kept out by its
 * recorded failure.
 */
export async function recordIntent(
  db: Database,
  campaignId: string,
  rows: DueRow[],
  nowMs: number,
): Promise<Map<number, number>> {
  const seqs = intArray(rows.map((r) => r.seq));
  const claimed = await queryRows<{ seq: unknown; attempts: unknown }>(
    db,
    sql`update recipients set state = 'sending', sending_since = ${ts(nowMs)}, attempts = attempts + 1,
        message_id = null, updated_at = now() where campaign_id = ${campaignId} and seq = any(${seqs}) and state = 'pending'
        returning seq, attempts`,
  );
  return new Map(claimed.map((r) => [num(r.seq), num(r.attempts)]));
}

/** Undoes an intent whose chunk will not go out (the batch braked or failed before dispatching it). */
export async function revertIntent(db: Database, campaignId: string, rows: DueRow[]): Promise<void> {
  if (rows.length === 0) return;
  const seqs = intArray(rows.map((r) => r.seq));
  await db.execute(
    sql`update recipients set state = 'pending', sending_since = null, attempts = attempts - 1, updated_at = now()
        where campaign_id = ${campaignId} and seq = any(${seqs}) and state = 'sending'`,
  );
}

/** Writes a chunk's outcomes in one statement, to the rows this attempt still holds `sending`. */
export async function writeOutcomes(
  db: Database,
  campaignId: string,
  updates: readonly OutcomeUpdate[],
  nowMs: number,
): Promise<void> {
  const source = recordset(
    updates.map((u) => ({
      seq: u.seq,
      state: u.state,
      message_id: u.messageId,
      code: u.code,
      message: u.message,
      next_at: u.nextAttemptAtMs === null ? null : new Date(u.nextAttemptAtMs).toISOString(),
      uncount: u.uncount,
    })),
    'v',
    'seq int, state text, message_id text, code int, message text, next_at timestamptz, uncount boolean',
  );
  const now = ts(nowMs);
  await db.execute(
    sql`update recipients r set
          state = v.state,
          message_id = coalesce(v.message_id, r.message_id),
          error_code = case when v.state = 'sent' then null else coalesce(v.code, r.error_code) end,
          error_message = case when v.state = 'sent' then null else coalesce(v.message, r.error_message) end,
          next_attempt_at = v.next_at,
          attempts = case when v.uncount then r.attempts - 1 else r.attempts end,
          -- An ambiguous row keeps the time its send went out: its wait for a status event counts from there.
          sending_since = case when v.state = 'ambiguous' then r.sending_since else null end,
          sent_at = case when v.state = 'sent' then ${now} else r.sent_at end,
          failed_at = case when v.state in ('failed', 'expired') then ${now} else r.failed_at end,
          updated_at = now()
        from ${source}
        where r.campaign_id = ${campaignId} and r.seq = v.seq and r.state = 'sending'`,
  );
}

/** Users who stopped marketing messages, as a refused send told (131050). */
export async function suppressFromSend(db: Database, phones: readonly string[]): Promise<void> {
  if (phones.length === 0) return;
  await db
    .insert(suppressions)
    .values(
      phones.map((phone) => ({
        phone,
        reason: 'user stopped marketing messages (131050)',
        source: 'send',
      })),
    )
    .onConflictDoNothing();
}

/** Ambiguous rows are not final yet: a status event may settle them, or the policy will when they are due. */
export async function queueLeft(db: Database, campaignId: string): Promise<QueueLeft> {
  const [left] = await queryRows<{
    remaining: unknown;
    next_due: unknown;
    due_now: unknown;
    next_settle: unknown;
  }>(
    db,
    sql`select count(*) filter (where state in ('pending', 'sending', 'ambiguous')) as remaining,
               min(next_attempt_at) filter (where state = 'pending') as next_due,
               count(*) filter (where state = 'pending' and next_attempt_at is null) as due_now,
               min(sending_since) filter (where state = 'ambiguous') as next_settle
        from recipients where campaign_id = ${campaignId}`,
  );
  return {
    remaining: num(left?.remaining ?? 0),
    dueNow: num(left?.due_now ?? 0) > 0,
    nextDueMs: toMs(left?.next_due),
    oldestAmbiguousMs: toMs(left?.next_settle),
  };
}
