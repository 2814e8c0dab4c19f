/** The payload codec on its own: encryption, key rotation, tamper detection, key parsing. */
import { randomBytes } from 'node:crypto';
import { defaultPayloadConverter, METADATA_ENCODING_KEY } from '@temporalio/common';
import { describe, expect, it } from 'vitest';
import {
  AesGcmPayloadCodec,
  ENCRYPTED_ENCODING,
  KEY_ID_METADATA,
  PayloadDecryptionError,
} from '../../src/shared/codec';
import { CodecKeyError, keyringOf, parseCodecKeys } from '../../src/shared/codec-keys';
import { loadConfig } from '../../src/shared/config';

const key = (id: string) => ({ id, key: randomBytes(32) });
const text = (p: { metadata?: Record<string, Uint8Array> | null }, k: string) =>
  Buffer.from(p.metadata?.[k] ?? new Uint8Array()).toString();

describe('AES-GCM payload codec', () => {
  it('encrypts with a fresh IV each time, names the key in clear metadata, and decodes back', async () => {
    const codec = new AesGcmPayloadCodec(keyringOf([key('2024-01')]));
    const plain = defaultPayloadConverter.toPayload({ pin: '482913' });
    const [a, b] = await codec.encode([plain, plain]);
    expect(text(a!, METADATA_ENCODING_KEY)).toBe(ENCRYPTED_ENCODING);
    expect(text(a!, KEY_ID_METADATA)).toBe('2024-01');
    expect(Buffer.from(a!.data!).toString('latin1')).not.toContain('482913');
    expect(Buffer.from(a!.data!).equals(Buffer.from(b!.data!))).toBe(false);
    const [decoded] = await codec.decode([a!]);
    expect(defaultPayloadConverter.fromPayload(decoded!)).toEqual({ pin: '482913' });
  });

  it('rotates keys: the newest encrypts, older ones still decrypt, a dropped key cannot', async () => {
    const old = key('old');
    const fresh = key('new');
    const before = await new AesGcmPayloadCodec(keyringOf([old])).encode([
      defaultPayloadConverter.toPayload('x'),
    ]);
    const rotated = new AesGcmPayloadCodec(keyringOf([old, fresh]));
    const [after] = await rotated.encode([defaultPayloadConverter.toPayload('y')]);
    expect(text(after!, KEY_ID_METADATA)).toBe('new');
    const [x, y] = await rotated.decode([before[0]!, after!]);
    expect([defaultPayloadConverter.fromPayload(x!), defaultPayloadConverter.fromPayload(y!)]).toEqual([
      'x',
      'y',
    ]);
    await expect(new AesGcmPayloadCodec(keyringOf([fresh])).decode(before)).rejects.toThrow(
      /encrypted with key "old", which is not in WA_CODEC_KEYS/,
    );
  });

  it('detects altered ciphertext and a swapped key id', async () => {
    const a = key('a');
    // Same key bytes under another id: the id is authenticated data, so relabelling is caught.
    const b = { id: 'b', key: a.key };
    const codec = new AesGcmPayloadCodec(keyringOf([a, b]));
    const [p] = await codec.encode([defaultPayloadConverter.toPayload('secret')]);
    expect(text(p!, KEY_ID_METADATA)).toBe('b');
    const flipped = Buffer.from(p!.data!);
    flipped[20] = flipped[20]! ^ 1;
    await expect(codec.decode([{ ...p!, data: flipped }])).rejects.toThrow(PayloadDecryptionError);
    const relabelled = { ...p!, metadata: { ...p!.metadata, [KEY_ID_METADATA]: Buffer.from('a') } };
    await expect(codec.decode([relabelled])).rejects.toThrow(/failed authentication/);
  });

  it('passes unencrypted payloads through decode (histories from before the codec)', async () => {
    const codec = new AesGcmPayloadCodec(keyringOf([key('k')]));
    const plain = defaultPayloadConverter.toPayload({ a: 1 });
    expect(await codec.decode([plain])).toEqual([plain]);
  });
});

describe('WA_CODEC_KEYS', () => {
  const b64 = () => randomBytes(32).toString('base64');

  it('parses kid:key pairs, oldest first; the last one encrypts', () => {
    const ring = parseCodecKeys(` k1:${b64()} , k2:${b64()}`)!;
    expect(ring.active.id).toBe('k2');
    expect([...ring.byId.keys()]).toEqual(['k1', 'k2']);
    expect(parseCodecKeys('')).toBeUndefined();
  });

  it('refuses bad lists with a reason and without echoing key material', () => {
    const short = randomBytes(16).toString('base64');
    expect(() => parseCodecKeys(`k1:${short}`)).toThrow(
      new CodecKeyError('key "k1": must be 32 bytes of base64 (openssl rand -base64 32), got 16'),
    );
    expect(() => parseCodecKeys(b64())).toThrow(/expected <key id>:<base64 key>/);
    const k = b64();
    expect(() => parseCodecKeys(`a:${k},a:${k}`)).toThrow(/listed twice/);
    expect(() => loadConfig({ WA_CODEC_KEYS: `k1:${short}` })).toThrow(
      /WA_CODEC_KEYS: key "k1": must be 32 bytes/,
    );
    expect(loadConfig({ WA_CODEC_KEYS: `k1:${k}` }).WA_CODEC_KEYS?.active.id).toBe('k1');
  });
});
