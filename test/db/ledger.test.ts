import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DatabaseHandle } from '../../src/db/client';
import { DATABASE_KINDS, openTestDatabase } from '../helpers/databases';
import { claimSlots, holdNumber } from '../../src/db/pacer';
import { extendReach, reserveReach, tierUsage } from '../../src/db/tier';

describe.each(DATABASE_KINDS)('%s', (kind) => {
  let handle: DatabaseHandle;
  beforeAll(async () => {
    handle = await openTestDatabase(kind);
  });
  afterAll(async () => {
    await handle.close();
  });

  describe('tier ledger', () => {
    const windowMs = 60_000;

    it('moves a recorded reach later, never earlier', async () => {
      const scopeKey = `number:extend-${Date.now()}`;
      const t0 = 9_000_000;
      await reserveReach(handle.db, {
        scopeKey,
        limit: 5,
        windowMs,
        nowMs: t0,
        reachAtMs: t0,
        phones: ['+20', '+21'],
      });
      await extendReach(handle.db, scopeKey, [
        { phone: '+20', atMs: t0 + 400 },
        { phone: '+21', atMs: t0 - 400 },
      ]);
      const usage = await tierUsage(handle.db, scopeKey, 5, windowMs, t0 + windowMs + 1);
      // +21 left the window at t0 + windowMs; +20, moved to t0 + 400, is still counted.
      expect(usage.used).toBe(1);
      expect(usage.resetsAt).toBe(t0 + 400 + windowMs);
    });

    it('records a reach time per user, and frees each user when its own time leaves the window', async () => {
      const scopeKey = `number:per-user-${Date.now()}`;
      const t0 = 5_000_000;
      const grant = await reserveReach(handle.db, {
        scopeKey,
        limit: 2,
        windowMs,
        nowMs: t0,
        reachAtMs: [t0 + 10, t0 + 500],
        phones: ['+10', '+11'],
      });
      expect(grant.granted).toEqual(['+10', '+11']);
      const full = await reserveReach(handle.db, {
        scopeKey,
        limit: 2,
        windowMs,
        nowMs: t0 + 100,
        reachAtMs: [t0 + 100],
        phones: ['+12'],
      });
      expect(full.denied).toEqual(['+12']);
      // The earlier of the two leaves first.
      expect(full.resetsAt).toBe(t0 + 10 + windowMs);
      const oneFree = await reserveReach(handle.db, {
        scopeKey,
        limit: 2,
        windowMs,
        nowMs: t0 + 10 + windowMs,
        reachAtMs: [t0 + windowMs + 20, t0 + windowMs + 30],
        phones: ['+12', '+13'],
      });
      expect(oneFree.granted).toEqual(['+12']);
      expect(oneFree.denied).toEqual(['+13']);
      expect(oneFree.resetsAt).toBe(t0 + 500 + windowMs);
    });

    it('grants no more new users than the tier in the rolling window, and counts known users once', async () => {
      const scopeKey = `number:tier-${Date.now()}`;
      const t0 = 1_000_000;
      const first = await reserveReach(handle.db, {
        scopeKey,
        limit: 3,
        windowMs,
        nowMs: t0,
        reachAtMs: t0,
        phones: ['+1', '+2'],
      });
      expect(first.granted).toEqual(['+1', '+2']);
      const second = await reserveReach(handle.db, {
        scopeKey,
        limit: 3,
        windowMs,
        nowMs: t0 + 1000,
        reachAtMs: t0 + 1000,
        phones: ['+1', '+3', '+4', '+5'],
      });
      // +1 is already counted, so it is free; only one new user fits.
      expect(second.granted).toEqual(['+1', '+3']);
      expect(second.denied).toEqual(['+4', '+5']);
      expect(second.used).toBe(3);
      // +2 was reached at t0 and is the oldest: budget frees when it leaves the window.
      expect(second.resetsAt).toBe(t0 + windowMs);

      const usage = await tierUsage(handle.db, scopeKey, 3, windowMs, t0 + 2000);
      expect(usage.used).toBe(3);

      const later = await reserveReach(handle.db, {
        scopeKey,
        limit: 3,
        windowMs,
        nowMs: t0 + windowMs + 1,
        reachAtMs: t0 + windowMs + 1,
        phones: ['+4', '+5'],
      });
      // +2 left the window (and +1, +3 were refreshed at t0+1000, still inside): one slot is free.
      expect(later.granted).toEqual(['+4']);
      expect(later.denied).toEqual(['+5']);
    });

    it('keeps concurrent reservations within the tier', async () => {
      const scopeKey = `number:concurrent-${Date.now()}`;
      const now = 5_000_000;
      const results = await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          reserveReach(handle.db, {
            scopeKey,
            limit: 25,
            windowMs,
            nowMs: now,
            reachAtMs: now,
            phones: Array.from({ length: 5 }, (_, j) => `+${i}-${j}`),
          }),
        ),
      );
      const granted = results.flatMap((r) => r.granted);
      expect(granted).toHaveLength(25);
      expect(new Set(granted).size).toBe(25);
    });

    it('treats a null limit as unlimited', async () => {
      const grant = await reserveReach(handle.db, {
        scopeKey: 'number:unlimited',
        limit: null,
        windowMs,
        nowMs: 0,
        reachAtMs: 0,
        phones: ['+a', '+b', '+c'],
      });
      expect(grant.denied).toEqual([]);
    });
  });

  describe('throughput pacer', () => {
    it('hands out disjoint, back-to-back runs of slots to concurrent claimers', async () => {
      const id = `pacer-${Date.now()}`;
      const claims = await Promise.all(Array.from({ length: 8 }, () => claimSlots(handle.db, id, 10, 12.5)));
      const runs = claims.map(
        (c) => [c.firstSlotMs, c.firstSlotMs + Math.ceil(c.count * c.intervalMs)] as const,
      );
      runs.sort((a, b) => a[0] - b[0]);
      for (let i = 1; i < runs.length; i++) {
        expect(runs[i]![0]).toBeGreaterThanOrEqual(runs[i - 1]![1]);
      }
    });

    it('never starts a run in the past, and holds the number when told to', async () => {
      const id = `hold-${Date.now()}`;
      const first = await claimSlots(handle.db, id, 1, 10);
      expect(first.firstSlotMs).toBeGreaterThanOrEqual(first.dbNowMs);
      await holdNumber(handle.db, id, 5_000, true);
      const after = await claimSlots(handle.db, id, 1, 10);
      expect(after.firstSlotMs - after.dbNowMs).toBeGreaterThan(4_000);
    });
  });
});
