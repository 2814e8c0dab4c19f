import type http from 'node:http';

/** The body was larger than allowed; answered 413. */
export class BodyTooLarge extends Error {
  override name = 'BodyTooLarge';
}

/** Reads a request body as UTF-8, refusing more than `maxBytes` (an SNS message is at most 256 KB). */
export function readBody(req: http.IncomingMessage, maxBytes: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > maxBytes) {
      reject(new BodyTooLarge(`body of ${declared} bytes is over the ${maxBytes} byte limit`));
      req.resume();
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) {
        reject(new BodyTooLarge(`body is over the ${maxBytes} byte limit`));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}
