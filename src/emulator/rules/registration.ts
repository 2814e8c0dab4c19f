import type { PhoneNumberState, World } from '../world/state';
import type { RuleFailure } from './template-checks';

/** Limits of the register call (Meta: at most 10 register/deregister attempts in 72 hours). */
export interface RegistrationLimits {
  maxAttempts: number;
  windowMs: number;
}

/**
 * One attempt to register a number with its two-step verification PIN. The PIN must be 6 digits (a
 * malformed PIN never reaches Meta, so it is not an attempt); a number Meta wants verified by code first
 * is refused (133006) without counting; over the attempt limit the call is refused (133016) without
 * counting; a number that already has a PIN must be given that PIN (133005).
 */
export function checkRegistrationAttempt(
  world: World,
  phone: PhoneNumberState,
  pin: string,
  now: number,
  limits: RegistrationLimits,
): RuleFailure | undefined {
  if (!/^\d{6}$/.test(pin)) {
    return {
      code: 100,
      details: `twoFactorPin of ${phone.id} must be exactly 6 digits`,
      reason: 'pin-format',
    };
  }
  if (!phone.verified) {
    return {
      code: 133006,
      details: `${phone.id} must be verified with a code (request_code / verify_code) before it is registered`,
      reason: 'not-verified',
    };
  }
  const attempts = (world.registrationAttempts.get(phone.id) ?? []).filter((t) => t > now - limits.windowMs);
  if (attempts.length >= limits.maxAttempts) {
    world.registrationAttempts.set(phone.id, attempts);
    return {
      code: 133016,
      details: `${phone.id} had ${attempts.length} registration attempts in the last ${Math.round(limits.windowMs / 3_600_000)} h`,
      reason: 'registration-rate',
    };
  }
  attempts.push(now);
  world.registrationAttempts.set(phone.id, attempts);
  const existing = phone.pin ?? phone.existingPin;
  if (existing !== undefined && existing !== pin) {
    return {
      code: 133005,
      details: `the PIN does not match the one set for ${phone.id}`,
      reason: 'pin-mismatch',
    };
  }
  return undefined;
}
