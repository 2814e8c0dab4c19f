/**
 * The send activity's decisions that need no I/O: what each recipient of a chunk becomes once its
 * answers are in, and what the batch tells its workflow when it ends.
 */
import type { DueRow, OutcomeUpdate } from '../db/send-queue';
import { ErrorAction } from '../shared/meta-errors';
import { FailureSource, brakesCampaign, decideRecipientFailure } from '../shared/recipient-failure';
import { BatchOutcome, type BatchSummary } from '../shared/workflow-contracts';
import type { SendOutcome } from './send-one';

/** Why a batch stops early for the whole campaign; the first cause found wins each field. */
export interface Brake {
  action?: ErrorAction;
  code?: number;
  reason?: string;
  /** Braked because the template's quality is RED (found by looking it up, not by a refused send). */
  qualityRed?: boolean;
}

/** What one chunk's answers mean for its recipients, the number and the campaign. */
export interface ChunkPlan {
  updates: OutcomeUpdate[];
  /** Users who stopped marketing messages. */
  suppress: string[];
  /** The platform throttled the number (130429): its timeline must move back. */
  throttled: boolean;
  /** The number is being upgraded (131057 and the like): it must wait about a minute. */
  upgrading: boolean;
  sent: number;
  failed: number;
  retryScheduled: number;
  ambiguous: number;
  /** Calls by how they ended ('sent' or the error's action), for the sends metric. */
  byOutcome: Map<string, number>;
  /** The first error of the chunk that concerns the whole campaign. */
  brake?: { action: ErrorAction; code?: number; reason: string };
}

/** Decides each recipient of a chunk from its call's outcome (by the shared failure rule). */
export function planChunkOutcomes(
  rows: readonly DueRow[],
  attemptsBySeq: ReadonlyMap<number, number>,
  outcomes: readonly SendOutcome[],
  nowMs: number,
  deadlineMs: number | undefined,
): ChunkPlan {
  const plan: ChunkPlan = {
    updates: [],
    suppress: [],
    throttled: false,
    upgrading: false,
    sent: 0,
    failed: 0,
    retryScheduled: 0,
    ambiguous: 0,
    byOutcome: new Map(),
  };
  const count = (label: string) => plan.byOutcome.set(label, (plan.byOutcome.get(label) ?? 0) + 1);
  for (const [i, row] of rows.entries()) {
    const outcome = outcomes[i] ?? { kind: 'not-sent' };
    const base = { seq: row.seq, messageId: null, code: null, message: null, nextAttemptAtMs: null };
    if (outcome.kind === 'sent') {
      plan.sent++;
      count('sent');
      plan.updates.push({ ...base, state: 'sent', messageId: outcome.messageId, uncount: false });
      continue;
    }
    if (outcome.kind === 'not-sent') {
      plan.updates.push({ ...base, state: 'pending', uncount: true });
      continue;
    }
    count(outcome.action);
    if (outcome.action === ErrorAction.RetryBackoff && outcome.code === 130429) plan.throttled = true;
    if (outcome.action === ErrorAction.WaitUpgrade) plan.upgrading = true;
    if (brakesCampaign(outcome.action)) {
      plan.brake ??= {
        action: outcome.action,
        ...(outcome.code !== undefined ? { code: outcome.code } : {}),
        reason: outcome.message,
      };
    }
    const decision = decideRecipientFailure({
      source: FailureSource.Send,
      action: outcome.action,
      attempts: attemptsBySeq.get(row.seq) ?? 1,
      nowMs,
      ...(deadlineMs !== undefined ? { deadlineMs } : {}),
    });
    if (decision.suppress) plan.suppress.push(row.phone);
    if (decision.state === 'ambiguous') plan.ambiguous++;
    else if (decision.state === 'failed' || decision.state === 'expired') plan.failed++;
    else if (decision.nextAttemptAtMs !== undefined) plan.retryScheduled++;
    plan.updates.push({
      ...base,
      state: decision.state,
      code: outcome.code ?? null,
      message: outcome.message.slice(0, 500),
      nextAttemptAtMs: decision.nextAttemptAtMs ?? null,
      uncount: decision.uncount ?? false,
    });
  }
  return plan;
}

/** What a batch knew when it stopped sending. */
export interface BatchEnd {
  brake: Readonly<Brake>;
  /** Recipients not final yet. */
  remaining: number;
  /** The tier budget ran out, and when it frees up next (epoch ms). */
  budgetSpent: boolean;
  budgetResetsAt: number | undefined;
  /** The batch used up its time slice. */
  timeSliceOver: boolean;
  /** A pending recipient is due now; else the earliest one's time. */
  dueNow: boolean;
  nextDueMs: number | undefined;
  /** When the oldest ambiguous send went out, and how long such a send waits for a status event. */
  oldestAmbiguousMs: number | undefined;
  ambiguityWaitMs: number;
  nowMs: number;
}

export type BatchVerdict = Pick<BatchSummary, 'outcome' | 'nextDueAt' | 'budgetResetsAt' | 'code' | 'reason'>;

/**
 * Chooses what the batch tells its workflow: a brake first (a RED template, a paused one, anything
 * else that stops the campaign), then whether anything is left, then why sending ended. `nextDueAt` is
 * when the workflow should look again: the next retry, send-window opening or ambiguous send's
 * settling, or the tier budget's reset if sooner.
 */
export function chooseBatchOutcome(end: BatchEnd): BatchVerdict {
  const { brake } = end;
  const settleAt =
    end.oldestAmbiguousMs === undefined ? undefined : end.oldestAmbiguousMs + end.ambiguityWaitMs;
  const nextDue = minDefined(end.dueNow ? end.nowMs : end.nextDueMs, settleAt);
  const verdict: BatchVerdict = {
    outcome: BatchOutcome.NothingDue,
    nextDueAt:
      end.budgetSpent && end.budgetResetsAt !== undefined ? minDefined(nextDue, end.budgetResetsAt) : nextDue,
  };
  if (brake.qualityRed) verdict.outcome = BatchOutcome.TemplateQuality;
  else if (brake.action === ErrorAction.PauseTemplate) verdict.outcome = BatchOutcome.TemplatePaused;
  else if (brake.action) verdict.outcome = BatchOutcome.Stop;
  else if (end.remaining === 0) verdict.outcome = BatchOutcome.Drained;
  else if (end.budgetSpent) verdict.outcome = BatchOutcome.Budget;
  else if (end.timeSliceOver) verdict.outcome = BatchOutcome.TimeSlice;
  if (end.budgetSpent) verdict.budgetResetsAt = end.budgetResetsAt;
  if (brake.code !== undefined) verdict.code = brake.code;
  if (brake.reason !== undefined) verdict.reason = brake.reason;
  return verdict;
}

function minDefined(a: number | undefined, b: number | undefined): number | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return Math.min(a, b);
}
