import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { METADATA_ENCODING_KEY, type Payload, type PayloadCodec } from '@temporalio/common';
import type { CodecKeyring } from './codec-keys';

export const ENCRYPTED_ENCODING = 'binary/encrypted';
export const KEY_ID_METADATA = 'encryption-key-id';
const CIPHER = 'aes-256-gcm';
const IV_BYTES = 12;
const TAG_BYTES = 16;

/** An encrypted payload this process cannot open: unknown key, or the bytes were changed. */
export class PayloadDecryptionError extends Error {
  override name = 'PayloadDecryptionError';
}

/**
 * Encrypts every payload with AES-256-GCM before it leaves the process, so workflow inputs, update
 * arguments, results and (with the failure converter's encodeCommonAttributes) failure messages reach
 * the Temporal server only as ciphertext. A fresh random IV per payload; the key id travels in clear
 * metadata so any key of the ring can open it, and is bound in as associated data so swapping the id
 * is detected. Payloads that are not encrypted pass through decode unchanged: histories written before
 * the codec was switched on stay readable.
 */
export class AesGcmPayloadCodec implements PayloadCodec {
  constructor(private readonly keyring: CodecKeyring) {}

  // A payload that cannot be opened rejects the promise rather than throwing on the call.
  encode(payloads: Payload[]): Promise<Payload[]> {
    return new Promise((resolve) => resolve(payloads.map((p) => this.encrypt(p))));
  }

  decode(payloads: Payload[]): Promise<Payload[]> {
    return new Promise((resolve) => resolve(payloads.map((p) => this.decrypt(p))));
  }

  private encrypt(payload: Payload): Payload {
    const { id, key } = this.keyring.active;
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv(CIPHER, key, iv);
    cipher.setAAD(Buffer.from(id, 'utf8'));
    const body = Buffer.concat([cipher.update(serialize(payload)), cipher.final()]);
    return {
      metadata: {
        [METADATA_ENCODING_KEY]: Buffer.from(ENCRYPTED_ENCODING),
        [KEY_ID_METADATA]: Buffer.from(id),
      },
      data: Buffer.concat([iv, body, cipher.getAuthTag()]),
    };
  }

  private decrypt(payload: Payload): Payload {
    const encoding = payload.metadata?.[METADATA_ENCODING_KEY];
    if (!encoding || Buffer.from(encoding).toString() !== ENCRYPTED_ENCODING) return payload;
    const idBytes = payload.metadata?.[KEY_ID_METADATA];
    const id = idBytes ? Buffer.from(idBytes).toString() : '';
    const entry = this.keyring.byId.get(id);
    if (!entry) {
      throw new PayloadDecryptionError(
        `payload is encrypted with key "${id}", which is not in WA_CODEC_KEYS of this process`,
      );
    }
    const data = Buffer.from(payload.data ?? new Uint8Array());
    if (data.length < IV_BYTES + TAG_BYTES)
      throw new PayloadDecryptionError('encrypted payload is truncated');
    const decipher = createDecipheriv(CIPHER, entry.key, data.subarray(0, IV_BYTES));
    decipher.setAAD(Buffer.from(id, 'utf8'));
    decipher.setAuthTag(data.subarray(data.length - TAG_BYTES));
    try {
      const plain = Buffer.concat([
        decipher.update(data.subarray(IV_BYTES, data.length - TAG_BYTES)),
        decipher.final(),
      ]);
      return deserialize(plain);
    } catch {
      throw new PayloadDecryptionError(
        `payload encrypted with key "${id}" failed authentication (altered or wrong key)`,
      );
    }
  }
}

// The inner payload is written as a small JSON document of base64 fields rather than its protobuf form:
// it keeps the codec free of a direct dependency on the generated proto package, and the payloads that
// carry secrets are small.
interface SerializedPayload {
  m: Record<string, string>;
  d: string;
}

function serialize(p: Payload): Buffer {
  const m: Record<string, string> = {};
  for (const [k, v] of Object.entries(p.metadata ?? {})) if (v) m[k] = Buffer.from(v).toString('base64');
  const doc: SerializedPayload = { m, d: Buffer.from(p.data ?? new Uint8Array()).toString('base64') };
  return Buffer.from(JSON.stringify(doc), 'utf8');
}

function deserialize(bytes: Buffer): Payload {
  const doc = JSON.parse(bytes.toString('utf8')) as SerializedPayload;
  const metadata: Record<string, Uint8Array> = {};
  for (const [k, v] of Object.entries(doc.m)) metadata[k] = Buffer.from(v, 'base64');
  return { metadata, data: Buffer.from(doc.d, 'base64') };
}
