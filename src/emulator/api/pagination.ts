import { AwsError } from '../http/aws-errors';

/**
 * Offset pagination behind an opaque token, as AWS list operations expose it. The token encodes the
 * offset; a token that does not decode is an InvalidParametersException.
 */
export function paginate<T>(
  items: T[],
  nextToken: string | undefined,
  maxResults: number | undefined,
  defaultMax = 100,
): { page: T[]; nextToken?: string } {
  let start = 0;
  if (nextToken !== undefined) {
    const decoded = /^o(\d+)$/.exec(Buffer.from(nextToken, 'base64url').toString('utf8'));
    if (!decoded) throw new AwsError('InvalidParametersException', 'nextToken is not valid');
    start = Number(decoded[1]);
  }
  const size = maxResults ?? defaultMax;
  const page = items.slice(start, start + size);
  const end = start + page.length;
  return end < items.length ? { page, nextToken: Buffer.from(`o${end}`).toString('base64url') } : { page };
}
