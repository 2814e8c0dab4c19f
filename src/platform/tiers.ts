/**
 * WhatsApp messaging tiers: how many unique users a number (or a business portfolio) may start
 * conversations with in a rolling 24 hours. One pure module, used by the engine, the ingest and the
 * emulator alike.
 */

/** Meta's tier names, lowest first. */
export const TIERS = [
  'TIER_50',
  'TIER_250',
  'TIER_1K',
  'TIER_2K',
  'TIER_10K',
  'TIER_100K',
  'TIER_UNLIMITED',
] as const;

export type Tier = (typeof TIERS)[number];

/** Users a tier allows; `null` for TIER_UNLIMITED. */
export function tierUserLimit(tier: Tier): number | null {
  return tierLimitOf(tier) ?? null;
}

/** Where a tier stands among the others: higher is more users. */
export function tierRank(tier: Tier): number {
  return TIERS.indexOf(tier);
}

/**
 * A tier name as it arrives in events (`current_limit`) or settings, as a user limit: TIER_250 → 250,
 * TIER_1K → 1000, TIER_UNLIMITED → null; undefined when it is not a tier. Case does not matter, and a
 * tier Meta adds later in the same form (TIER_5K) is read too.
 */
export function tierLimitOf(tier: string | undefined): number | null | undefined {
  const upper = tier?.toUpperCase();
  if (!upper) return undefined;
  if (upper === 'TIER_UNLIMITED' || upper === 'UNLIMITED') return null;
  const m = /^TIER_(\d+)(K?)$/.exec(upper);
  return m ? Number(m[1]) * (m[2] ? 1000 : 1) : undefined;
}
