import { GetLinkedWhatsAppBusinessAccountPhoneNumberCommand } from '@aws-sdk/client-socialmessaging';
import { DEFAULT_NUMBER_SETTINGS, ensureNumber, updateNumber } from '../../db/numbers';
import { tierLimitOf } from '../../platform/tiers';
import type { OnboardingEventSeen } from '../../workflows/definitions';
import type { ActivityDeps } from '../deps';
import { rethrowAws } from './aws-failures';

export interface StoreNumberLimitsInput {
  wabaId: string;
  numbers: { phoneNumberId: string; displayPhoneNumber: string }[];
  /** The first event seen, which may carry the tier (phone_number_quality_update `current_limit`). */
  seen?: OnboardingEventSeen;
}

export interface NumberLimits {
  phoneNumberId: string;
  mps: number;
  /** null = unlimited. */
  tierLimit: number | null;
  qualityRating?: string;
}

/**
 * Stores what the campaign engine paces and budgets a new number by: its WABA, display number, quality
 * (from the platform), tier (from the first event when it names one, else what is already stored: the
 * ingest service may have written it, else Meta's starting tier) and throughput (80/s unless a higher
 * rate is already known). Repeating it changes nothing.
 */
export async function storeNumberLimits(
  deps: ActivityDeps,
  input: StoreNumberLimitsInput,
): Promise<NumberLimits[]> {
  const out: NumberLimits[] = [];
  for (const n of input.numbers) {
    let quality: string | undefined;
    try {
      const detail = await deps.socialMessaging.send(
        new GetLinkedWhatsAppBusinessAccountPhoneNumberCommand({ id: n.phoneNumberId }),
      );
      quality = detail.phoneNumber?.qualityRating;
    } catch (err) {
      rethrowAws(err, `reading number ${n.phoneNumberId}`);
    }
    const current = await ensureNumber(deps.db, n.phoneNumberId);
    const fromEvent =
      input.seen?.phoneNumberId === undefined || input.seen.phoneNumberId === n.phoneNumberId
        ? tierLimitOf(input.seen?.currentLimit)
        : undefined;
    const row = await updateNumber(deps.db, n.phoneNumberId, {
      wabaId: input.wabaId,
      displayPhoneNumber: n.displayPhoneNumber,
      status: 'CONNECTED',
      mps: Math.max(current.mps, DEFAULT_NUMBER_SETTINGS.mps),
      ...(fromEvent !== undefined ? { tierLimit: fromEvent } : {}),
      ...(quality ? { qualityRating: quality } : {}),
    });
    out.push({
      phoneNumberId: n.phoneNumberId,
      mps: row.mps,
      tierLimit: row.tierLimit,
      ...(row.qualityRating ? { qualityRating: row.qualityRating } : {}),
    });
  }
  deps.logger.info({ wabaId: input.wabaId, numbers: out }, 'number limits stored');
  return out;
}
