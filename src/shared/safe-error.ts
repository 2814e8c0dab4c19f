/**
 * Database errors without the data they were carrying. drizzle wraps every driver error in a
 * DrizzleQueryError whose message and `params` hold the statement's parameters: phone numbers, message
 * texts, an inbound SMS with its verification code. PGlite's own errors carry `query` and `params` too, and
 * PostgreSQL quotes the offending value in a data error's message ("invalid input syntax for type integer:
 * "…""). Logs, the event archive's `error` column and HTTP answers get the SQLSTATE, the server's message
 * with quoted values left out, and the statement text: never the parameters.
 */

interface QueryError extends Error {
  query: string;
  params: unknown;
}

/** drizzle's wrapper: `Failed query: <sql>\nparams: <values>`, the driver's error as its cause. */
function isDrizzleQueryError(err: unknown): err is QueryError {
  return (
    err instanceof Error &&
    typeof (err as Partial<QueryError>).query === 'string' &&
    'params' in err &&
    err.message.startsWith('Failed query:')
  );
}

/** Errors whose own fields or message may hold the data of a statement. */
function carriesData(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  return 'params' in err || 'parameters' in err || isDataException(err);
}

function codeOf(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' || typeof code === 'number' ? String(code) : undefined;
}

/** SQLSTATE class 22 (data exception): the message quotes the value that could not be used. */
function isDataException(err: unknown): boolean {
  return /^22[0-9A-Z]{3}$/.test(codeOf(err) ?? '');
}

/** A statement, on one line and shortened: enough to say which one failed. */
function statementOf(query: string): string {
  const flat = query.replace(/\s+/g, ' ').trim();
  return flat.length > 160 ? `${flat.slice(0, 160)}…` : flat;
}

/** An error's own message; a data exception's quoted values are left out. */
function ownMessage(err: Error): string {
  return isDataException(err) ? err.message.replace(/"(?:[^"]|"")*"/g, '"…"') : err.message;
}

/** The text of an error, a failed query reduced to its SQLSTATE, message and statement (no parameters). */
export function safeErrorText(err: unknown): string {
  if (isDrizzleQueryError(err)) {
    const cause = err.cause;
    const why = cause === undefined ? 'query failed' : safeErrorText(cause);
    const code = codeOf(cause);
    const coded = code && !why.includes(`[${code}]`) ? `${why} [${code}]` : why;
    return `${coded} (in: ${statementOf(err.query)})`;
  }
  if (err instanceof Error) {
    const code = codeOf(err);
    const message = ownMessage(err);
    return carriesData(err) && code ? `${message} [${code}]` : message;
  }
  return String(err);
}

function needsCleaning(err: unknown, depth = 0): boolean {
  if (!(err instanceof Error) || depth > 8) return false;
  return isDrizzleQueryError(err) || carriesData(err) || needsCleaning(err.cause, depth + 1);
}

/**
 * The error to hand to a logger: when it, or an error in its chain of causes, may carry a statement's
 * data, a plain copy with the safe text, the original's call stack (not its message) and the SQLSTATE as
 * `code`, its cause cleaned the same way; any other error is returned as it is.
 */
export function withoutQueryParams(err: unknown): unknown {
  if (!needsCleaning(err)) return err;
  const original = err as Error;
  const drizzle = isDrizzleQueryError(original);
  const safe = new Error(
    drizzle || carriesData(original) ? safeErrorText(original) : original.message,
  ) as Error & { code?: string };
  safe.name = drizzle ? 'DatabaseQueryError' : original.name;
  const frames = (original.stack ?? '').split('\n').filter((line) => /^\s+at /.test(line));
  safe.stack = [`${safe.name}: ${safe.message}`, ...frames].join('\n');
  const code = codeOf(drizzle ? original.cause : original);
  if (code) safe.code = code;
  if (!drizzle && original.cause !== undefined) safe.cause = withoutQueryParams(original.cause);
  return safe;
}
