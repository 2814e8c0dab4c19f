/**
 * PostgreSQL for tests. test/setup/global-setup.ts calls {@link startPostgres} once per test run (unless
 * TEST_DATABASE_URL points at a server already) and provides the admin URL; each test file then takes
 * its own database with {@link createTestDatabase}, so files running in parallel never see each other's
 * rows:
 *
 *   let db: TestDatabase;
 *   beforeAll(async () => { db = await createTestDatabase('campaigns'); });
 *   afterAll(async () => { await db?.drop(); });
 *
 * The server is Debian's PostgreSQL package run from a temporary directory on a free loopback port, with
 * durability switched off (fsync, full-page writes) unless asked for: the data is thrown away anyway.
 */
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import postgres from 'postgres';
import { freePort } from './net';

/** What the global set-up provides: the admin URL, or why there is no server. */
export type PostgresProvision = { url: string } | { error: string };

declare module 'vitest' {
  export interface ProvidedContext {
    waPostgres: PostgresProvision;
  }
}

export const NOT_INSTALLED_MESSAGE =
  'PostgreSQL is not installed, so the tests cannot start a throw-away server. Install it with ' +
  '`apt-get install postgresql` (the tests only use its binaries; the system service can stay stopped), ' +
  'or set TEST_DATABASE_URL to a server where the tests may create and drop databases.';

export interface PostgresServer {
  /** Superuser URL (database `postgres`). */
  url: string;
  /** Fast shutdown plus removal of the data directory; safe to call twice. */
  stop(): Promise<void>;
  /**
   * Stops the server and starts it again on the same port with the same data (crash tests). `immediate`
   * (the default) is what a crash leaves: connections are cut and the server recovers from its WAL.
   * `downMs` keeps it down that long in between.
   */
  restart(options?: { mode?: 'immediate' | 'fast'; downMs?: number }): Promise<void>;
}

/** The newest PostgreSQL in /usr/lib/postgresql/<major>/bin (Debian layout), or PG_BIN_DIR if set. */
export function findPostgresBinDir(): string | undefined {
  const fromEnv = process.env.PG_BIN_DIR;
  if (fromEnv) return existsSync(path.join(fromEnv, 'initdb')) ? fromEnv : undefined;
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const majors = readdirSync(root)
    .filter((v) => /^\d+$/.test(v) && existsSync(path.join(root, v, 'bin', 'initdb')))
    .sort((a, b) => Number(b) - Number(a));
  return majors[0] ? path.join(root, majors[0], 'bin') : undefined;
}

/**
 * initdb and postgres refuse to run as root. As root we drop to the `postgres` account the Debian package
 * creates (the spawn uid/gid options, which is what runuser would do); as anyone else we run as ourselves.
 */
function serverAccount(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('postgres:'));
  const [, , uid, gid] = line?.split(':') ?? [];
  if (!uid || !gid) {
    throw new Error(
      'Tests run as root, but there is no `postgres` OS user to run PostgreSQL as (initdb refuses root). ' +
        'Install the postgresql package, which creates it, or set TEST_DATABASE_URL.',
    );
  }
  return { uid: Number(uid), gid: Number(gid) };
}

export interface StartPostgresOptions {
  /**
   * Keep PostgreSQL's durability settings (fsync, synchronous commit, full-page writes), for benchmarks
   * whose figures claim that a commit is on disk. Default false: tests throw their data away.
   */
  durable?: boolean;
}

export async function startPostgres(options: StartPostgresOptions = {}): Promise<PostgresServer> {
  const binDir = findPostgresBinDir();
  if (!binDir) throw new Error(NOT_INSTALLED_MESSAGE);
  const account = serverAccount();
  const baseDir = await fsp.mkdtemp(path.join(os.tmpdir(), 'wa-campaigns-pg-'));
  if (account) await fsp.chown(baseDir, account.uid, account.gid);
  const dataDir = path.join(baseDir, 'data');
  const logFile = path.join(baseDir, 'server.log');

  const exec = (tool: string, args: string[]): Promise<void> =>
    new Promise((resolve, reject) => {
      const child = spawn(path.join(binDir, tool), args, {
        cwd: baseDir,
        stdio: ['ignore', 'pipe', 'pipe'],
        ...(account ?? {}),
      });
      let output = '';
      child.stdout.on('data', (c: Buffer) => (output += c.toString()));
      child.stderr.on('data', (c: Buffer) => (output += c.toString()));
      child.once('error', reject);
      child.once('close', (code) => {
        if (code === 0) resolve();
        else reject(new Error(`${tool} ${args.join(' ')} failed (exit ${code}):\n${output.trim()}`));
      });
    });

  let stopped = false;
  const stopSync = (): void => {
    // Last resort if the run is torn down without teardown (e.g. the process exits on an error).
    if (stopped) return;
    stopped = true;
    spawnSync(path.join(binDir, 'pg_ctl'), ['-D', dataDir, '-m', 'immediate', '-w', 'stop'], {
      stdio: 'ignore',
      ...(account ?? {}),
    });
    rmSync(baseDir, { recursive: true, force: true });
  };
  process.once('exit', stopSync);

  try {
    await exec('initdb', [
      '-D',
      dataDir,
      '-U',
      'postgres',
      '--auth=trust',
      '-E',
      'UTF8',
      '--locale=C',
      '--no-sync',
    ]);
    const port = await freePort();
    // Throw-away data: trade every durability guarantee for speed, unless asked not to. Sockets go to our
    // own directory because /var/run/postgresql may not exist or belong to the system service.
    const settings = [
      `port = ${port}`,
      `listen_addresses = '127.0.0.1'`,
      `unix_socket_directories = '${baseDir}'`,
      ...(options.durable ? [] : ['fsync = off', 'synchronous_commit = off', 'full_page_writes = off']),
      'max_connections = 200',
    ];
    await fsp.appendFile(
      path.join(dataDir, 'postgresql.conf'),
      `\n# wa-campaigns tests\n${settings.join('\n')}\n`,
    );
    await exec('pg_ctl', ['-D', dataDir, '-l', logFile, '-w', '-t', '60', 'start']);
    return {
      url: `postgres://postgres@127.0.0.1:${port}/postgres`,
      async restart({ mode = 'immediate', downMs = 0 } = {}) {
        if (stopped) throw new Error('the server was stopped for good');
        await exec('pg_ctl', ['-D', dataDir, '-m', mode, '-w', 'stop']);
        if (downMs > 0) await new Promise((resolve) => setTimeout(resolve, downMs));
        await exec('pg_ctl', ['-D', dataDir, '-l', logFile, '-w', '-t', '60', 'start']);
      },
      async stop() {
        if (stopped) return;
        stopped = true;
        process.removeListener('exit', stopSync);
        try {
          await exec('pg_ctl', ['-D', dataDir, '-m', 'immediate', '-w', 'stop']);
        } finally {
          await fsp.rm(baseDir, { recursive: true, force: true });
        }
      },
    };
  } catch (err) {
    const log = existsSync(logFile)
      ? readFileSync(logFile, 'utf8').trim().split('\n').slice(-10).join('\n')
      : '';
    stopSync();
    process.removeListener('exit', stopSync);
    throw log ? new Error(`${(err as Error).message}\nserver log:\n${log}`, { cause: err }) : err;
  }
}

/**
 * The admin URL tests create their databases on: TEST_DATABASE_URL if set, else the server the global
 * set-up started. Throws the set-up's explanation (e.g. PostgreSQL not installed) when there is none.
 */
export async function getAdminDatabaseUrl(): Promise<string> {
  const fromEnv = process.env.TEST_DATABASE_URL;
  if (fromEnv) return fromEnv;
  if (process.env.VITEST) {
    // Dynamic: vitest refuses to be require()d, and this module must also load under plain tsx.
    const { inject } = await import('vitest');
    const provided = inject('waPostgres');
    if (provided) {
      if ('error' in provided) throw new Error(provided.error);
      return provided.url;
    }
  }
  throw new Error(
    'No PostgreSQL for tests: run them through vitest (its global set-up starts one) or set TEST_DATABASE_URL.',
  );
}

export interface TestDatabase {
  name: string;
  /** URL of the new, empty database. */
  url: string;
  /** Drops the database, disconnecting anyone still attached; safe to call twice. */
  drop(): Promise<void>;
}

/**
 * Creates an empty database with a unique name (`wa_<label>_<random>`), so each test file, or each test,
 * works in isolation on the shared server (or on the server `adminUrl` names).
 */
export async function createTestDatabase(
  label = 'test',
  options: { adminUrl?: string } = {},
): Promise<TestDatabase> {
  const adminUrl = options.adminUrl ?? (await getAdminDatabaseUrl());
  const slug =
    label
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '_')
      .replace(/^_|_$/g, '')
      .slice(0, 40) || 'test';
  const name = `wa_${slug}_${randomBytes(5).toString('hex')}`;
  await withAdmin(adminUrl, (sql) => sql.unsafe(`CREATE DATABASE "${name}"`));
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  let dropped = false;
  return {
    name,
    url: url.toString(),
    async drop() {
      if (dropped) return;
      dropped = true;
      await withAdmin(adminUrl, (sql) => sql.unsafe(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`));
    },
  };
}

async function withAdmin(url: string, fn: (sql: postgres.Sql) => Promise<unknown>): Promise<void> {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    await fn(sql);
  } finally {
    await sql.end({ timeout: 5 });
  }
}
