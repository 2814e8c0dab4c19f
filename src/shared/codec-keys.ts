/**
 * The keys the payload codec may use. Operators list them oldest first, newest last; the newest one
 * encrypts and every listed one decrypts, so a key is rotated by appending a new one and dropping the
 * old one only once no workflow history that needs it is still retained.
 */
export interface CodecKey {
  id: string;
  /** 32 bytes: AES-256. */
  key: Buffer;
}

export interface CodecKeyring {
  /** The key new payloads are encrypted with. */
  active: CodecKey;
  /** Every key that may decrypt, by id. */
  byId: ReadonlyMap<string, CodecKey>;
}

/** A key list that cannot be used; the message says what to fix and never contains key material. */
export class CodecKeyError extends Error {
  override name = 'CodecKeyError';
}

const KEY_ID = /^[A-Za-z0-9._-]{1,64}$/;

/**
 * Parses `kid1:<base64 key>,kid2:<base64 key>` (whitespace around items ignored) into a keyring; an
 * empty or absent list gives undefined (no encryption).
 */
export function parseCodecKeys(spec: string | undefined): CodecKeyring | undefined {
  const items = (spec ?? '')
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean);
  if (items.length === 0) return undefined;
  const byId = new Map<string, CodecKey>();
  let active: CodecKey | undefined;
  items.forEach((item, index) => {
    const colon = item.indexOf(':');
    const id = colon > 0 ? item.slice(0, colon) : '';
    if (!KEY_ID.test(id)) {
      throw new CodecKeyError(
        `key ${index + 1}: expected <key id>:<base64 key> with an id of letters, digits, . _ -`,
      );
    }
    const key = Buffer.from(item.slice(colon + 1), 'base64');
    if (key.length !== 32) {
      throw new CodecKeyError(
        `key "${id}": must be 32 bytes of base64 (openssl rand -base64 32), got ${key.length}`,
      );
    }
    if (byId.has(id)) throw new CodecKeyError(`key "${id}" is listed twice`);
    active = { id, key };
    byId.set(id, active);
  });
  return { active: active as CodecKey, byId };
}

/** Builds a keyring from keys already in memory (tests, scripts); the last one encrypts. */
export function keyringOf(keys: readonly CodecKey[]): CodecKeyring {
  const last = keys[keys.length - 1];
  if (!last) throw new CodecKeyError('a keyring needs at least one key');
  return { active: last, byId: new Map(keys.map((k) => [k.id, k])) };
}
