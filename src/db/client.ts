import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import { sql } from 'drizzle-orm';
import * as schema from './schema';
import { guardAgainstClosedSocketWrites } from './driver-guard';
import type { Sql } from 'postgres';
import { safeErrorText } from '../shared/safe-error';

/** The drizzle database, whichever driver is underneath. */
export type Database = PgDatabase<PgQueryResultHKT, typeof schema>;

export type DatabaseKind = 'postgres' | 'pglite';

export interface DatabaseHandle {
  db: Database;
  kind: DatabaseKind;
  /** Where the data lives: the server URL without its password, or the embedded data folder. */
  location: string;
  close(): Promise<void>;
}

export interface OpenDatabaseOptions {
  /** A postgres:// URL; when absent the embedded database is used. */
  url?: string;
  /** Folder of the embedded database; `memory://` keeps it in memory (tests). */
  dataDir?: string;
  /** Connections in the server pool. */
  maxConnections?: number;
  /** Apply committed migrations before returning (default true). */
  migrate?: boolean;
  /**
   * Named prepared statements (postgres driver only; default true, WA_DB_PREPARE). A statement is then
   * parsed once per connection and each run is one round trip instead of two (unprepared, the driver first
   * asks the server for the parameter types, then runs the statement). Statement texts are kept constant
   * for this (lists and rows go as one JSON parameter, src/db/sql-values.ts), so a connection holds a
   * bounded set of them.
   */
  prepare?: boolean;
}

const MIGRATIONS_FOLDER = path.resolve(__dirname, '../../drizzle');

/** A database that could not be opened; the message names the setting to fix. */
export class DatabaseUnavailableError extends Error {
  override name = 'DatabaseUnavailableError';
}

/**
 * Opens PostgreSQL through the `postgres` driver when a URL is given, else the embedded PGlite database
 * kept in `dataDir` so a demo's data survives a restart. Migrations run on open.
 */
export async function openDatabase(options: OpenDatabaseOptions): Promise<DatabaseHandle> {
  const handle = options.url
    ? await openServer(options.url, options.maxConnections ?? 10, options.prepare ?? true)
    : await openEmbedded(options.dataDir ?? '.data');
  if (options.migrate !== false) {
    try {
      await migrateDatabase(handle);
    } catch (err) {
      await handle.close();
      throw err;
    }
  }
  return handle;
}

async function openServer(url: string, max: number, prepare: boolean): Promise<DatabaseHandle> {
  guardAgainstClosedSocketWrites();
  const { default: postgres } = await import('postgres');
  const { drizzle } = await import('drizzle-orm/postgres-js');
  const safe = redactUrl(url);
  const client = postgres(url, { max, onnotice: () => {}, connect_timeout: 10, prepare });
  const db = drizzle(prepare ? preparing(client) : client, { schema }) as unknown as Database;
  try {
    await db.execute(sql`select 1`);
  } catch (err) {
    await client.end({ timeout: 1 });
    const reason = safeErrorText(err);
    throw new DatabaseUnavailableError(`DATABASE_URL (${safe}): cannot connect: ${reason}`);
  }
  return { db, kind: 'postgres', location: safe, close: () => client.end({ timeout: 5 }) };
}

/**
 * drizzle asks the postgres driver not to prepare any statement it runs through `execute` (it prepares
 * only queries given a name), which would override the pool's `prepare` setting. This view of the
 * client, and of every transaction it begins, leaves the decision to the pool.
 */
function preparing(client: Sql): Sql {
  return new Proxy(client, {
    get(target, prop, receiver) {
      if (prop === 'unsafe') {
        // unsafe(query, parameters?, options?) or unsafe(query, options).
        return (query: string, ...rest: unknown[]) => {
          const positional = rest[0] === undefined || Array.isArray(rest[0]);
          const params = (positional ? rest[0] : undefined) ?? [];
          const options = (positional ? rest[1] : rest[0]) as Record<string, unknown> | undefined;
          return target.unsafe(query, params as never, { ...options, prepare: true });
        };
      }
      if (prop === 'begin' || prop === 'savepoint') {
        // A transaction or savepoint hands its callback a client of its own: give it the same view.
        return (...args: unknown[]) => {
          const callback = args.pop() as (tx: Sql) => unknown;
          const method = Reflect.get(target, prop) as (...a: unknown[]) => unknown;
          return method(...args, (tx: Sql) => callback(preparing(tx)));
        };
      }
      return Reflect.get(target, prop, receiver) as unknown;
    },
  });
}

async function openEmbedded(dataDir: string): Promise<DatabaseHandle> {
  const { PGlite } = await import('@electric-sql/pglite');
  const { drizzle } = await import('drizzle-orm/pglite');
  const inMemory = dataDir.startsWith('memory://');
  let release = () => {};
  if (!inMemory) {
    mkdirSync(dataDir, { recursive: true });
    release = lockDataDir(path.resolve(dataDir));
  }
  const client = new PGlite(inMemory ? undefined : path.resolve(dataDir));
  await client.waitReady;
  const db = drizzle(client, { schema }) as unknown as Database;
  return {
    db,
    kind: 'pglite',
    location: inMemory ? 'memory' : path.resolve(dataDir),
    close: async () => {
      await client.close();
      release();
    },
  };
}

/** Applies the committed drizzle-kit migrations in `drizzle/`. */
export async function migrateDatabase(handle: DatabaseHandle): Promise<void> {
  if (handle.kind === 'postgres') {
    const { migrate } = await import('drizzle-orm/postgres-js/migrator');
    await migrate(handle.db as never, { migrationsFolder: MIGRATIONS_FOLDER });
  } else {
    const { migrate } = await import('drizzle-orm/pglite/migrator');
    await migrate(handle.db as never, { migrationsFolder: MIGRATIONS_FOLDER });
  }
}

function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '<unparseable url>';
  }
}

/**
 * The embedded database belongs to one process at a time; a second opener would corrupt it. A lock file
 * with the owner's pid turns that mistake into a clear error.
 */
function lockDataDir(dir: string): () => void {
  const lockFile = path.join(dir, 'wa-campaigns.lock');
  try {
    const owner = Number(readFileSync(lockFile, 'utf8'));
    if (owner && owner !== process.pid && isAlive(owner)) {
      throw new DatabaseUnavailableError(
        `the embedded database in ${dir} is in use by process ${owner}; stop it, or set DATABASE_URL ` +
          'to a PostgreSQL server that several processes can share',
      );
    }
  } catch (err) {
    if (err instanceof DatabaseUnavailableError) throw err;
  }
  writeFileSync(lockFile, String(process.pid));
  return () => rmSync(lockFile, { force: true });
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
