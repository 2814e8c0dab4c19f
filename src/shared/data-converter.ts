import { existsSync } from 'node:fs';
import path from 'node:path';
import type { DataConverter } from '@temporalio/common';
import { AesGcmPayloadCodec } from './codec';
import type { CodecKeyring } from './codec-keys';

/**
 * Where the failure converter is loaded from: by path, because the worker also bundles it into the
 * workflow sandbox, where failures raised by workflow code are converted. The TypeScript source when
 * running from source (tsx), else the build.
 */
export const FAILURE_CONVERTER_PATH =
  [path.join(__dirname, 'failure-converter.ts'), path.join(__dirname, 'failure-converter.js')].find((file) =>
    existsSync(file),
  ) ?? path.join(__dirname, 'failure-converter');

/**
 * The data converter every client and worker of the product shares: payloads encrypted with the ring's
 * newest key, failure messages encoded so the codec encrypts them too. Without a keyring, Temporal's
 * defaults (plaintext).
 */
export function codecDataConverter(keyring: CodecKeyring | undefined): DataConverter | undefined {
  if (!keyring) return undefined;
  return { payloadCodecs: [new AesGcmPayloadCodec(keyring)], failureConverterPath: FAILURE_CONVERTER_PATH };
}
