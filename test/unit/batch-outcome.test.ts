import { describe, expect, it } from 'vitest';
import { chooseBatchOutcome, planChunkOutcomes, type BatchEnd } from '../../src/activities/batch-outcome';
import type { SendOutcome } from '../../src/activities/send-one';
import type { DueRow } from '../../src/db/send-queue';
import { ErrorAction } from '../../src/shared/meta-errors';
import { BatchOutcome } from '../../src/workflows/definitions';

const now = 1_000_000_000;

function end(over: Partial<BatchEnd> = {}): BatchEnd {
  return {
    brake: {},
    remaining: 5,
    budgetSpent: false,
    budgetResetsAt: undefined,
    timeSliceOver: false,
    dueNow: false,
    nextDueMs: undefined,
    oldestAmbiguousMs: undefined,
    ambiguityWaitMs: 60_000,
    nowMs: now,
    ...over,
  };
}

describe('chooseBatchOutcome', () => {
  it('puts a brake before everything else, a RED template first', () => {
    const red = { action: ErrorAction.PauseTemplate, qualityRed: true, reason: 'RED' };
    expect(chooseBatchOutcome(end({ brake: red, remaining: 0 }))).toMatchObject({
      outcome: BatchOutcome.TemplateQuality,
      reason: 'RED',
    });
    expect(
      chooseBatchOutcome(
        end({ brake: { action: ErrorAction.PauseTemplate, code: 132015 }, budgetSpent: true }),
      ),
    ).toMatchObject({ outcome: BatchOutcome.TemplatePaused, code: 132015 });
    expect(
      chooseBatchOutcome(end({ brake: { action: ErrorAction.StopCampaign, code: 131048, reason: 'spam' } })),
    ).toMatchObject({ outcome: BatchOutcome.Stop, code: 131048, reason: 'spam' });
  });

  it('reports drained, then budget, then time slice, then nothing due', () => {
    expect(chooseBatchOutcome(end({ remaining: 0, budgetSpent: true })).outcome).toBe(BatchOutcome.Drained);
    expect(
      chooseBatchOutcome(end({ budgetSpent: true, budgetResetsAt: now + 5000, timeSliceOver: true })),
    ).toMatchObject({ outcome: BatchOutcome.Budget, budgetResetsAt: now + 5000 });
    expect(chooseBatchOutcome(end({ timeSliceOver: true })).outcome).toBe(BatchOutcome.TimeSlice);
    expect(chooseBatchOutcome(end()).outcome).toBe(BatchOutcome.NothingDue);
  });

  it('looks again at the first of: a due recipient, a retry, an ambiguous send settling, the budget', () => {
    expect(chooseBatchOutcome(end({ dueNow: true, nextDueMs: now + 9000 })).nextDueAt).toBe(now);
    expect(chooseBatchOutcome(end({ nextDueMs: now + 9000 })).nextDueAt).toBe(now + 9000);
    expect(
      chooseBatchOutcome(end({ nextDueMs: now + 90_000, oldestAmbiguousMs: now - 30_000 })).nextDueAt,
    ).toBe(now + 30_000);
    expect(
      chooseBatchOutcome(end({ nextDueMs: now + 9000, budgetSpent: true, budgetResetsAt: now + 2000 }))
        .nextDueAt,
    ).toBe(now + 2000);
    // A budget reset matters only while the budget is spent.
    expect(chooseBatchOutcome(end({ budgetResetsAt: now + 2000 })).nextDueAt).toBeUndefined();
  });
});

describe('planChunkOutcomes', () => {
  const rows: DueRow[] = [1, 2, 3, 4, 5, 6].map((seq) => ({
    seq,
    phone: `+4915100000${seq}`,
    params: [],
    timezone: null,
  }));
  const error = (action: ErrorAction, code?: number): SendOutcome => ({
    kind: 'error',
    action,
    ...(code !== undefined ? { code } : {}),
    message: `refused (#${code ?? 0})`,
  });

  it('decides each recipient and what the chunk means for the number and the campaign', () => {
    const plan = planChunkOutcomes(
      rows,
      new Map(rows.map((r) => [r.seq, 1])),
      [
        { kind: 'sent', messageId: 'wamid.1' },
        { kind: 'not-sent' },
        error(ErrorAction.RetryBackoff, 130429),
        error(ErrorAction.Suppress, 131050),
        error(ErrorAction.PauseTemplate, 132015),
        error(ErrorAction.Ambiguous),
      ],
      now,
      undefined,
    );
    expect(plan.updates.map((u) => [u.seq, u.state, u.uncount])).toEqual([
      [1, 'sent', false],
      [2, 'pending', true],
      [3, 'pending', false],
      [4, 'failed', false],
      [5, 'pending', true],
      [6, 'ambiguous', false],
    ]);
    expect(plan.updates[2]).toMatchObject({ code: 130429, nextAttemptAtMs: now + 1000 });
    expect(plan).toMatchObject({
      sent: 1,
      failed: 1,
      retryScheduled: 1,
      ambiguous: 1,
      suppress: [rows[3]!.phone],
      throttled: true,
      upgrading: false,
      brake: { action: ErrorAction.PauseTemplate, code: 132015 },
    });
    expect(Object.fromEntries(plan.byOutcome)).toEqual({
      sent: 1,
      [ErrorAction.RetryBackoff]: 1,
      [ErrorAction.Suppress]: 1,
      [ErrorAction.PauseTemplate]: 1,
      [ErrorAction.Ambiguous]: 1,
    });
  });

  it('expires a retry past the deadline and fails one out of tries', () => {
    const plan = planChunkOutcomes(
      rows.slice(0, 2),
      new Map([
        [1, 1],
        [2, 10],
      ]),
      [error(ErrorAction.RetryNextDay, 131049), error(ErrorAction.RetryBackoff, 131056)],
      now,
      now + 3600_000,
    );
    expect(plan.updates.map((u) => u.state)).toEqual(['expired', 'failed']);
    expect(plan).toMatchObject({ failed: 2, retryScheduled: 0, throttled: false });
    expect(plan.brake).toBeUndefined();
  });
});
