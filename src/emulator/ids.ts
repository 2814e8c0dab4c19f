import {
  linkedWabaId,
  phoneNumberArnResource,
  phoneNumberId,
  wabaArnResource,
} from '../platform/resource-ids';
import type { Rng } from './random';

export { phoneNumberIdFromHex, wabaIdFromHex } from '../platform/resource-ids';

/** The AWS-side identity of the emulated account. */
export interface AccountRef {
  accountId: string;
  region: string;
}

/** ARN of a phone number: its suffix `phone-number-id/<hex>` matches the AWS id `phone-number-id-<hex>`. */
export function phoneNumberArn(account: AccountRef, id: string): string {
  return `arn:aws:social-messaging:${account.region}:${account.accountId}:${phoneNumberArnResource(id)}`;
}

/** ARN of a linked WABA. */
export function wabaArn(account: AccountRef, id: string): string {
  return `arn:aws:social-messaging:${account.region}:${account.accountId}:${wabaArnResource(id)}`;
}

/** Accepts an AWS phone number id or its ARN and returns the id (anything else unchanged, to be not found). */
export function normalizePhoneNumberId(idOrArn: string): string {
  return phoneNumberId(idOrArn) ?? idOrArn;
}

/** Accepts an AWS WABA id or its ARN and returns the id (anything else unchanged, to be not found). */
export function normalizeWabaId(idOrArn: string): string {
  return linkedWabaId(idOrArn) ?? idOrArn;
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
