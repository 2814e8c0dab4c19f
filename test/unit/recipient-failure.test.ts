import { describe, expect, it } from 'vitest';
import { ErrorAction, actionForCode } from '../../src/shared/meta-errors';
import {
  FailureSource,
  brakesCampaign,
  decideRecipientFailure,
  type FailureFacts,
} from '../../src/shared/recipient-failure';

const now = 1_000_000_000;
const HOUR = 3600_000;

function decide(facts: Partial<FailureFacts> & Pick<FailureFacts, 'action' | 'source'>) {
  return decideRecipientFailure({ attempts: 1, nowMs: now, ...facts });
}

describe('the failure rule', () => {
  for (const source of [FailureSource.Send, FailureSource.Status]) {
    describe(`for a failure learnt from a ${source}`, () => {
      it('backs off 4^X seconds for rate limits, until the tries are used up', () => {
        const at = (attempts: number) =>
          decide({ source, action: ErrorAction.RetryBackoff, attempts }).nextAttemptAtMs! - now;
        expect([at(1), at(2), at(3), at(4)]).toEqual([1000, 4000, 16_000, 64_000]);
        expect(decide({ source, action: ErrorAction.RetryBackoff, attempts: 10 })).toEqual({
          state: 'failed',
        });
      });

      it('expires a retry that would fall after the deadline', () => {
        expect(
          decide({ source, action: ErrorAction.RetryBackoff, attempts: 3, deadlineMs: now + 10_000 }),
        ).toEqual({ state: 'expired' });
        expect(decide({ source, action: ErrorAction.WaitUpgrade, deadlineMs: now + 2 * HOUR })).toEqual({
          state: 'pending',
          nextAttemptAtMs: now + 60_000,
        });
      });

      it('retries a marketing-capped user a day later, within the deadline', () => {
        const plan = decide({ source, action: ErrorAction.RetryNextDay });
        expect(plan.state).toBe('pending');
        expect(plan.nextAttemptAtMs).toBeGreaterThanOrEqual(now + 24 * HOUR);
        expect(decide({ source, action: ErrorAction.RetryNextDay, deadlineMs: now + HOUR }).state).toBe(
          'expired',
        );
        expect(decide({ source, action: ErrorAction.RetryNextDay, attempts: 3 }).state).toBe('failed');
      });

      it('suppresses an opted-out user and records permanent failures', () => {
        expect(decide({ source, action: ErrorAction.Suppress })).toEqual({ state: 'failed', suppress: true });
        expect(decide({ source, action: ErrorAction.Drop })).toEqual({ state: 'failed' });
      });

      it('keeps a recipient of a paused template for after the pause, its try not counted', () => {
        expect(decide({ source, action: ErrorAction.PauseTemplate })).toEqual({
          state: 'pending',
          uncount: true,
        });
      });
    });
  }

  it('counts a daily cap from when the platform says the message failed', () => {
    const failedAtMs = now + 5 * 60_000;
    const plan = decide({ source: FailureSource.Status, action: ErrorAction.RetryNextDay, failedAtMs });
    expect(plan.nextAttemptAtMs).toBe(failedAtMs + 24 * HOUR + 60_000);
  });

  it('never resends an unanswered call, but retries an unknown error a status reports', () => {
    expect(decide({ source: FailureSource.Send, action: ErrorAction.Ambiguous })).toEqual({
      state: 'ambiguous',
    });
    expect(decide({ source: FailureSource.Status, action: ErrorAction.Ambiguous })).toEqual({
      state: 'pending',
      nextAttemptAtMs: now + 2000,
    });
  });

  it('leaves a refused send for the stopping campaign, and records a failed message', () => {
    for (const action of [ErrorAction.StopTemplate, ErrorAction.StopCampaign]) {
      expect(decide({ source: FailureSource.Send, action })).toEqual({ state: 'pending', uncount: true });
      expect(decide({ source: FailureSource.Status, action })).toEqual({ state: 'failed' });
    }
  });

  it('brakes the campaign only for template and account codes', () => {
    const braking = [131048, 131031, 368, 131042, 132001, 132015, 132016].map(actionForCode);
    expect(braking.every(brakesCampaign)).toBe(true);
    const perRecipient = [130429, 131056, 131049, 131050, 131026, 131000, 100].map(actionForCode);
    expect(perRecipient.some(brakesCampaign)).toBe(false);
  });
});
