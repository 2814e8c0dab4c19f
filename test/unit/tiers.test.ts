import { describe, expect, it } from 'vitest';
import { TIER_LIMITS } from '../../src/emulator/config';
import { TIERS, tierLimitOf, tierRank, tierUserLimit } from '../../src/platform/tiers';

describe('messaging tiers', () => {
  it('rank lowest first, and give each its user limit', () => {
    expect(TIERS.map(tierUserLimit)).toEqual([50, 250, 1000, 2000, 10_000, 100_000, null]);
    expect(tierRank('TIER_1K')).toBeGreaterThan(tierRank('TIER_250'));
    expect(tierRank('TIER_UNLIMITED')).toBe(TIERS.length - 1);
  });

  it('read names as events spell them, including tiers Meta may add in the same form', () => {
    expect(tierLimitOf('tier_2k')).toBe(2000);
    expect(tierLimitOf('TIER_5K')).toBe(5000);
    expect(tierLimitOf('UNLIMITED')).toBeNull();
    expect(tierLimitOf('TIER_X')).toBeUndefined();
  });

  it('are the ones the emulator enforces', () => {
    expect(Object.keys(TIER_LIMITS)).toEqual([...TIERS]);
    expect(TIER_LIMITS.TIER_UNLIMITED).toBe(Number.POSITIVE_INFINITY);
    expect(TIER_LIMITS.TIER_1K).toBe(1000);
  });
});
