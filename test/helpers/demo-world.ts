import { demoWabas, type EmulatorConfig } from '../../src/emulator';

/** A sending number to add to the demo WABA: the demo number's settings under another identity. */
export interface ExtraNumber {
  id: string;
  metaPhoneNumberId: string;
  displayPhoneNumber: string;
}

/**
 * The extra number `n` (1…99): ids and display number distinct from the demo number's and from each
 * other's, so a test can send on a number of its own, with its own rate and tier window.
 */
export function extraNumber(n: number): ExtraNumber {
  const digits = String(n).padStart(2, '0');
  return {
    id: `phone-number-id-${digits.padStart(32, 'e')}`,
    metaPhoneNumberId: `1065403522430${digits}`,
    displayPhoneNumber: `+1 555-010-01${digits}`,
  };
}

/** The demo world's WABAs with `extra` numbers added to the first one, next to the demo number. */
export function demoWabasWith(extra: readonly ExtraNumber[]): NonNullable<EmulatorConfig['wabas']> {
  const [waba, ...rest] = demoWabas() as { phoneNumbers: Record<string, unknown>[] }[];
  if (!waba) throw new Error('the demo world has no WABA');
  const [first] = waba.phoneNumbers;
  const added = extra.map((number) => ({ ...first, ...number }));
  return [{ ...waba, phoneNumbers: [...waba.phoneNumbers, ...added] }, ...rest] as NonNullable<
    EmulatorConfig['wabas']
  >;
}
