import { AssociateWhatsAppBusinessAccountCommand } from '@aws-sdk/client-socialmessaging';
import { FinalizeOutcome } from '../../shared/workflow-contracts';
import type { ActivityDeps } from '../deps';
import { isTransient, metaCodeOf, rethrowAws } from './aws-failures';

export interface FinalizeNumber {
  phoneNumberId: string;
  /** Secret: encrypted in transit through Temporal, never logged or stored. */
  pin: string;
  dataLocalizationRegion?: string;
}

export interface FinalizeSetupInput {
  onboardingId: string;
  associateInProgressToken: string;
  wabaId: string;
  numbers: FinalizeNumber[];
  eventDestination?: { eventDestinationArn: string; roleArn?: string };
}

export interface FinalizeSetupResult {
  outcome: FinalizeOutcome;
  code?: number;
  /** The numbers the refusal names; all of them when it names none. */
  phoneNumberIds?: string[];
  /** The platform's words, with any PIN removed. */
  message?: string;
}

const OUTCOME_BY_CODE = new Map<number, FinalizeOutcome>([
  [133005, FinalizeOutcome.PinMismatch],
  [133006, FinalizeOutcome.NeedsVerification],
  [133015, FinalizeOutcome.RecentlyDeleted],
  [133016, FinalizeOutcome.Blocked],
  [133008, FinalizeOutcome.TooManyGuesses],
  [133009, FinalizeOutcome.TooManyGuesses],
]);

/**
 * Phase two of AssociateWhatsAppBusinessAccount: registers the numbers with their two-step PINs (and
 * data-localization regions) and gives the WABA its event destination. Registration refusals the
 * workflow knows how to handle come back as outcomes, so it can ask the operator or wait instead of
 * repeating a call Meta counts against the number.
 */
export async function finalizeSetup(
  deps: ActivityDeps,
  input: FinalizeSetupInput,
): Promise<FinalizeSetupResult> {
  const scrub = (text: string) => input.numbers.reduce((t, n) => t.split(n.pin).join('[pin]'), text);
  try {
    await deps.socialMessaging.send(
      new AssociateWhatsAppBusinessAccountCommand({
        setupFinalization: {
          associateInProgressToken: input.associateInProgressToken,
          phoneNumbers: input.numbers.map((n) => ({
            id: n.phoneNumberId,
            twoFactorPin: n.pin,
            ...(n.dataLocalizationRegion ? { dataLocalizationRegion: n.dataLocalizationRegion } : {}),
          })),
          waba: {
            id: input.wabaId,
            ...(input.eventDestination ? { eventDestinations: [input.eventDestination] } : {}),
          },
        },
      }),
    );
  } catch (err) {
    const message = scrub(err instanceof Error ? err.message : String(err));
    const code = metaCodeOf(err);
    const outcome = code !== undefined ? OUTCOME_BY_CODE.get(code) : undefined;
    if (outcome) {
      const named = input.numbers
        .filter((n) => message.includes(n.phoneNumberId))
        .map((n) => n.phoneNumberId);
      deps.logger.warn({ onboardingId: input.onboardingId, code, numbers: named }, 'registration refused');
      return {
        outcome,
        code,
        phoneNumberIds: named.length > 0 ? named : input.numbers.map((n) => n.phoneNumberId),
        message,
      };
    }
    if (!isTransient(err) && /expired/i.test(message))
      return { outcome: FinalizeOutcome.SignupExpired, message };
    if (err instanceof Error) err.message = message;
    rethrowAws(err, 'setup finalization refused');
  }
  deps.logger.info({ onboardingId: input.onboardingId, numbers: input.numbers.length }, 'numbers registered');
  return { outcome: FinalizeOutcome.Done };
}
