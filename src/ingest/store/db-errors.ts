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

/** Conflicts between concurrent transactions, which the same transaction may simply be run again for. */
export function isRetryableConflict(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e && depth < 5; depth++) {
    const obj = e as { code?: unknown; cause?: unknown };
    if (obj.code === '40001' || obj.code === '40P01') return true;
    e = obj.cause;
  }
  return false;
}
