/**
 * The identifiers AWS End User Messaging Social gives a linked WhatsApp Business Account and its phone
 * numbers, and how they relate to their ARNs and to Meta's own numeric ids. One pure module, used by the
 * engine, the ingest and the emulator alike.
 *
 * The patterns are those of the service model (API version 2024-01-01): `LinkedWhatsAppBusinessAccountId`
 * is `waba-…` or an ARN ending in `:waba/<alnum>`, `WhatsAppPhoneNumberId` is `phone-number-id-…` or an
 * ARN ending in `:phone-number-id/<alnum>`. Meta's ids (`WhatsAppBusinessAccountId`, a phone number's
 * `metaPhoneNumberId`) are plain digits and match neither.
 */

const WABA_PREFIX = 'waba-';
const PHONE_PREFIX = 'phone-number-id-';
const WABA_ARN_SUFFIX = /^arn:.*:waba\/([0-9a-zA-Z]+)$/;
const PHONE_ARN_SUFFIX = /^arn:.*:phone-number-id\/([0-9a-zA-Z]+)$/;

/** True for what AWS accepts as a linked WABA's id: `waba-…` or its ARN. */
export function isLinkedWabaRef(value: string): boolean {
  return value.startsWith(WABA_PREFIX) || WABA_ARN_SUFFIX.test(value);
}

/** True for what AWS accepts as a phone number's id: `phone-number-id-…` or its ARN. */
export function isPhoneNumberRef(value: string): boolean {
  return value.startsWith(PHONE_PREFIX) || PHONE_ARN_SUFFIX.test(value);
}

/** `waba-<hex>` for a WABA id or ARN; undefined for anything else (a Meta id, say). */
export function linkedWabaId(idOrArn: string | undefined): string | undefined {
  if (idOrArn === undefined) return undefined;
  if (idOrArn.startsWith(WABA_PREFIX)) return idOrArn;
  const m = WABA_ARN_SUFFIX.exec(idOrArn);
  return m ? `${WABA_PREFIX}${m[1]}` : undefined;
}

/** `phone-number-id-<hex>` for a phone number id or ARN; undefined for anything else. */
export function phoneNumberId(idOrArn: string | undefined): string | undefined {
  if (idOrArn === undefined) return undefined;
  if (idOrArn.startsWith(PHONE_PREFIX)) return idOrArn;
  const m = PHONE_ARN_SUFFIX.exec(idOrArn);
  return m ? `${PHONE_PREFIX}${m[1]}` : undefined;
}

/** The resource part of a WABA's ARN, `waba/<hex>`, for its id `waba-<hex>`. */
export function wabaArnResource(id: string): string {
  return `waba/${id.slice(WABA_PREFIX.length)}`;
}

/** The resource part of a phone number's ARN, `phone-number-id/<hex>`, for its id. */
export function phoneNumberArnResource(id: string): string {
  return `phone-number-id/${id.slice(PHONE_PREFIX.length)}`;
}

/** `waba-<hex>` from the hex digits AWS mints. */
export const wabaIdFromHex = (hex: string): string => `${WABA_PREFIX}${hex}`;

/** `phone-number-id-<hex>` from the hex digits AWS mints. */
export const phoneNumberIdFromHex = (hex: string): string => `${PHONE_PREFIX}${hex}`;

/** The two ids of one account in a signup callback's `linkedAccountsWithIncompleteSetup`. */
export interface SignupAccountIds {
  /** What the AWS API takes: `waba-…` or the WABA's ARN. */
  awsRef: string;
  /** Meta's numeric WABA id, when the entry carries one. */
  metaWabaId?: string;
}

/**
 * Tells the two ids of a signup entry apart by their patterns, not by where they stand. The model keys
 * the map by Meta's `WhatsAppBusinessAccountId` and gives the AWS id as each value's `wabaId`; reading by
 * pattern works whichever way round an answer comes. Undefined when neither is an AWS reference.
 */
export function signupAccountIds(key: string, wabaId: string | undefined): SignupAccountIds | undefined {
  if (wabaId !== undefined && isLinkedWabaRef(wabaId)) {
    return isLinkedWabaRef(key) ? { awsRef: wabaId } : { awsRef: wabaId, metaWabaId: key };
  }
  if (isLinkedWabaRef(key))
    return wabaId === undefined ? { awsRef: key } : { awsRef: key, metaWabaId: wabaId };
  return undefined;
}
