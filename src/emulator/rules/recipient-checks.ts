import type { Rng } from '../random';
import type { PhoneNumberState, TemplateState, World } from '../world/state';
import type { RuleFailure } from './template-checks';

/**
 * What Meta finds out only while delivering, about the user rather than the request: an undeliverable
 * number (131026), a user who stopped this business's marketing (131050), and the per-user marketing
 * cap (131049: US numbers get no marketing templates; elsewhere outside the EEA, UK, JP and KR a
 * seeded chance and an optional count per window).
 */
export function checkRecipient(
  world: World,
  phone: PhoneNumberState,
  user: string,
  template: TemplateState | undefined,
  now: number,
  rng: Rng,
): RuleFailure | undefined {
  const rules = phone.rules;
  if (world.undeliverable.has(user) || rng.chance(rules.undeliverableRate)) {
    return { code: 131026, details: `${user} cannot receive WhatsApp messages`, reason: 'undeliverable' };
  }
  if (template?.category !== 'MARKETING') return undefined;
  if (world.marketingStopped.has(`${phone.waba.id}|${user}`)) {
    return {
      code: 131050,
      details: `${user} stopped marketing messages from this business`,
      reason: 'marketing-stopped',
    };
  }
  const cap = rules.marketingCap;
  if (cap.blockUsMarketing && user.startsWith('1')) {
    return {
      code: 131049,
      details: 'marketing templates are not delivered to +1 (US) numbers',
      reason: 'marketing-cap',
    };
  }
  if (cap.exemptCallingCodes.some((cc) => user.startsWith(cc))) return undefined;
  if (cap.maxPerUser !== undefined) {
    const recent = (world.marketingReceived.get(user) ?? []).filter((t) => t > now - cap.windowMs);
    if (recent.length >= cap.maxPerUser) {
      return {
        code: 131049,
        details: `${user} reached the marketing limit for now`,
        reason: 'marketing-cap',
      };
    }
  }
  if (rng.chance(cap.probability)) {
    return { code: 131049, details: `${user} reached the marketing limit for now`, reason: 'marketing-cap' };
  }
  return undefined;
}

/** Remembers a marketing message a user received (for the count-based cap). */
export function recordMarketingReceived(world: World, user: string, now: number, windowMs: number): void {
  const kept = (world.marketingReceived.get(user) ?? []).filter((t) => t > now - windowMs);
  kept.push(now);
  world.marketingReceived.set(user, kept);
}
