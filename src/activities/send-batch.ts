import { setTimeout as sleep } from 'node:timers/promises';
import { ApplicationFailure, CancelledFailure, Context } from '@temporalio/activity';
import { SendWhatsAppMessageCommand } from '@aws-sdk/client-socialmessaging';
import { eq, sql } from 'drizzle-orm';
import type { Database } from '../db/client';
import { campaigns, suppressions } from '../db/schema';
import { ensureNumber, tierScopeKey, type NumberRow } from '../db/numbers';
import { claimSlots, clearThrottle, holdNumber } from '../db/pacer';
import { extendReach, reserveReach } from '../db/tier';
import { num, queryRows, toMs, ts } from '../db/query';
import { intArray, recordset, textList } from '../db/sql-values';
import { buildTemplateMessage } from '../platform/message';
import { bizOpaqueCallbackData } from '../shared/ids';
import { ErrorAction } from '../shared/meta-errors';
import { FailureSource, brakesCampaign, decideRecipientFailure } from '../shared/recipient-failure';
import { msUntilOpen, type SendWindow } from '../shared/send-window';
import { sendIntentsRecoveredTotal, sendsTotal } from '../shared/metrics';
import { BatchOutcome, DEFAULT_CAMPAIGN_TUNING, type BatchSummary } from '../shared/workflow-contracts';
import type { ActivityDeps } from './deps';
import { classifySendError, type SendOutcome } from './send-outcome';
import { checkTemplate } from './templates';

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

/** Failure type of a batch for a campaign the database does not hold; never retried. */
export const CAMPAIGN_NOT_FOUND = 'CampaignNotFound';

interface DueRow {
  seq: number;
  phone: string;
  params: string[];
  timezone: string | null;
}

/** What went out of a chunk: each row's outcome and, for rows sent, when the answer came (local clock). */
interface Dispatched {
  outcomes: SendOutcome[];
  answeredAt: number[];
}

/** A chunk whose intent is recorded and whose slots are claimed, ready to dispatch. */
interface PreparedChunk {
  rows: DueRow[];
  /** Attempts of each row, this one included (by seq). */
  attempts: Map<number, number>;
  /** Local-clock time of each row's slot. */
  sendAtMs: number[];
  lastSlotLocalMs: number;
  /** Tier budget scope, and the users this chunk took budget for with the reach time recorded for each. */
  scopeKey: string;
  reachAt: Map<string, number>;
  /** How late after its slot a message of this chunk may still leave (the rate was set for it). */
  graceMs: number;
}

const CUSTOMER_SERVICE_WINDOW_MS = 24 * 3600_000;
/** Chunks cover about this much of the number's timeline: short enough to brake fast and interleave fairly. */
const CHUNK_SECONDS = 0.25;
/** Start preparing the next chunk this long before the current one's last slot, so the timeline has no gaps. */
const PREPARE_LEAD_MS = 120;
/**
 * Slack between a user's slot and the reach time recorded for them: the dispatch grace and a little more.
 * The platform accepts a message before it answers, so a send answered later than its recorded time moves
 * the user's reach time to the answer (long before the window ends): the ledger never frees a user before
 * the platform does, and frees them no later than needed.
 */
const REACH_SLACK_MS = 20;
/** A tier budget that frees up within this long is waited for here, not by a workflow timer. */
const BUDGET_WAIT_IN_PROCESS_MS = 2_000;
const NUMBER_REFRESH_MS = 1_000;
/**
 * A message may leave at most its chunk's grace after its slot; later, it goes back for a new one. The
 * grace is at least this, and grows with the lateness actually seen (a starved event loop, an embedded
 * database blocking it), so a slow process sends at a lower rate instead of sending back nearly everything.
 */
const MIN_LATE_GRACE_MS = 10;
const MAX_LATE_GRACE_MS = 250;
/**
 * The platform accepts a message somewhere between our dispatch and its answer, so the pacer allows for
 * the longest recent request latency (plus clock mapping error): at least this much,
 */
const MIN_ACCEPT_JITTER_MS = 4;
/** and this much before the first answers show what the endpoint's latency is (cold connections). */
const INITIAL_ACCEPT_JITTER_MS = 50;
/** Each chunk, the remembered worst latency decays by this factor towards what is observed now. */
const JITTER_DECAY = 0.7;
/** Slots are claimed at least this far ahead, so the claimer is at its first slot in time. */
const CLAIM_LEAD_MS = 5;
/**
 * Fraction of the number's MPS the pacer uses. Slots of all claimers on a number are at least one
 * interval I = 1/rate apart, and a message reaches the platform within [slot, slot + grace + jitter],
 * where jitter is the longest request latency seen lately (the platform accepts somewhere between our
 * dispatch and its answer). So
 * any one-second window holds messages whose slots lie in an interval of 1 s + grace + jitter: at most
 * floor(rate × (1 s + grace + jitter)) + 1 of them, which stays within the MPS while
 * rate × (1 s + grace + jitter) < MPS.
 */
function effectiveSafety(mps: number, configured: number, jitterMs: number, graceMs: number): number {
  const bound = 1 / (1 + (graceMs + jitterMs) / 1000);
  return Math.min(configured, bound * (1 - 0.5 / Math.max(mps, 1)));
}

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
  // No attempt can find a campaign that is not there: retrying would only keep the workflow waiting.
  if (!campaign)
    throw ApplicationFailure.create({
      type: CAMPAIGN_NOT_FOUND,
      message: `campaign ${input.campaignId} is not in the database`,
      nonRetryable: true,
    });
  let number = await ensureNumber(db, campaign.phoneNumberId);

  // Rows still `sending` belong to an attempt that died mid-chunk: the platform may have them.
  const ambiguousFromCrash = await markCrashedIntentsAmbiguous(db, campaign.id);
  if (ambiguousFromCrash > 0) {
    sendIntentsRecoveredTotal.inc(ambiguousFromCrash);
    deps.logger.warn(
      { campaignId: campaign.id, recipients: ambiguousFromCrash },
      'an earlier send attempt stopped before recording its outcomes: its recipients are ambiguous until a status event settles them',
    );
  }
  const ambiguityWaitMs = input.ambiguityWaitMs ?? DEFAULT_CAMPAIGN_TUNING.ambiguityWaitMs;
  await settleAmbiguous(db, campaign, clock() - ambiguityWaitMs);

  const paceSafety = deps.paceSafety ?? 0.98;
  let intervalMs = 0;
  let chunkSize = 1;
  // Slots claimed but not used in time are lost capacity: when this process cannot keep up with the
  // number's rate (CPU, a slow endpoint), claim only about what it managed last time, growing back as it can.
  let sendCapacity = Number.POSITIVE_INFINITY;
  let numberReadAt = clock();
  // End of this attempt's last claimed run (local clock): where its next run starts at the earliest.
  let lastClaimEndLocalMs = Number.NEGATIVE_INFINITY;
  // Worst request latency lately (ms): how late after dispatch the platform may count a message.
  let jitterMs = INITIAL_ACCEPT_JITTER_MS;
  let chunkWorstLatencyMs = 0;
  // Lateness allowed to the next chunk's messages, and the lateness of messages since it was last set.
  // It follows what most messages see (the 80th percentile), not a single pause: a pause sends a few
  // messages back, a starved process would send back nearly all of them.
  let graceMs = MIN_LATE_GRACE_MS;
  let lateness: number[] = [];
  const applyRate = () => {
    const rate = Math.max(0.1, number.mps * effectiveSafety(number.mps, paceSafety, jitterMs, graceMs));
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
  const brake: Brake = {};
  const watchTemplate = templateWatcher(deps, campaign, () => number.wabaId ?? undefined, clock, brake);
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
      }
      if (chunkWorstLatencyMs > 0) {
        jitterMs = Math.max(MIN_ACCEPT_JITTER_MS, chunkWorstLatencyMs, jitterMs * JITTER_DECAY);
        chunkWorstLatencyMs = 0;
      }
      if (lateness.length > 0) {
        lateness.sort((a, b) => a - b);
        const typical = lateness[Math.floor(lateness.length * 0.8)] ?? 0;
        graceMs = Math.min(
          MAX_LATE_GRACE_MS,
          Math.max(MIN_LATE_GRACE_MS, typical * 1.25, graceMs * JITTER_DECAY),
        );
        lateness = [];
      }
      applyRate();
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
      // Tier budget first, recorded for when the sends will have happened at the latest. The slots are
      // claimed last, just before dispatch, so no claimed slot waits on the database; until then the
      // run's end is estimated from our own previous claim and corrected below if others claimed since.
      const scopeKey = tierScopeKey(number);
      const estimatedFirstMs = Math.max(clock() + CLAIM_LEAD_MS, lastClaimEndLocalMs);
      // Each user's reach time is the latest its send can happen: its place in the run (rows dropped
      // below only move the others earlier) plus the slack.
      const needBudget = allowed.flatMap((r, i) =>
        open.has(r.phone) ? [] : [{ phone: r.phone, at: estimatedFirstMs + i * intervalMs + REACH_SLACK_MS }],
      );
      const grant = await reserveReach(db, {
        scopeKey,
        limit: number.tierLimit,
        windowMs: number.tierWindowSeconds * 1000,
        nowMs: clock(),
        reachAtMs: needBudget.map((n) => n.at),
        phones: needBudget.map((n) => n.phone),
      });
      if (grant.denied.length > 0) {
        budgetSpent = true;
        budgetResetsAt = grant.resetsAt;
      }
      const denied = new Set(grant.denied);
      let rows = allowed.filter((r) => !denied.has(r.phone));
      if (rows.length === 0) continue;

      // Only rows this attempt really claimed are sent: a stale attempt of the same batch may hold others.
      const attempts = await recordIntent(db, campaign.id, rows, clock());
      rows = rows.filter((r) => attempts.has(r.seq));
      if (rows.length === 0) continue;
      const claim = await claimSlots(db, number.phoneNumberId, rows.length, intervalMs, CLAIM_LEAD_MS);
      // Slots are on the database clock (shared by all workers); everything else uses the local clock.
      const localOffset = clock() - claim.dbNowMs;
      const sendAtMs = rows.map((_, i) => claim.firstSlotMs + i * intervalMs + localOffset);
      const lastSlotLocalMs = sendAtMs[sendAtMs.length - 1] ?? clock();
      lastClaimEndLocalMs = lastSlotLocalMs + intervalMs;
      const reachAt = new Map(needBudget.map((n) => [n.phone, n.at]));
      // Others may have claimed the timeline meanwhile, so a row's slot can be later than estimated.
      const later = rows.flatMap((r, i) => {
        const atMs = (sendAtMs[i] ?? 0) + REACH_SLACK_MS;
        const recorded = reachAt.get(r.phone);
        return recorded !== undefined && atMs > recorded ? [{ phone: r.phone, atMs }] : [];
      });
      await extendReach(db, scopeKey, later);
      for (const l of later) reachAt.set(l.phone, l.atMs);
      return { rows, attempts, sendAtMs, lastSlotLocalMs, scopeKey, reachAt, graceMs };
    }
  };

  // Each message leaves at or after its slot and at most its chunk's grace after it; one that would be later
  // (a stalled event loop, a slow preparation) goes back for a fresh slot instead of crowding the next
  // claimer's. The safety factor above is derived from exactly this bound.
  const dispatch = async (chunk: PreparedChunk): Promise<Dispatched> => {
    const inFlight: Promise<SendOutcome>[] = [];
    const answeredAt: number[] = [];
    for (let i = 0; i < chunk.rows.length; i++) {
      const row = chunk.rows[i]!;
      const slot = chunk.sendAtMs[i] ?? 0;
      for (let wait = slot - clock(); wait > 0; wait = slot - clock()) await sleep(Math.ceil(wait));
      const late = clock() - slot;
      lateness.push(late);
      if (late > chunk.graceMs || brake.action || ctx?.cancellationSignal.aborted) {
        inFlight.push(Promise.resolve({ kind: 'not-sent' }));
        continue;
      }
      const dispatchedAt = clock();
      inFlight.push(
        sendOne(deps, campaign, row, slot + chunk.graceMs, clock).then((outcome) => {
          const at = clock();
          answeredAt[i] = at;
          chunkWorstLatencyMs = Math.max(chunkWorstLatencyMs, at - dispatchedAt);
          // Stop the chunks already going out at once; recordOutcomes keeps the details.
          if (outcome.kind === 'error' && brakesCampaign(outcome.action)) brake.action ??= outcome.action;
          return outcome;
        }),
      );
    }
    return { outcomes: await Promise.all(inFlight), answeredAt };
  };

  // Chunks overlap: the next one is prepared while this one goes out, and goes out while this one's
  // outcomes are written, so the number's timeline has no gaps. Outcomes are written in order.
  let recording: Promise<void> = Promise.resolve();
  let recordError: Error | undefined;
  const record = (chunk: PreparedChunk, sending: Promise<Dispatched>) => {
    recording = recording
      .then(async () => {
        const { outcomes, answeredAt } = await sending;
        // An answer after the reach time recorded for its user: the platform may have counted the user
        // that late, so the ledger must too.
        const late = chunk.rows.flatMap((r, i) => {
          const atMs = answeredAt[i];
          const recorded = chunk.reachAt.get(r.phone);
          return atMs !== undefined && recorded !== undefined && atMs > recorded
            ? [{ phone: r.phone, atMs }]
            : [];
        });
        await extendReach(db, chunk.scopeKey, late);
        const putBack = outcomes.filter((o) => o.kind === 'not-sent').length;
        const dispatched = chunk.rows.length - putBack;
        sendCapacity = putBack > 0 && !brake.action ? Math.max(1, dispatched * 1.1) : sendCapacity * 1.5;
        await recordOutcomes(
          deps,
          campaign,
          number,
          chunk.rows,
          chunk.attempts,
          outcomes,
          summary,
          brake,
          clock(),
        );
        ctx?.heartbeat({ sent: summary.sent, failed: summary.failed });
      })
      .catch((err: unknown) => {
        recordError ??= err instanceof Error ? err : new Error(String(err));
      });
  };

  let current = await prepare();
  while (current && recordError === undefined) {
    watchTemplate();
    const sending = dispatch(current);
    record(current, sending);
    const lead = current.lastSlotLocalMs - PREPARE_LEAD_MS - clock();
    if (lead > 0) await Promise.race([sleep(lead), sending]);
    let next = brake.action || recordError !== undefined ? undefined : await prepare();
    if (!next) {
      // Rows put back (late for their slot) are due again once this chunk's outcomes are written.
      await recording;
      if (!brake.action && recordError === undefined) next = await prepare();
    }
    if (next && (brake.action || recordError !== undefined)) {
      await revertIntent(db, campaign.id, next.rows);
      next = undefined;
    }
    // Budget about to free up (the next users leave the rolling window within moments): wait here rather
    // than end the activity and have the workflow set a timer, which costs a second or more each time.
    while (
      !next &&
      budgetSpent &&
      budgetResetsAt !== undefined &&
      !brake.action &&
      recordError === undefined
    ) {
      const wait = budgetResetsAt - clock();
      if (wait > BUDGET_WAIT_IN_PROCESS_MS || clock() + wait - startedAt >= input.maxDurationMs) break;
      if (ctx?.cancellationSignal.aborted) break;
      // Never spin: a reset time just passed may still deny for a moment (another sender took it).
      await sleep(Math.max(wait, 10));
      ctx?.heartbeat({ sent: summary.sent, failed: summary.failed });
      budgetSpent = false;
      budgetResetsAt = undefined;
      next = await prepare();
    }
    current = next;
  }
  await recording;
  if (recordError !== undefined) throw recordError;

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
  if (brake.qualityRed) summary.outcome = BatchOutcome.TemplateQuality;
  else if (brake.action === ErrorAction.PauseTemplate) summary.outcome = BatchOutcome.TemplatePaused;
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

interface Brake {
  code?: number;
  reason?: string;
  action?: ErrorAction;
  /** Braked because the template's quality is RED (found by looking it up, not by a refused send). */
  qualityRed?: boolean;
}

/**
 * Returns a function to call as chunks go out: at most once per `templateWatchMs` it looks the template
 * up in the background and brakes the batch if its quality is RED. The platform's template event does
 * the same through the ingest service and a signal, but behind a backlog of status events it can come
 * seconds late at high rates. A failed look-up changes nothing: the event path and the workflow's own
 * checks still stand.
 */
function templateWatcher(
  deps: ActivityDeps,
  c: CampaignRow,
  wabaIdOf: () => string | undefined,
  clock: () => number,
  brake: Brake,
): () => void {
  const every = deps.templateWatchMs ?? 1_000;
  let nextAt = clock() + every;
  let busy = false;
  return () => {
    if (every <= 0 || busy || clock() < nextAt) return;
    busy = true;
    nextAt = clock() + every;
    checkTemplate(deps, {
      phoneNumberId: c.phoneNumberId,
      templateName: c.templateName,
      templateLanguage: c.templateLanguage,
      wabaId: wabaIdOf(),
    })
      .then((t) => {
        if (t.quality !== 'RED' || brake.action) return;
        brake.action = ErrorAction.PauseTemplate;
        brake.qualityRed = true;
        brake.reason = `template ${c.templateName} (${c.templateLanguage}) quality dropped to RED`;
      })
      .catch(() => undefined)
      .finally(() => {
        busy = false;
      });
  };
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
    const source = recordset(
      later.map((l) => ({ seq: l.seq, at: l.at.toISOString() })),
      'v',
      'seq int, at timestamptz',
    );
    await db.execute(
      sql`update recipients r set next_attempt_at = v.at, updated_at = now()
          from ${source} where r.campaign_id = ${c.id} and r.seq = v.seq`,
    );
  }
  return inside;
}

/** Marketing is never sent to users who opted out, even if they did so after the list was imported. */
async function skipSuppressed(db: Database, c: CampaignRow, rows: DueRow[]): Promise<DueRow[]> {
  if (c.category !== 'MARKETING' || rows.length === 0) return rows;
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
        where campaign_id = ${c.id} and seq = any(${skipped})`,
  );
  return rows.filter((r) => !stopped.has(r.phone));
}

async function openServiceWindows(
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
async function recordIntent(
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

async function revertIntent(db: Database, campaignId: string, rows: DueRow[]): Promise<void> {
  if (rows.length === 0) return;
  const seqs = intArray(rows.map((r) => r.seq));
  await db.execute(
    sql`update recipients set state = 'pending', sending_since = null, attempts = attempts - 1, updated_at = now()
        where campaign_id = ${campaignId} and seq = any(${seqs}) and state = 'sending'`,
  );
}

/** Raised inside the AWS client when a message would leave after its slot's grace: it was never sent. */
class LateForSlotError extends Error {
  override name = 'LateForSlotError';
}

/**
 * One SendWhatsAppMessage call. `notAfterMs` is checked at the last step of the AWS client's pipeline,
 * after signing and just before the HTTP request is written, so a pause anywhere in between (garbage
 * collection, a busy event loop) cannot push a message past its slot's grace: it comes back unsent.
 */
async function sendOne(
  deps: ActivityDeps,
  c: CampaignRow,
  row: DueRow,
  notAfterMs: number,
  clock: () => number,
): Promise<SendOutcome> {
  const command = new SendWhatsAppMessageCommand({
    originationPhoneNumberId: c.phoneNumberId,
    metaApiVersion: deps.metaApiVersion ?? 'v20.0',
    message: buildTemplateMessage({
      to: row.phone,
      templateName: c.templateName,
      templateLanguage: c.templateLanguage,
      bodyParameters: row.params,
      bizOpaqueCallbackData: bizOpaqueCallbackData(c.id, row.seq),
    }),
  });
  command.middlewareStack.add(
    (next) => (args) => {
      if (clock() > notAfterMs) throw new LateForSlotError('late for its send slot');
      return next(args);
    },
    { step: 'finalizeRequest', priority: 'low', name: 'waSlotDeadline' },
  );
  try {
    const out = await deps.socialMessaging.send(command);
    if (!out.messageId)
      return { kind: 'error', action: ErrorAction.Ambiguous, message: 'accepted without a message id' };
    return { kind: 'sent', messageId: out.messageId };
  } catch (err) {
    if (err instanceof LateForSlotError) return { kind: 'not-sent' };
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
  attemptsBySeq: Map<number, number>,
  outcomes: SendOutcome[],
  summary: BatchSummary,
  brake: Brake,
  nowMs: number,
): Promise<void> {
  const { db } = deps;
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
    if (outcome.action === ErrorAction.RetryBackoff && outcome.code === 130429) throttled = true;
    if (outcome.action === ErrorAction.WaitUpgrade) upgrading = true;
    if (brakesCampaign(outcome.action)) {
      // The campaign-level brake: the workflow decides what becomes of the campaign.
      brake.action ??= outcome.action;
      brake.code ??= outcome.code;
      brake.reason ??= outcome.message;
    }
    const decision = decideRecipientFailure({
      source: FailureSource.Send,
      action: outcome.action,
      attempts: attemptsBySeq.get(row.seq) ?? 1,
      nowMs,
      ...(deadlineMs !== undefined ? { deadlineMs } : {}),
    });
    if (decision.suppress) suppress.push(row.phone);
    if (decision.state === 'ambiguous') summary.ambiguous++;
    else if (decision.state === 'failed' || decision.state === 'expired') summary.failed++;
    else if (decision.nextAttemptAtMs !== undefined) summary.retryScheduled++;
    updates.push({
      ...base,
      state: decision.state,
      code: outcome.code ?? null,
      message: outcome.message.slice(0, 500),
      nextAttemptAt: decision.nextAttemptAtMs === undefined ? null : new Date(decision.nextAttemptAtMs),
      uncount: decision.uncount ?? false,
    });
  });

  const source = recordset(
    updates.map((u) => ({
      seq: u.seq,
      state: u.state,
      message_id: u.messageId,
      code: u.code,
      message: u.message,
      next_at: u.nextAttemptAt?.toISOString() ?? null,
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
