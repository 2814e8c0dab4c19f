/**
 * Whether a database error is about reaching the database (or a conflict worth retrying) rather than
 * about the data. Only the data's own problems may be archived and acknowledged; for the others the
 * service answers 5xx and lets SNS deliver again later.
 */

// Connection problems reported by Node and by the postgres driver.
const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'CONNECT_TIMEOUT',
  'CONNECTION_CLOSED',
  'CONNECTION_ENDED',
  'CONNECTION_DESTROYED',
]);

// SQLSTATE classes: 08 connection, 53 resources, 57 operator intervention (shutdown), 58 system error.
const TRANSIENT_CLASSES = ['08', '53', '57', '58'];
// Serialization failure, deadlock, lock not available, read-only (a fail-over in progress).
const TRANSIENT_STATES = new Set(['40001', '40P01', '55P03', '25006']);

export function isTransientDbError(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e && depth < 5; depth++) {
    const obj = e as { code?: unknown; message?: unknown; cause?: unknown };
    const code = typeof obj.code === 'string' ? obj.code : undefined;
    if (code && (CONNECTION_CODES.has(code) || TRANSIENT_STATES.has(code))) return true;
    if (code && /^[0-9A-Z]{5}$/.test(code) && TRANSIENT_CLASSES.includes(code.slice(0, 2))) return true;
    // The embedded database says so in words once it is closed.
    if (
      typeof obj.message === 'string' &&
      /PGlite is closed|connection (terminated|closed)/i.test(obj.message)
    )
      return true;
    e = obj.cause;
  }
  return false;
}

/** The SQLSTATE of an error or of one of its causes (drizzle wraps the driver's errors). */
function sqlStateOf(err: unknown): string | undefined {
  for (let e: unknown = err, depth = 0; e && depth < 5; depth++) {
    const obj = e as { code?: unknown; cause?: unknown };
    if (typeof obj.code === 'string') return obj.code;
    e = obj.cause;
  }
  return undefined;
}

/**
 * Runs statements side by side on one transaction's connection (the postgres driver pipelines them, so
 * the server answers them in one wait). Settles only once every one has, so that nothing is still
 * running when the transaction ends, and fails with the error that broke the transaction rather than
 * an "aborted transaction" (25P02) that followed from it.
 */
export async function sideBySide<T extends readonly unknown[]>(
  ...work: { [K in keyof T]: Promise<T[K]> }
): Promise<T> {
  const settled = await Promise.allSettled(work);
  const errors = settled.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
  if (errors.length > 0) throw errors.find((e) => sqlStateOf(e) !== '25P02') ?? errors[0];
  return settled.map((r) => (r as PromiseFulfilledResult<unknown>).value) as unknown as T;
}

/** Conflicts between concurrent transactions, which the same transaction may simply be run again for. */
export function isRetryableConflict(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e && depth < 5; depth++) {
    const obj = e as { code?: unknown; cause?: unknown };
    if (obj.code === '40001' || obj.code === '40P01') return true;
    e = obj.cause;
  }
  return false;
}
