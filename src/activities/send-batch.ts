import { setTimeout as sleep } from 'node:timers/promises';
import { ApplicationFailure, CancelledFailure, Context } from '@temporalio/activity';
import { ensureNumber, tierScopeKey, type NumberRow } from '../db/numbers';
import { claimSlots, clearThrottle, holdNumber } from '../db/pacer';
import { extendReach, reserveReach } from '../db/tier';
import {
  deferRecipients,
  fetchDue,
  loadCampaign,
  markCrashedIntentsAmbiguous,
  openServiceWindows,
  queueLeft,
  recordIntent,
  revertIntent,
  settleAmbiguous,
  skipSuppressed,
  suppressFromSend,
  writeOutcomes,
  type CampaignRow,
  type DueRow,
} from '../db/send-queue';
import { msUntilOpen, type SendWindow } from '../shared/send-window';
import { sendIntentsRecoveredTotal, sendsTotal } from '../shared/metrics';
import { brakesCampaign } from '../shared/recipient-failure';
import {
  BatchOutcome,
  DEFAULT_CAMPAIGN_TUNING,
  DEFAULT_PACE_SAFETY,
  type BatchSummary,
} from '../shared/workflow-contracts';
import { chooseBatchOutcome, planChunkOutcomes, type Brake } from './batch-outcome';
import type { ActivityDeps } from './deps';
import { sendOne, type SendOutcome } from './send-one';
import { Pacer, type Dispatched } from './send-pacer';
import { TemplateWatch } from './template-watch';

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

/** Failure type of a batch for a campaign the database does not hold; never retried. */
export const CAMPAIGN_NOT_FOUND = 'CampaignNotFound';

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
/** Slots are claimed at least this far ahead, so the claimer is at its first slot in time. */
const CLAIM_LEAD_MS = 5;

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

  const campaign = await loadCampaign(db, input.campaignId);
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

  const pacer = new Pacer(
    {
      paceSafety: deps.paceSafety ?? DEFAULT_PACE_SAFETY,
      clock,
      ...(ctx ? { signal: ctx.cancellationSignal } : {}),
    },
    number.mps,
  );
  let numberReadAt = clock();
  // End of this attempt's last claimed run (local clock): where its next run starts at the earliest.
  let lastClaimEndLocalMs = Number.NEGATIVE_INFINITY;
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
  const templateWatch = new TemplateWatch(deps, campaign, () => number.wabaId ?? undefined, clock, brake);
  let budgetResetsAt: number | undefined;
  let budgetSpent = false;
  let timeSliceOver = false;
  const cancelled = () => ctx?.cancellationSignal.aborted === true;

  const prepare = async (): Promise<PreparedChunk | undefined> => {
    for (;;) {
      const now = clock();
      if (brake.action || cancelled()) return undefined;
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
      pacer.retune(number.mps);
      const freeOnly = budgetSpent
        ? { scopeKey: tierScopeKey(number), tierWindowMs: number.tierWindowSeconds * 1000 }
        : undefined;
      const due = await fetchDue(db, campaign, pacer.wanted, now, freeOnly);
      if (due.length === 0) return undefined;

      const inWindow = await deferOutsideWindow(deps, campaign, number, window, due, now);
      const allowed =
        campaign.category === 'MARKETING' ? await skipSuppressed(db, campaign.id, inWindow) : inWindow;
      summary.skipped += inWindow.length - allowed.length;
      if (allowed.length === 0) continue;

      const open = await openServiceWindows(db, number.phoneNumberId, allowed, now);
      // Tier budget first, recorded for when the sends will have happened at the latest. The slots are
      // claimed last, just before dispatch, so no claimed slot waits on the database; until then the
      // run's end is estimated from our own previous claim and corrected below if others claimed since.
      const scopeKey = tierScopeKey(number);
      const intervalMs = pacer.intervalMs;
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
      return { rows, attempts, sendAtMs, lastSlotLocalMs, scopeKey, reachAt, graceMs: pacer.graceMs };
    }
  };

  const braked = () => brake.action !== undefined;
  // Stop the chunks already going out at once; the chunk's recording keeps the details.
  const onAnswer = (outcome: SendOutcome) => {
    if (outcome.kind === 'error' && brakesCampaign(outcome.action)) brake.action ??= outcome.action;
  };
  const dispatch = (chunk: PreparedChunk): Promise<Dispatched> =>
    pacer.dispatch(
      chunk,
      (i, notAfterMs) => sendOne(deps, campaign, chunk.rows[i]!, notAfterMs, clock),
      braked,
      onAnswer,
    );

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
        pacer.chunkDone(chunk.rows.length - putBack, putBack, braked());
        await recordOutcomes(deps, campaign, number, chunk, outcomes, summary, brake, clock());
        ctx?.heartbeat({ sent: summary.sent, failed: summary.failed });
      })
      .catch((err: unknown) => {
        recordError ??= err instanceof Error ? err : new Error(String(err));
      });
  };

  let current = await prepare();
  while (current && recordError === undefined) {
    void templateWatch.poll();
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
      if (cancelled()) break;
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

  if (cancelled()) throw new CancelledFailure('send batch cancelled');

  const left = await queueLeft(db, campaign.id);
  summary.remaining = left.remaining;
  return Object.assign(
    summary,
    chooseBatchOutcome({
      brake,
      remaining: left.remaining,
      budgetSpent,
      budgetResetsAt,
      timeSliceOver,
      dueNow: left.dueNow,
      nextDueMs: left.nextDueMs,
      oldestAmbiguousMs: left.oldestAmbiguousMs,
      ambiguityWaitMs,
      nowMs: clock(),
    }),
  );
}

/** Writes one chunk's outcomes and acts on what they say about the number and the campaign. */
async function recordOutcomes(
  deps: ActivityDeps,
  c: CampaignRow,
  number: NumberRow,
  chunk: PreparedChunk,
  outcomes: SendOutcome[],
  summary: BatchSummary,
  brake: Brake,
  nowMs: number,
): Promise<void> {
  const { db } = deps;
  const plan = planChunkOutcomes(chunk.rows, chunk.attempts, outcomes, nowMs, c.deadline?.getTime());
  for (const [outcome, n] of plan.byOutcome) sendsTotal.inc({ outcome }, n);
  summary.sent += plan.sent;
  summary.failed += plan.failed;
  summary.retryScheduled += plan.retryScheduled;
  summary.ambiguous += plan.ambiguous;
  if (plan.brake) {
    brake.action ??= plan.brake.action;
    brake.code ??= plan.brake.code;
    brake.reason ??= plan.brake.reason;
  }
  await writeOutcomes(db, c.id, plan.updates, nowMs);
  await suppressFromSend(db, plan.suppress);
  if (plan.throttled) {
    const streak = await holdNumber(db, number.phoneNumberId, 1000, true);
    deps.logger.warn(
      { phoneNumberId: number.phoneNumberId, streak },
      'platform throttled the number (130429)',
    );
    if (streak > 1) await holdNumber(db, number.phoneNumberId, Math.min(30_000, 1000 * 2 ** streak), false);
  } else if (summary.sent > 0) {
    await clearThrottle(db, number.phoneNumberId);
  }
  if (plan.upgrading) await holdNumber(db, number.phoneNumberId, 60_000, false);
}

function activityContext(): Context | undefined {
  try {
    return Context.current();
  } catch {
    return undefined;
  }
}

function sendWindowOf(c: CampaignRow): SendWindow | undefined {
  return c.windowStartMin !== null && c.windowEndMin !== null
    ? { startMin: c.windowStartMin, endMin: c.windowEndMin }
    : undefined;
}

/** Moves recipients whose local time is outside the send window to their next opening; returns the rest. */
async function deferOutsideWindow(
  deps: ActivityDeps,
  c: CampaignRow,
  number: NumberRow,
  window: SendWindow | undefined,
  rows: DueRow[],
  nowMs: number,
): Promise<DueRow[]> {
  if (!window) return rows;
  const inside: DueRow[] = [];
  const later: { seq: number; atMs: number }[] = [];
  for (const row of rows) {
    const wait = msUntilOpen(nowMs, row.timezone ?? number.defaultTimezone, window);
    if (wait === 0) inside.push(row);
    else later.push({ seq: row.seq, atMs: nowMs + wait });
  }
  await deferRecipients(deps.db, c.id, later);
  return inside;
}
