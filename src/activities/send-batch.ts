import { setTimeout as sleep } from 'node:timers/promises';
import { Context, CancelledFailure } from '@temporalio/activity';
import { SendWhatsAppMessageCommand } from '@aws-sdk/client-socialmessaging';
import { eq, sql } from 'drizzle-orm';
import type { Database } from '../db/client';
import { campaigns, suppressions } from '../db/schema';
import { ensureNumber, tierScopeKey, type NumberRow } from '../db/numbers';
import { claimSlots, clearThrottle, holdNumber } from '../db/pacer';
import { reserveReach } from '../db/tier';
import { num, queryRows, toMs, ts } from '../db/query';
import { buildTemplateMessage } from '../platform/message';
import { bizOpaqueCallbackData } from '../shared/ids';
import { ErrorAction, backoffSeconds } from '../shared/meta-errors';
import { msUntilOpen, type SendWindow } from '../shared/send-window';
import { sendsTotal } from '../shared/metrics';
import { BatchOutcome, DEFAULT_CAMPAIGN_TUNING, type BatchSummary } from '../workflows/definitions';
import type { ActivityDeps } from './deps';
import { classifySendError, type SendOutcome } from './send-outcome';

export interface SendBatchInput {
  campaignId: string;
  /** Stop starting new chunks after this long (ms); the workflow calls again. */
  maxDurationMs: number;
  /**
   * How long an ambiguous recipient (sent or not, nobody knows) waits for a status event to settle it
   * before the campaign's policy decides (ms).
   */
  ambiguityWaitMs?: number;
}

type CampaignRow = typeof campaigns.$inferSelect;

interface DueRow {
  seq: number;
  phone: string;
  params: string[];
  timezone: string | null;
}

/** A chunk whose intent is recorded and whose slots are claimed, ready to dispatch. */
interface PreparedChunk {
  rows: DueRow[];
  /** Local-clock time of each row's slot. */
  sendAtMs: number[];
  /** Local-clock end of the claimed run: nothing of this chunk may leave at or after it. */
  endMs: number;
  lastSlotLocalMs: number;
}

const CUSTOMER_SERVICE_WINDOW_MS = 24 * 3600_000;
/** Chunks cover about this much of the number's timeline: short enough to brake fast and interleave fairly. */
const CHUNK_SECONDS = 0.25;
/** Start preparing the next chunk this long before the current one's last slot, so the timeline has no gaps. */
const PREPARE_LEAD_MS = 120;
/**
 * Slack between a claimed slot and the platform's acceptance time (dispatch grace plus request latency),
 * added to tier reach times so the ledger never frees a user before the platform does.
 */
const REACH_SLACK_MS = 1_000;
const NUMBER_REFRESH_MS = 1_000;
/**
 * Fraction of the number's MPS the pacer uses. Sends are spaced at least one interval apart and stay
 * inside the run of slots they claimed, so any one-second window holds at most `rate` sends plus one at
 * each end where it cuts a claimed run: two sends of slack are kept below the MPS for that, and a little
 * more for jitter between our dispatch and the platform's acceptance.
 */
function effectiveSafety(mps: number, configured: number): number {
  return Math.min(configured, 1 - 2 / Math.max(mps, 1));
}
const MAX_RATE_LIMIT_TRIES = 10;
const MAX_TRANSIENT_TRIES = 8;
const MAX_NEXT_DAY_TRIES = 3;

const RETRYABLE = new Set([
  ErrorAction.RetryBackoff,
  ErrorAction.RetryTransient,
  ErrorAction.WaitUpgrade,
  ErrorAction.RetryNextDay,
]);

/**
 * Sends the due recipients of one campaign, paced to the number's rate and within its tier budget, until
 * nothing is due, the budget is spent, the time slice is over, or the platform says stop. Each chunk's
 * intent is written before its calls and its outcomes after, so a crash leaves rows `sending` (ambiguous),
 * never silently re-sent.
 */
export async function sendBatch(deps: ActivityDeps, input: SendBatchInput): Promise<BatchSummary> {
  const clock = deps.clock ?? Date.now;
  const ctx = activityContext();
  const { db } = deps;
  const startedAt = clock();

  const [campaign] = await db.select().from(campaigns).where(eq(campaigns.id, input.campaignId));
  if (!campaign) throw new Error(`campaign ${input.campaignId} is not in the database`);
  let number = await ensureNumber(db, campaign.phoneNumberId);

  // Rows still `sending` belong to an attempt that died mid-chunk: the platform may have them.
  const ambiguousFromCrash = await markCrashedIntentsAmbiguous(db, campaign.id);
  const ambiguityWaitMs = input.ambiguityWaitMs ?? DEFAULT_CAMPAIGN_TUNING.ambiguityWaitMs;
  await settleAmbiguous(db, campaign, clock() - ambiguityWaitMs);

  const paceSafety = deps.paceSafety ?? 0.98;
  let intervalMs = 0;
  let chunkSize = 1;
  // Slots claimed but not used in time are lost capacity: when this process cannot keep up with the
  // number's rate (CPU, a slow endpoint), claim only about what it managed last time, growing back as it can.
  let sendCapacity = Number.POSITIVE_INFINITY;
  let numberReadAt = clock();
  const applyRate = () => {
    const rate = Math.max(0.1, number.mps * effectiveSafety(number.mps, paceSafety));
    intervalMs = 1000 / rate;
    chunkSize = Math.max(1, Math.min(500, Math.round(rate * CHUNK_SECONDS)));
  };
  applyRate();
  const window = sendWindowOf(campaign);
  const deadlineMs = campaign.deadline?.getTime();
  const summary: BatchSummary = {
    sent: 0,
    failed: 0,
    retryScheduled: 0,
    skipped: 0,
    ambiguous: ambiguousFromCrash,
    remaining: 0,
    outcome: BatchOutcome.NothingDue,
  };
  const brake: { code?: number; reason?: string; action?: ErrorAction } = {};
  let budgetResetsAt: number | undefined;
  let budgetSpent = false;
  let timeSliceOver = false;

  const prepare = async (): Promise<PreparedChunk | undefined> => {
    for (;;) {
      const now = clock();
      if (brake.action || ctx?.cancellationSignal.aborted) return undefined;
      if (now - startedAt >= input.maxDurationMs) {
        timeSliceOver = true;
        return undefined;
      }
      if (deadlineMs !== undefined && now >= deadlineMs) return undefined;
      if (now - numberReadAt >= NUMBER_REFRESH_MS) {
        // A rate or tier changed at run time takes effect within a second.
        number = await ensureNumber(db, campaign.phoneNumberId);
        numberReadAt = now;
        applyRate();
      }
      const freeOnly = budgetSpent
        ? { scopeKey: tierScopeKey(number), tierWindowMs: number.tierWindowSeconds * 1000 }
        : undefined;
      const want = Math.max(1, Math.min(chunkSize, Math.ceil(sendCapacity)));
      const due = await fetchDue(db, campaign, want, now, freeOnly);
      if (due.length === 0) return undefined;

      const inWindow = await deferOutsideWindow(db, campaign, number, window, due, now);
      const allowed = await skipSuppressed(db, campaign, inWindow);
      summary.skipped += inWindow.length - allowed.length;
      if (allowed.length === 0) continue;

      const open = await openServiceWindows(db, number.phoneNumberId, allowed, now);
      const claim = await claimSlots(db, number.phoneNumberId, allowed.length, intervalMs);
      // Slots are on the database clock (shared by all workers); everything else uses the local clock.
      const localOffset = clock() - claim.dbNowMs;
      const lastSlotLocalMs = claim.firstSlotMs + (allowed.length - 1) * intervalMs + localOffset;

      const needBudget = allowed.filter((r) => !open.has(r.phone)).map((r) => r.phone);
      const grant = await reserveReach(db, {
        scopeKey: tierScopeKey(number),
        limit: number.tierLimit,
        windowMs: number.tierWindowSeconds * 1000,
        nowMs: clock(),
        reachAtMs: lastSlotLocalMs + REACH_SLACK_MS,
        phones: needBudget,
      });
      if (grant.denied.length > 0) {
        budgetSpent = true;
        budgetResetsAt = grant.resetsAt;
      }
      const denied = new Set(grant.denied);
      let rows = allowed.filter((r) => !denied.has(r.phone));
      if (rows.length === 0) continue;

      // Only rows this attempt really claimed are sent: a stale attempt of the same batch may hold others.
      const claimed = await recordIntent(db, campaign.id, rows, clock());
      rows = rows.filter((r) => claimed.has(r.seq));
      if (rows.length === 0) continue;
      const sendAtMs = rows.map((_, i) => claim.firstSlotMs + i * intervalMs + localOffset);
      const endMs = claim.firstSlotMs + allowed.length * intervalMs + localOffset;
      return { rows, sendAtMs, endMs, lastSlotLocalMs: sendAtMs[sendAtMs.length - 1] ?? clock() };
    }
  };

  // Messages leave no closer together than the interval, even after a stall (no catch-up bursts), and
  // never long after their claimed slot, where they could collide with the next claimer's slots.
  let lastDispatchAt = Number.NEGATIVE_INFINITY;
  const dispatch = async (chunk: PreparedChunk): Promise<SendOutcome[]> => {
    const inFlight: Promise<SendOutcome>[] = [];
    let abandoned = false;
    for (let i = 0; i < chunk.rows.length; i++) {
      const row = chunk.rows[i]!;
      const slot = chunk.sendAtMs[i] ?? 0;
      const wait = Math.max(slot, lastDispatchAt + intervalMs) - clock();
      if (wait > 1) await sleep(wait);
      // A late sender catches up only at the interval and only inside its own claimed run; what no longer
      // fits goes back for fresh slots rather than into the next claimer's.
      abandoned ||= clock() >= chunk.endMs;
      if (abandoned || brake.action || ctx?.cancellationSignal.aborted) {
        inFlight.push(Promise.resolve({ kind: 'not-sent' }));
        continue;
      }
      lastDispatchAt = clock();
      inFlight.push(sendOne(deps, campaign, row));
    }
    return Promise.all(inFlight);
  };

  let current = await prepare();
  while (current) {
    const sending = dispatch(current);
    let next: PreparedChunk | undefined;
    try {
      const lead = current.lastSlotLocalMs - PREPARE_LEAD_MS - clock();
      if (lead > 0) await Promise.race([sleep(lead), sending]);
      // Outcomes of this chunk may brake the campaign; check them before claiming more.
      next = brake.action ? undefined : await prepare();
    } finally {
      const outcomes = await sending;
      const putBack = outcomes.filter((o) => o.kind === 'not-sent').length;
      const dispatched = current.rows.length - putBack;
      sendCapacity = putBack > 0 && !brake.action ? Math.max(1, dispatched * 1.1) : sendCapacity * 1.5;
      await recordOutcomes(deps, campaign, number, current.rows, outcomes, summary, brake, clock());
    }
    ctx?.heartbeat({ sent: summary.sent, failed: summary.failed });
    if (brake.action && next) {
      await revertIntent(db, campaign.id, next.rows);
      next = undefined;
    }
    // Rows of this chunk that were put back (late for their slot) are due again at once.
    if (!next && !brake.action) next = await prepare();
    current = next;
  }

  if (ctx?.cancellationSignal.aborted) throw new CancelledFailure('send batch cancelled');

  // Ambiguous rows are not final yet: a status event may settle them, or the policy will when they are due.
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
        from recipients where campaign_id = ${campaign.id}`,
  );
  summary.remaining = num(left?.remaining ?? 0);
  const settleAt = toMs(left?.next_settle);
  const nextDue = minDefined(
    num(left?.due_now ?? 0) > 0 ? clock() : toMs(left?.next_due),
    settleAt === undefined ? undefined : settleAt + ambiguityWaitMs,
  );
  summary.nextDueAt =
    budgetSpent && budgetResetsAt !== undefined ? minDefined(nextDue, budgetResetsAt) : nextDue;
  if (brake.action === ErrorAction.PauseTemplate) summary.outcome = BatchOutcome.TemplatePaused;
  else if (brake.action) summary.outcome = BatchOutcome.Stop;
  else if (summary.remaining === 0) summary.outcome = BatchOutcome.Drained;
  else if (budgetSpent) summary.outcome = BatchOutcome.Budget;
  else if (timeSliceOver) summary.outcome = BatchOutcome.TimeSlice;
  else summary.outcome = BatchOutcome.NothingDue;
  if (budgetSpent) summary.budgetResetsAt = budgetResetsAt;
  if (brake.code !== undefined) summary.code = brake.code;
  if (brake.reason !== undefined) summary.reason = brake.reason;
  return summary;
}

function activityContext(): Context | undefined {
  try {
    return Context.current();
  } catch {
    return undefined;
  }
}

function minDefined(a: number | undefined, b: number | undefined): number | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return Math.min(a, b);
}

function sendWindowOf(c: CampaignRow): SendWindow | undefined {
  return c.windowStartMin !== null && c.windowEndMin !== null
    ? { startMin: c.windowStartMin, endMin: c.windowEndMin }
    : undefined;
}

async function markCrashedIntentsAmbiguous(db: Database, campaignId: string): Promise<number> {
  const rows = await queryRows<{ seq: number }>(
    db,
    sql`update recipients set state = 'ambiguous', updated_at = now()
        where campaign_id = ${campaignId} and state = 'sending' returning seq`,
  );
  return rows.length;
}

/**
 * Decides ambiguous recipients that no status event settled within the wait (counted from when the send
 * went out, kept in `sending_since`): `at-most-once` campaigns
 * record them as `unknown` (never risk a second message), `at-least-once` ones send them again.
 */
async function settleAmbiguous(db: Database, c: CampaignRow, settledBeforeMs: number): Promise<void> {
  const next = c.ambiguityPolicy === 'at-least-once' ? 'pending' : 'unknown';
  await db.execute(
    sql`update recipients set state = ${next}, next_attempt_at = null, updated_at = now(),
          error_message = coalesce(error_message, 'no status event after an unanswered send')
        where campaign_id = ${c.id} and state = 'ambiguous' and sending_since <= ${ts(settledBeforeMs)}`,
  );
}

/** Once the tier budget is spent, only recipients who cost none: `free` says where to look for them. */
interface FreeOnly {
  scopeKey: string;
  tierWindowMs: number;
}

async function fetchDue(
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

/** Moves recipients whose local time is outside the send window to their next opening. */
async function deferOutsideWindow(
  db: Database,
  c: CampaignRow,
  number: NumberRow,
  window: SendWindow | undefined,
  rows: DueRow[],
  nowMs: number,
): Promise<DueRow[]> {
  if (!window) return rows;
  const inside: DueRow[] = [];
  const later: { seq: number; at: Date }[] = [];
  for (const row of rows) {
    const wait = msUntilOpen(nowMs, row.timezone ?? number.defaultTimezone, window);
    if (wait === 0) inside.push(row);
    else later.push({ seq: row.seq, at: new Date(nowMs + wait) });
  }
  if (later.length > 0) {
    const values = sql.join(
      later.map((l) => sql`(${l.seq}::int, ${ts(l.at)})`),
      sql`, `,
    );
    await db.execute(
      sql`update recipients r set next_attempt_at = v.at, updated_at = now()
          from (values ${values}) as v(seq, at) where r.campaign_id = ${c.id} and r.seq = v.seq`,
    );
  }
  return inside;
}

/** Marketing is never sent to users who opted out, even if they did so after the list was imported. */
async function skipSuppressed(db: Database, c: CampaignRow, rows: DueRow[]): Promise<DueRow[]> {
  if (c.category !== 'MARKETING' || rows.length === 0) return rows;
  const phones = sql.join(
    rows.map((r) => sql`${r.phone}`),
    sql`, `,
  );
  const stopped = new Set(
    (
      await queryRows<{ phone: string }>(
        db,
        sql`select phone from ${suppressions} where phone in (${phones})`,
      )
    ).map((r) => r.phone),
  );
  if (stopped.size === 0) return rows;
  const skipped = rows.filter((r) => stopped.has(r.phone)).map((r) => sql`${r.seq}`);
  await db.execute(
    sql`update recipients set state = 'skipped', error_message = 'opted out of marketing', updated_at = now()
        where campaign_id = ${c.id} and seq in (${sql.join(skipped, sql`, `)})`,
  );
  return rows.filter((r) => !stopped.has(r.phone));
}

async function openServiceWindows(
  db: Database,
  phoneNumberId: string,
  rows: DueRow[],
  nowMs: number,
): Promise<Set<string>> {
  const phones = sql.join(
    rows.map((r) => sql`${r.phone}`),
    sql`, `,
  );
  const open = await queryRows<{ phone: string }>(
    db,
    sql`select phone from service_windows where phone_number_id = ${phoneNumberId}
        and last_inbound_at > ${ts(nowMs - CUSTOMER_SERVICE_WINDOW_MS)} and phone in (${phones})`,
  );
  return new Set(open.map((r) => r.phone));
}

/** Marks rows `sending` if they are still `pending`, and returns the ones this call claimed. */
async function recordIntent(
  db: Database,
  campaignId: string,
  rows: DueRow[],
  nowMs: number,
): Promise<Set<number>> {
  const seqs = sql.join(
    rows.map((r) => sql`${r.seq}`),
    sql`, `,
  );
  const claimed = await queryRows<{ seq: unknown }>(
    db,
    sql`update recipients set state = 'sending', sending_since = ${ts(nowMs)}, attempts = attempts + 1,
        updated_at = now() where campaign_id = ${campaignId} and seq in (${seqs}) and state = 'pending'
        returning seq`,
  );
  return new Set(claimed.map((r) => num(r.seq)));
}

async function revertIntent(db: Database, campaignId: string, rows: DueRow[]): Promise<void> {
  if (rows.length === 0) return;
  const seqs = sql.join(
    rows.map((r) => sql`${r.seq}`),
    sql`, `,
  );
  await db.execute(
    sql`update recipients set state = 'pending', sending_since = null, attempts = attempts - 1, updated_at = now()
        where campaign_id = ${campaignId} and seq in (${seqs}) and state = 'sending'`,
  );
}

async function sendOne(deps: ActivityDeps, c: CampaignRow, row: DueRow): Promise<SendOutcome> {
  try {
    const out = await deps.socialMessaging.send(
      new SendWhatsAppMessageCommand({
        originationPhoneNumberId: c.phoneNumberId,
        metaApiVersion: deps.metaApiVersion ?? 'v20.0',
        message: buildTemplateMessage({
          to: row.phone,
          templateName: c.templateName,
          templateLanguage: c.templateLanguage,
          bodyParameters: row.params,
          bizOpaqueCallbackData: bizOpaqueCallbackData(c.id, row.seq),
        }),
      }),
    );
    if (!out.messageId)
      return { kind: 'error', action: ErrorAction.Ambiguous, message: 'accepted without a message id' };
    return { kind: 'sent', messageId: out.messageId };
  } catch (err) {
    return classifySendError(err);
  }
}

interface RowUpdate {
  seq: number;
  state: string;
  messageId: string | null;
  code: number | null;
  message: string | null;
  nextAttemptAt: Date | null;
  /** Undo the attempt count: the call never went out. */
  uncount: boolean;
}

/** Writes the outcomes of one chunk in one statement and decides retries, suppressions and brakes. */
async function recordOutcomes(
  deps: ActivityDeps,
  c: CampaignRow,
  number: NumberRow,
  rows: DueRow[],
  outcomes: SendOutcome[],
  summary: BatchSummary,
  brake: { code?: number; reason?: string; action?: ErrorAction },
  nowMs: number,
): Promise<void> {
  const { db } = deps;
  const attemptsBySeq = new Map(
    (
      await queryRows<{ seq: number; attempts: number }>(
        db,
        sql`select seq, attempts from recipients where campaign_id = ${c.id}
            and seq in (${sql.join(
              rows.map((r) => sql`${r.seq}`),
              sql`, `,
            )})`,
      )
    ).map((r) => [num(r.seq), num(r.attempts)]),
  );
  const deadlineMs = c.deadline?.getTime();
  const updates: RowUpdate[] = [];
  const suppress: string[] = [];
  let throttled = false;
  let upgrading = false;

  rows.forEach((row, i) => {
    const outcome = outcomes[i] ?? { kind: 'not-sent' };
    const base = {
      seq: row.seq,
      messageId: null,
      code: null,
      message: null,
      nextAttemptAt: null,
      uncount: false,
    };
    if (outcome.kind === 'sent') {
      summary.sent++;
      sendsTotal.inc({ outcome: 'sent' });
      updates.push({ ...base, state: 'sent', messageId: outcome.messageId });
      return;
    }
    if (outcome.kind === 'not-sent') {
      updates.push({ ...base, state: 'pending', uncount: true });
      return;
    }
    sendsTotal.inc({ outcome: outcome.action });
    const attempts = attemptsBySeq.get(row.seq) ?? 1;
    const failed = { ...base, code: outcome.code ?? null, message: outcome.message.slice(0, 500) };
    let retryAt: number | undefined;
    switch (outcome.action) {
      case ErrorAction.RetryBackoff:
        if (outcome.code === 130429) throttled = true;
        if (attempts < MAX_RATE_LIMIT_TRIES) retryAt = nowMs + backoffSeconds(attempts - 1) * 1000;
        break;
      case ErrorAction.WaitUpgrade:
        upgrading = true;
        if (attempts < MAX_RATE_LIMIT_TRIES) retryAt = nowMs + 60_000;
        break;
      case ErrorAction.RetryTransient:
        if (attempts < MAX_TRANSIENT_TRIES) retryAt = nowMs + Math.min(2 ** attempts, 300) * 1000;
        break;
      case ErrorAction.RetryNextDay:
        if (attempts < MAX_NEXT_DAY_TRIES) retryAt = nowMs + 24 * 3600_000 + 60_000;
        break;
      case ErrorAction.Ambiguous:
        summary.ambiguous++;
        updates.push({ ...failed, state: 'ambiguous' });
        return;
      case ErrorAction.Suppress:
        suppress.push(row.phone);
        break;
      case ErrorAction.PauseTemplate:
      case ErrorAction.StopTemplate:
      case ErrorAction.StopCampaign:
        // The campaign-level brake: this recipient was not sent and goes back to wait for the outcome.
        brake.action ??= outcome.action;
        brake.code ??= outcome.code;
        brake.reason ??= outcome.message;
        updates.push({ ...failed, state: 'pending', uncount: true });
        return;
      case ErrorAction.Drop:
        break;
    }
    if (retryAt !== undefined && (deadlineMs === undefined || retryAt < deadlineMs)) {
      summary.retryScheduled++;
      updates.push({ ...failed, state: 'pending', nextAttemptAt: new Date(retryAt) });
    } else if (retryAt !== undefined || RETRYABLE.has(outcome.action)) {
      summary.failed++;
      updates.push({ ...failed, state: retryAt !== undefined ? 'expired' : 'failed' });
    } else {
      summary.failed++;
      updates.push({ ...failed, state: 'failed' });
    }
  });

  const values = sql.join(
    updates.map(
      (u) =>
        sql`(${u.seq}::int, ${u.state}::text, ${u.messageId}::text, ${u.code}::int, ${u.message}::text,
             ${ts(u.nextAttemptAt)}, ${u.uncount}::boolean)`,
    ),
    sql`, `,
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
        from (values ${values}) as v(seq, state, message_id, code, message, next_at, uncount)
        where r.campaign_id = ${c.id} and r.seq = v.seq and r.state = 'sending'`,
  );

  if (suppress.length > 0) {
    await db
      .insert(suppressions)
      .values(
        suppress.map((phone) => ({
          phone,
          reason: 'user stopped marketing messages (131050)',
          source: 'send',
        })),
      )
      .onConflictDoNothing();
  }
  if (throttled) {
    const streak = await holdNumber(db, number.phoneNumberId, 1000, true);
    deps.logger.warn(
      { phoneNumberId: number.phoneNumberId, streak },
      'platform throttled the number (130429)',
    );
    if (streak > 1) await holdNumber(db, number.phoneNumberId, Math.min(30_000, 1000 * 2 ** streak), false);
  } else if (summary.sent > 0) {
    await clearThrottle(db, number.phoneNumberId);
  }
  if (upgrading) await holdNumber(db, number.phoneNumberId, 60_000, false);
}
