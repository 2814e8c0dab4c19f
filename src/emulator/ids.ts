import type { Rng } from './random';

/** The AWS-side identity of the emulated account. */
export interface AccountRef {
  accountId: string;
  region: string;
}

const PHONE_PREFIX = 'phone-number-id-';
const WABA_PREFIX = 'waba-';

/** `phone-number-id-<hex>` from 32 hex digits. */
export const phoneNumberIdFromHex = (hex: string): string => `${PHONE_PREFIX}${hex}`;
/** `waba-<hex>` from 32 hex digits. */
export const wabaIdFromHex = (hex: string): string => `${WABA_PREFIX}${hex}`;

/** ARN of a phone number: its suffix `phone-number-id/<hex>` matches the AWS id `phone-number-id-<hex>`. */
export function phoneNumberArn(account: AccountRef, id: string): string {
  return `arn:aws:social-messaging:${account.region}:${account.accountId}:phone-number-id/${id.slice(PHONE_PREFIX.length)}`;
}

/** ARN of a linked WABA. */
export function wabaArn(account: AccountRef, id: string): string {
  return `arn:aws:social-messaging:${account.region}:${account.accountId}:waba/${id.slice(WABA_PREFIX.length)}`;
}

/** Accepts an AWS phone number id or its ARN and returns the id. */
export function normalizePhoneNumberId(idOrArn: string): string {
  const m = /:phone-number-id\/([0-9a-zA-Z]+)$/.exec(idOrArn);
  return m ? `${PHONE_PREFIX}${m[1]}` : idOrArn;
}

/** Accepts an AWS WABA id or its ARN and returns the id. */
export function normalizeWabaId(idOrArn: string): string {
  const m = /:waba\/([0-9a-zA-Z]+)$/.exec(idOrArn);
  return m ? `${WABA_PREFIX}${m[1]}` : idOrArn;
}

/** WhatsApp user id (wa_id): the recipient's digits without `+` or separators. */
export function toWaId(phone: string): string {
  return phone.replace(/\D/g, '');
}

/**
 * Meta message ids look like `wamid.` + base64 of an opaque record; ours encode the recipient and a
 * per-run counter plus seeded noise, so they are unique and reproducible under a seed.
 */
export function newWamid(rng: Rng, waId: string, seq: number): string {
  const raw = `${waId}:${seq.toString(36)}:${rng.hex(20).toUpperCase()}`;
  return `wamid.${Buffer.from(raw).toString('base64url')}`;
}
