/**
 * The pacer on its own: slots, grace, the adaptive rate and capacity, and cancellation, inside
 * MockActivityEnvironment so it sees an activity's cancellation signal. Clocks are set by hand, so
 * nothing here depends on how fast the machine is.
 */
import { describe, expect, it } from 'vitest';
import { Context } from '@temporalio/activity';
import { MockActivityEnvironment } from '@temporalio/testing';
import { Pacer } from '../../src/activities/send-pacer';
import type { SendOutcome } from '../../src/activities/send-one';

const sent = (i: number): Promise<SendOutcome> => Promise.resolve({ kind: 'sent', messageId: `m${i}` });
const never = () => false;
const ignore = () => undefined;

/** Runs `fn` as an activity would run, with a pacer that sees the activity's cancellation. */
function inActivity<T>(
  fn: (make: (mps: number, clock: () => number) => Pacer, env: MockActivityEnvironment) => Promise<T>,
): Promise<T> {
  const env = new MockActivityEnvironment();
  return env.run((): Promise<T> =>
    fn(
      (mps, clock) => new Pacer({ paceSafety: 1, clock, signal: Context.current().cancellationSignal }, mps),
      env,
    ),
  );
}

describe('Pacer', () => {
  it('never sends before a slot, and gives each send its slot plus the grace as its limit', async () => {
    await inActivity(async (make) => {
      const pacer = make(80, Date.now);
      const start = Date.now();
      const sendAtMs = [start + 5, start + 15, start + 25];
      const calledAt: number[] = [];
      const limits: number[] = [];
      const { outcomes } = await pacer.dispatch(
        { sendAtMs, graceMs: 1_000 },
        (i, notAfterMs) => {
          calledAt[i] = Date.now();
          limits[i] = notAfterMs;
          return sent(i);
        },
        never,
        ignore,
      );
      expect(outcomes.map((o) => o.kind)).toEqual(['sent', 'sent', 'sent']);
      sendAtMs.forEach((slot, i) => expect(calledAt[i]).toBeGreaterThanOrEqual(slot));
      expect(limits).toEqual(sendAtMs.map((s) => s + 1_000));
    });
  });

  it('sends back a message later than its grace instead of crowding the next slots', async () => {
    await inActivity(async (make) => {
      const t = 10_000;
      const pacer = make(80, () => t);
      const calls: number[] = [];
      const { outcomes } = await pacer.dispatch(
        { sendAtMs: [t - 5, t - 50, t], graceMs: 10 },
        (i) => {
          calls.push(i);
          return sent(i);
        },
        never,
        ignore,
      );
      expect(outcomes.map((o) => o.kind)).toEqual(['sent', 'not-sent', 'sent']);
      expect(calls).toEqual([0, 2]);
    });
  });

  it('grows the grace to the lateness most messages see, and lowers the rate to match', async () => {
    await inActivity(async (make) => {
      const t = 10_000;
      const pacer = make(80, () => t);
      const before = { grace: pacer.graceMs, interval: pacer.intervalMs };
      const chunk = { sendAtMs: Array.from({ length: 10 }, () => t - 40), graceMs: pacer.graceMs };
      const first = await pacer.dispatch(chunk, sent, never, ignore);
      // A starved process: every message 40 ms late, all sent back.
      expect(first.outcomes.every((o) => o.kind === 'not-sent')).toBe(true);

      pacer.retune(80);
      expect(pacer.graceMs).toBeGreaterThan(40);
      expect(pacer.graceMs).toBeGreaterThan(before.grace);
      expect(pacer.intervalMs).toBeGreaterThan(before.interval);
      // The same lateness now goes out, at the lower rate.
      const second = await pacer.dispatch({ ...chunk, graceMs: pacer.graceMs }, sent, never, ignore);
      expect(second.outcomes.every((o) => o.kind === 'sent')).toBe(true);
    });
  });

  it('allows for the slowest recent answer, keeping rate × (1 s + grace + jitter) under the MPS', async () => {
    await inActivity(async (make) => {
      let t = 10_000;
      const pacer = make(1000, () => t);
      const intervalBefore = pacer.intervalMs;
      // Answers take 120 ms: the platform may count a message any time in that span.
      await pacer.dispatch(
        { sendAtMs: [t, t, t], graceMs: 10 },
        (i) => {
          t += 120;
          return sent(i);
        },
        never,
        ignore,
      );
      pacer.retune(1000);
      expect(pacer.jitterMs).toBeGreaterThanOrEqual(120);
      expect(pacer.intervalMs).toBeGreaterThan(intervalBefore);
      for (const mps of [1, 20, 80, 1000]) {
        pacer.retune(mps);
        const rate = 1000 / pacer.intervalMs;
        expect(rate * (1 + (pacer.graceMs + pacer.jitterMs) / 1000)).toBeLessThan(mps);
      }
    });
  });

  it('claims about what it managed after falling behind, and grows back to a full chunk', () => {
    const pacer = new Pacer({ paceSafety: 1, clock: () => 0 }, 1000);
    const full = pacer.wanted;
    expect(full).toBeGreaterThan(100);
    pacer.chunkDone(40, 60, false);
    expect(pacer.wanted).toBe(44);
    pacer.chunkDone(44, 0, false);
    expect(pacer.wanted).toBe(66);
    for (let i = 0; i < 10; i++) pacer.chunkDone(full, 0, false);
    expect(pacer.wanted).toBe(full);
    // Messages held back by a brake say nothing about what this process manages.
    pacer.chunkDone(1, 99, true);
    expect(pacer.wanted).toBe(full);
  });

  it('dispatches nothing more once the activity is cancelled or the batch braked', async () => {
    const { outcomes } = await inActivity((make, env) => {
      const t = 10_000;
      const pacer = make(80, () => t);
      return pacer.dispatch(
        { sendAtMs: [t, t, t, t], graceMs: 10 },
        (i) => {
          if (i === 1) env.cancel('CANCELLED');
          return sent(i);
        },
        never,
        ignore,
      );
    });
    // The calls made before the cancellation still come back; the rest never go out.
    expect(outcomes.map((o) => o.kind)).toEqual(['sent', 'sent', 'not-sent', 'not-sent']);
    await inActivity(async (make) => {
      const t = 10_000;
      const pacer = make(80, () => t);
      let braked = false;
      const answered: SendOutcome[] = [];
      const brakedRun = await pacer.dispatch(
        { sendAtMs: [t, t, t], graceMs: 10 },
        (i) => {
          braked = true;
          return Promise.resolve({
            kind: 'error',
            action: 'stop-campaign',
            message: `refused ${i}`,
          } as SendOutcome);
        },
        () => braked,
        (o) => answered.push(o),
      );
      expect(brakedRun.outcomes.map((o) => o.kind)).toEqual(['error', 'not-sent', 'not-sent']);
      // Every answer reaches the hook that sets the brake for the chunks still going out.
      expect(answered).toHaveLength(1);
    });
  });
});
