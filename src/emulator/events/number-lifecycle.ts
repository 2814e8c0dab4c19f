import { tierRank, type Tier } from '../../platform/tiers';
import type { EmulatorContext } from '../context';
import { phoneQualityChange } from '../meta/webhook-entries';
import type { PhoneNumberState } from '../world/state';

/** Upgraded throughput after Meta's automatic upgrade. */
export const UPGRADED_MPS = 1_000;

/** Changes a number's quality rating, flag or tier and publishes a phone_number_quality_update. */
export function changePhoneNumber(
  ctx: EmulatorContext,
  phone: PhoneNumberState,
  change: {
    quality?: 'GREEN' | 'YELLOW' | 'RED' | undefined;
    tier?: Tier | undefined;
    event?: string | undefined;
  },
): string {
  if (change.quality !== undefined) phone.quality = change.quality;
  const previousTier = phone.tier;
  if (change.tier !== undefined) phone.tier = change.tier;
  // Without an explicit event, name the one Meta would send for this change.
  let event = change.event;
  if (event === undefined) {
    if (change.tier !== undefined && change.tier !== previousTier) {
      event = tierRank(change.tier) > tierRank(previousTier) ? 'UPGRADE' : 'DOWNGRADE';
    } else event = change.quality === 'RED' ? 'FLAGGED' : 'UNFLAGGED';
  }
  if (event === 'FLAGGED') phone.flagged = true;
  if (event === 'UNFLAGGED') phone.flagged = false;
  ctx.events.publish(phone.waba, phone, phoneQualityChange(phone, event));
  return event;
}

/**
 * Starts Meta's automatic throughput upgrade: for `durationMs` every send gets 131057, then the number
 * runs at 1,000 messages/s and a THROUGHPUT_UPGRADE quality update is published.
 */
export function startThroughputUpgrade(
  ctx: EmulatorContext,
  phone: PhoneNumberState,
  durationMs: number,
): number {
  const until = ctx.clock.now() + durationMs;
  phone.upgradeUntilMs = until;
  ctx.scheduler.at(until, () => {
    if (phone.upgradeUntilMs !== until) return;
    phone.upgradeUntilMs = undefined;
    phone.rules.throughputMps = UPGRADED_MPS;
    phone.throughput.resize(UPGRADED_MPS);
    ctx.events.publish(phone.waba, phone, phoneQualityChange(phone, 'THROUGHPUT_UPGRADE'));
  });
  return until;
}
