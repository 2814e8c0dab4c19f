/**
 * The `postgres` driver (3.4.9, the newest release) can write to a connection's socket after the
 * connection closed: a small write is deferred with setImmediate, the server goes away (restart,
 * failover, a proxy dropping idle links), and the deferred write throws a TypeError from a timer
 * callback, where no caller can catch it, so the whole process dies (porsager/postgres#1154, #1208;
 * the fix is not released). By then the driver has already failed the affected queries with
 * CONNECTION_CLOSED and the pool replaces the connection, so the write is moot: this guard drops that
 * one error and leaves every other uncaught exception fatal, as Node would.
 */
import { logger } from '../shared/logger';

let installed = false;

/** Is this the driver's write to a socket it already closed? */
export function isClosedSocketWrite(err: unknown): boolean {
  if (!(err instanceof TypeError)) return false;
  const stack = err.stack ?? '';
  return (
    /reading 'write'|evaluating 'socket\.write'/.test(err.message) &&
    /nextWrite/.test(stack) &&
    /[\\/]postgres[\\/]/.test(stack)
  );
}

/** Installs the guard once per process; called whenever a PostgreSQL pool is opened. */
export function guardAgainstClosedSocketWrites(): void {
  if (installed) return;
  installed = true;
  process.on('uncaughtException', (err, origin) => {
    if (isClosedSocketWrite(err)) {
      logger.warn(
        { component: 'db' },
        'ignored a write the postgres driver attempted on a closed connection (its queries already failed)',
      );
      return;
    }
    // Another handler (a test runner) owns the rest; alone, behave as Node does without a handler.
    if (process.listenerCount('uncaughtException') > 1) return;
    process.stderr.write(
      `${origin === 'unhandledRejection' ? 'Unhandled rejection' : 'Uncaught exception'}: ${
        err instanceof Error ? (err.stack ?? err.message) : String(err)
      }\n`,
    );
    process.exit(1);
  });
}
