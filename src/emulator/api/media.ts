import { stat } from 'node:fs/promises';
import { extname, isAbsolute, join, resolve } from 'node:path';
import { z } from 'zod';
import type { EmulatorContext } from '../context';
import { AwsError, metaAwsError } from '../http/aws-errors';
import { jsonBody, parseInput, queryInput } from '../http/aws-input';
import type { EmulatorRequest, HandlerResult } from '../http/router';
import { normalizePhoneNumberId } from '../ids';
import type { PhoneNumberState } from '../world/state';

const MB = 1024 * 1024;

// WhatsApp's accepted media types and their size limits.
const MEDIA_TYPES: Record<string, { mime: string; maxBytes: number }> = {
  '.aac': { mime: 'audio/aac', maxBytes: 16 * MB },
  '.amr': { mime: 'audio/amr', maxBytes: 16 * MB },
  '.mp3': { mime: 'audio/mpeg', maxBytes: 16 * MB },
  '.m4a': { mime: 'audio/mp4', maxBytes: 16 * MB },
  '.ogg': { mime: 'audio/ogg', maxBytes: 16 * MB },
  '.txt': { mime: 'text/plain', maxBytes: 100 * MB },
  '.pdf': { mime: 'application/pdf', maxBytes: 100 * MB },
  '.doc': { mime: 'application/msword', maxBytes: 100 * MB },
  '.docx': {
    mime: 'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
    maxBytes: 100 * MB,
  },
  '.xls': { mime: 'application/vnd.ms-excel', maxBytes: 100 * MB },
  '.xlsx': { mime: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet', maxBytes: 100 * MB },
  '.ppt': { mime: 'application/vnd.ms-powerpoint', maxBytes: 100 * MB },
  '.pptx': {
    mime: 'application/vnd.openxmlformats-officedocument.presentationml.presentation',
    maxBytes: 100 * MB,
  },
  '.jpg': { mime: 'image/jpeg', maxBytes: 5 * MB },
  '.jpeg': { mime: 'image/jpeg', maxBytes: 5 * MB },
  '.png': { mime: 'image/png', maxBytes: 5 * MB },
  // Animated stickers may be 500 KB, static ones 100 KB; the emulator cannot tell them apart.
  '.webp': { mime: 'image/webp', maxBytes: 500 * 1024 },
  '.3gp': { mime: 'video/3gpp', maxBytes: 16 * MB },
  '.mp4': { mime: 'video/mp4', maxBytes: 16 * MB },
};

const postSchema = z.object({
  originationPhoneNumberId: z.string().min(1),
  sourceS3File: z.object({ bucketName: z.string().min(3), key: z.string().min(1) }).optional(),
  sourceS3PresignedUrl: z
    .object({
      // The model's S3PresignedUrlUrlString pattern.
      url: z.string().regex(/https:\/\/(.*)s3(.*).amazonaws.com\/(.*)/, 'must be an https S3 presigned URL'),
      headers: z.record(z.string(), z.string()).optional(),
    })
    .optional(),
});

function requirePhone(ctx: EmulatorContext, id: string): PhoneNumberState {
  const phone = ctx.world.numbers.get(normalizePhoneNumberId(id));
  if (!phone) throw new AwsError('ResourceNotFoundException', `Phone number ${id} was not found`);
  return phone;
}

function checkQuota(ctx: EmulatorContext): void {
  const quota = ctx.quotas.media;
  if (!quota) return;
  const now = ctx.clock.now();
  if (quota.wouldExceed(now)) throw new AwsError('ThrottledRequestException', 'Rate exceeded');
  quota.record(now);
}

/** Where the local stand-in for S3 keeps an object: `<s3Root>/<bucket>/<key>`, or `key` when absolute. */
function localS3Path(ctx: EmulatorContext, bucket: string, key: string): string {
  const root = ctx.config.media.s3Root ?? resolve('.emulator', 's3');
  return isAbsolute(key) ? key : join(root, bucket, key);
}

async function localS3Object(
  ctx: EmulatorContext,
  bucket: string,
  key: string,
): Promise<{ size: number } | undefined> {
  const info = await stat(localS3Path(ctx, bucket, key)).catch(() => undefined);
  return info?.isFile() ? { size: info.size } : undefined;
}

/** Bucket and key of an S3 URL, virtual-hosted (`<bucket>.s3.<region>.amazonaws.com/<key>`) or path style. */
function s3ObjectOfUrl(url: string): { bucket: string; key: string } | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return undefined;
  }
  const path = decodeURIComponent(parsed.pathname.slice(1));
  const hosted = /^(.+)\.s3[.-]/.exec(parsed.hostname);
  if (hosted?.[1]) return path ? { bucket: hosted[1], key: path } : undefined;
  const slash = path.indexOf('/');
  return slash > 0 ? { bucket: path.slice(0, slash), key: path.slice(slash + 1) } : undefined;
}

/** Size and name of the source object, read from a local folder that stands in for S3. */
async function readSource(
  ctx: EmulatorContext,
  input: z.output<typeof postSchema>,
): Promise<{ size: number; name: string; source: string }> {
  if (input.sourceS3File) {
    const { bucketName, key } = input.sourceS3File;
    const found = await localS3Object(ctx, bucketName, key);
    if (!found) {
      throw new AwsError(
        'ResourceNotFoundException',
        `S3 object s3://${bucketName}/${key} was not found (emulator reads ${localS3Path(ctx, bucketName, key)})`,
      );
    }
    return { size: found.size, name: key, source: `s3://${bucketName}/${key}` };
  }
  // A presigned URL names an S3 object too (virtual-hosted or path style); it is read from the same
  // local stand-in for S3, signature and headers aside.
  const { url } = input.sourceS3PresignedUrl as { url: string };
  const located = s3ObjectOfUrl(url);
  if (!located) throw new AwsError('InvalidParametersException', `${url} does not name an S3 object`);
  const found = await localS3Object(ctx, located.bucket, located.key);
  if (!found) {
    throw new AwsError(
      'InvalidParametersException',
      `Downloading ${url} failed: no such object (emulator reads ${localS3Path(ctx, located.bucket, located.key)})`,
    );
  }
  return { size: found.size, name: located.key, source: url };
}

/** PostWhatsAppMessageMedia: uploads media for one number and returns its media id. */
export async function postWhatsAppMessageMedia(
  ctx: EmulatorContext,
  req: EmulatorRequest,
): Promise<HandlerResult> {
  const input = parseInput(postSchema, jsonBody(req));
  checkQuota(ctx);
  const phone = requirePhone(ctx, input.originationPhoneNumberId);
  if ((input.sourceS3File === undefined) === (input.sourceS3PresignedUrl === undefined)) {
    throw new AwsError(
      'InvalidParametersException',
      'Give exactly one of sourceS3File or sourceS3PresignedUrl',
    );
  }
  const { size, name, source } = await readSource(ctx, input);
  const type = MEDIA_TYPES[extname(name).toLowerCase()];
  if (!type) throw metaAwsError(131053, `unsupported media type ${extname(name) || '(no extension)'}`);
  if (size > type.maxBytes)
    throw metaAwsError(131053, `${type.mime} media is limited to ${type.maxBytes} bytes, got ${size}`);
  const mediaId = ctx.rng.ids.digits(16);
  ctx.world.media.set(mediaId, { mediaId, phoneNumberId: phone.id, mimeType: type.mime, size, source });
  return { json: { mediaId } };
}

/** DeleteWhatsAppMessageMedia: media belongs to the number that uploaded it. */
export function deleteWhatsAppMessageMedia(ctx: EmulatorContext, req: EmulatorRequest): HandlerResult {
  const input = parseInput(
    z.object({ mediaId: z.string().min(1), originationPhoneNumberId: z.string().min(1) }),
    queryInput(req),
  );
  checkQuota(ctx);
  const phone = requirePhone(ctx, input.originationPhoneNumberId);
  const media = ctx.world.media.get(input.mediaId);
  if (!media || media.phoneNumberId !== phone.id) {
    throw new AwsError('ResourceNotFoundException', `Media ${input.mediaId} was not found for ${phone.id}`);
  }
  ctx.world.media.delete(input.mediaId);
  return { json: { success: true } };
}
