import { describe, expect, it } from 'vitest';
import { DEFAULT_RULES, EmulatorConfigError, mergeRules, resolveConfig } from '../../src/emulator/config';

describe('emulator rule layers', () => {
  it('merge lowest first: nested members one by one, leaves and ranges replaced', () => {
    const rules = mergeRules(
      { throughputMps: 20, delivery: { sentDelayMs: [1, 2] } },
      { delivery: { readRate: 0.1 }, messagingLimit: { tier: 'TIER_250' } },
      undefined,
      { throughputMps: 40 },
    );
    expect(rules.throughputMps).toBe(40);
    expect(rules.delivery).toEqual({ ...DEFAULT_RULES.delivery, sentDelayMs: [1, 2], readRate: 0.1 });
    expect(rules.messagingLimit).toEqual({
      tier: 'TIER_250',
      windowMs: DEFAULT_RULES.messagingLimit.windowMs,
    });
    expect(rules.pairRate).toEqual(DEFAULT_RULES.pairRate);
    // The defaults themselves are never changed by a merge.
    expect(DEFAULT_RULES.throughputMps).toBe(80);
    expect(DEFAULT_RULES.delivery.readRate).toBe(0.6);
  });

  it('are checked by the one schema at every layer, with the path of the bad leaf', () => {
    expect(() => resolveConfig({ rules: { pairRate: { burst: 0 } } })).toThrow(EmulatorConfigError);
    expect(() => resolveConfig({ rules: { pairRate: { burst: 0 } } })).toThrow(/rules\.pairRate\.burst/);
    expect(() => resolveConfig({ rules: { delivery: { speed: 1 } } })).toThrow(/rules\.delivery/);
    expect(() =>
      resolveConfig({ wabas: [{ rules: { messagingLimit: { tier: 'TIER_3' } }, phoneNumbers: [] }] }),
    ).toThrow(/wabas\[0\]\.rules\.messagingLimit\.tier/);
    expect(resolveConfig({ rules: { marketingCap: { maxPerUser: 3 } } }).rules).toMatchObject({
      marketingCap: { maxPerUser: 3 },
    });
  });
});
