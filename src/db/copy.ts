import { once } from 'node:events';
import { finished } from 'node:stream/promises';
import type { Writable } from 'node:stream';
import type { Database } from './client';

/**
 * Bulk loading through COPY, on a connection of its own so session-private (temporary) tables work.
 * A PostgreSQL server is streamed to with the postgres driver's `COPY … FROM STDIN`, with backpressure;
 * the embedded PGlite takes each COPY as one blob (`COPY … FROM '/dev/blob'`), so the caller keeps its
 * chunks modest there.
 */
export interface BulkSession {
  readonly kind: 'postgres' | 'pglite';
  /** Runs one statement with `$1…` parameters and returns its rows. */
  query<T = Record<string, unknown>>(text: string, params?: unknown[]): Promise<T[]>;
  /** Starts a COPY in text format into `table (columns)`. */
  copyIn(table: string, columns: readonly string[]): Promise<CopyWriter>;
  /** Gives the connection back. */
  release(): Promise<void>;
}

export type CopyValue = string | number | null | undefined;

export interface CopyWriter {
  /**
   * Appends one row. Returns a promise only when the caller should wait before writing more (the
   * server is behind); otherwise nothing, so a tight loop costs no promise per row.
   */
  row(values: readonly CopyValue[]): Promise<void> | undefined;
  /** Ends the COPY; resolves with the number of rows once the server has them all. */
  end(): Promise<number>;
  /** Abandons the COPY (the server discards what it received). */
  abort(reason: Error): void;
}

/** Rows are sent in pieces of about this many characters: one socket write per row would dominate. */
const FLUSH_CHARS = 256 * 1024;

/**
 * Up to `count` bulk sessions on `db`'s own driver: several on a server (so one can load while another
 * inserts; at most half the pool), exactly one on PGlite, which has a single connection. Undefined when
 * the driver is neither.
 */
export async function openBulkSessions(db: Database, count: number): Promise<BulkSession[] | undefined> {
  const client = (db as unknown as { $client?: unknown }).$client;
  if (isPostgresJs(client)) {
    // Never more than half the pool, so the caller's other queries are not starved while a list loads.
    const poolSize = client.options?.max ?? 10;
    const wanted = Math.max(1, Math.min(count, Math.floor(poolSize / 2)));
    const sessions: BulkSession[] = [];
    try {
      for (let i = 0; i < wanted; i++) sessions.push(postgresSession(await client.reserve()));
    } catch (err) {
      await Promise.all(sessions.map((s) => s.release()));
      throw err;
    }
    return sessions;
  }
  if (isPglite(client)) return [pgliteSession(client)];
  return undefined;
}

/** One value in COPY's text format: `\N` for null; backslash, tab, newline and return escaped. */
export function copyText(value: CopyValue): string {
  if (value === null || value === undefined) return '\\N';
  const text = typeof value === 'number' ? String(value) : value;
  // NUL cannot be stored in a text column at all.
  if (!/[\\\t\n\r\0]/.test(text)) return text;
  return text.replace(/[\\\t\n\r\0]/g, (c) =>
    c === '\\' ? '\\\\' : c === '\t' ? '\\t' : c === '\n' ? '\\n' : c === '\r' ? '\\r' : '',
  );
}

function copyLine(values: readonly CopyValue[]): string {
  let line = '';
  for (let i = 0; i < values.length; i++) {
    if (i > 0) line += '\t';
    line += copyText(values[i]);
  }
  return `${line}\n`;
}

/** A table or column name, quoted. */
function ident(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

function copyStatement(table: string, columns: readonly string[], source: string): string {
  return `copy ${ident(table)} (${columns.map(ident).join(', ')}) from ${source}`;
}

// ---------------------------------------------------------------------------------------------------------
// postgres (postgres.js)
// ---------------------------------------------------------------------------------------------------------

interface PendingQuery extends Promise<unknown> {
  writable(): Promise<Writable>;
}

interface ReservedSql {
  unsafe(text: string, params?: unknown[]): PendingQuery;
  release(): void;
}

interface PostgresJs {
  options?: { max?: number };
  reserve(): Promise<ReservedSql>;
  unsafe(text: string, params?: unknown[]): PendingQuery;
}

function isPostgresJs(client: unknown): client is PostgresJs {
  return (
    typeof client === 'function' &&
    typeof (client as Partial<PostgresJs>).reserve === 'function' &&
    typeof (client as Partial<PostgresJs>).unsafe === 'function'
  );
}

function postgresSession(reserved: ReservedSql): BulkSession {
  let released = false;
  return {
    kind: 'postgres',
    async query<T>(text: string, params: unknown[] = []): Promise<T[]> {
      return (await reserved.unsafe(text, params)) as T[];
    },
    async copyIn(table, columns) {
      const stream = await reserved.unsafe(copyStatement(table, columns, 'stdin')).writable();
      return streamWriter(stream);
    },
    release() {
      if (!released) {
        released = true;
        reserved.release();
      }
      return Promise.resolve();
    },
  };
}

function streamWriter(stream: Writable): CopyWriter {
  let failure: Error | undefined;
  stream.on('error', (err: Error) => (failure ??= err));
  let buffer = '';
  let rows = 0;
  const flush = (): Promise<void> | undefined => {
    if (failure) throw failure;
    const piece = buffer;
    buffer = '';
    if (piece && !stream.write(piece)) return once(stream, 'drain').then(() => undefined);
    return undefined;
  };
  return {
    row(values) {
      buffer += copyLine(values);
      rows++;
      return buffer.length >= FLUSH_CHARS ? flush() : undefined;
    },
    async end() {
      await flush();
      stream.end();
      await finished(stream);
      if (failure) throw failure;
      return rows;
    },
    abort(reason) {
      if (!stream.destroyed) stream.destroy(reason);
    },
  };
}

// ---------------------------------------------------------------------------------------------------------
// PGlite
// ---------------------------------------------------------------------------------------------------------

interface PgliteLike {
  query<T>(text: string, params?: unknown[], options?: { blob?: Blob }): Promise<{ rows: T[] }>;
  exec(text: string): Promise<unknown>;
}

function isPglite(client: unknown): client is PgliteLike {
  return (
    typeof client === 'object' &&
    client !== null &&
    typeof (client as Partial<PgliteLike>).query === 'function' &&
    typeof (client as Partial<PgliteLike>).exec === 'function'
  );
}

function pgliteSession(pg: PgliteLike): BulkSession {
  return {
    kind: 'pglite',
    async query<T>(text: string, params: unknown[] = []): Promise<T[]> {
      return (await pg.query<T>(text, params)).rows;
    },
    copyIn(table, columns) {
      // The embedded database runs on this thread: there is nothing to overlap with, so the chunk is
      // gathered and handed over in one piece.
      let pieces: string[] = [];
      let piece = '';
      let rows = 0;
      return Promise.resolve<CopyWriter>({
        row(values) {
          piece += copyLine(values);
          rows++;
          if (piece.length >= FLUSH_CHARS) {
            pieces.push(piece);
            piece = '';
          }
          return undefined;
        },
        async end() {
          pieces.push(piece);
          const blob = new Blob(pieces);
          pieces = [];
          piece = '';
          await pg.query(copyStatement(table, columns, `'/dev/blob'`), [], { blob });
          return rows;
        },
        abort() {
          pieces = [];
          piece = '';
        },
      });
    },
    release: () => Promise.resolve(),
  };
}
