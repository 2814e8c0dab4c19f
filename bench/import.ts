/**
 * Recipient import at scale: 1,000,000 generated recipients (a CSV with a few duplicates, bad rows and
 * opted-out users mixed in) imported into a real PostgreSQL server exactly as `campaign start` does it
 * (openRecipientFile + importRecipients: parse, check every phone, COPY into a staging table, settle
 * set-based). The import runs in a child process of its own, so its peak RSS is the importer's alone.
 *
 * The database is BENCH_DATABASE_URL (migrated; the bench's rows are deleted afterwards), else a
 * throw-away server started like the tests' (test/helpers/postgres.ts). BENCH_IMPORT_ROWS changes the size.
 *
 * Run alone: `tsx bench/import.ts`.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { once } from 'node:events';
import { eq } from 'drizzle-orm';
import { importRecipients } from '../src/client/import';
import { openRecipientFile } from '../src/client/recipients';
import { openDatabase } from '../src/db/client';
import { recipients, rejectedRows, suppressions } from '../src/db/schema';
import { startPostgres, type PostgresServer } from '../test/helpers/postgres';
import type { BenchRow } from './engine-pacing';

const DEFAULT_ROWS = 1_000_000;
/** One row in this many is a duplicate of an earlier one, one a bad phone, one an opted-out user. */
const DUPLICATE_EVERY = 997;
const BAD_EVERY = 1_009;
const OPTED_OUT_EVERY = 1_013;
const SOURCE = 'bench-import';

interface ChildFigures {
  seconds: number;
  read: number;
  accepted: number;
  rejected: number;
  maxRssMb: number;
}

/** Imports `rows` generated recipients into a PostgreSQL server; rows/s and the importer's peak RSS. */
export async function benchImport(opts: { rows?: number; databaseUrl?: string } = {}): Promise<BenchRow[]> {
  const rows = opts.rows ?? Number(process.env.BENCH_IMPORT_ROWS ?? DEFAULT_ROWS);
  const dir = mkdtempSync(path.join(tmpdir(), 'wa-bench-import-'));
  let server: PostgresServer | undefined;
  let url = opts.databaseUrl ?? process.env.BENCH_DATABASE_URL;
  if (!url) {
    server = await startPostgres();
    url = server.url;
  }
  const campaignId = `bench-import-${randomBytes(4).toString('hex')}`;
  // Migrations and the suppression list first, so the timed child does nothing but import.
  const handle = await openDatabase({ url, maxConnections: 2 });
  try {
    const { file, optedOut, expectedRejected } = await writeRecipientFile(
      path.join(dir, 'recipients.csv'),
      rows,
    );
    for (let i = 0; i < optedOut.length; i += 5_000) {
      await handle.db
        .insert(suppressions)
        .values(optedOut.slice(i, i + 5_000).map((phone) => ({ phone, reason: 'bench', source: SOURCE })))
        .onConflictDoNothing();
    }
    const figures = await runChild(file, url, campaignId);
    return [
      {
        metric: `import rate, ${rows.toLocaleString('en')} recipients (PostgreSQL, COPY)`,
        value: Math.round(figures.read / figures.seconds),
        unit: 'rows/s',
        target: '≥ 50,000',
      },
      { metric: 'import wall time', value: round(figures.seconds), unit: 's' },
      {
        metric: 'import peak RSS of the importing process',
        value: Math.round(figures.maxRssMb),
        unit: 'MB',
        target: '≤ 300',
      },
      {
        metric: 'import accepted / rejected as expected',
        value: figures.accepted === rows - expectedRejected && figures.rejected === expectedRejected ? 1 : 0,
        unit: `bool (${figures.accepted} accepted, ${figures.rejected} rejected, ${expectedRejected} expected)`,
        target: '1',
      },
    ];
  } finally {
    // A server of our own is simply thrown away; on BENCH_DATABASE_URL the bench's rows are removed.
    if (!server) {
      await handle.db.delete(recipients).where(eq(recipients.campaignId, campaignId));
      await handle.db.delete(rejectedRows).where(eq(rejectedRows.campaignId, campaignId));
      await handle.db.delete(suppressions).where(eq(suppressions.source, SOURCE));
    }
    await handle.close();
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * A CSV of `rows` recipients written as a stream (never whole in memory): valid German mobile numbers,
 * a third with a time zone, and, in disjoint sets, every DUPLICATE_EVERY-th row repeating the phone of an
 * earlier plain row, every BAD_EVERY-th an invalid phone, and every OPTED_OUT_EVERY-th a user on the
 * suppression list (returned, to be inserted before the import). Also returns how many rows the import
 * must reject.
 */
async function writeRecipientFile(
  file: string,
  rows: number,
): Promise<{ file: string; optedOut: string[]; expectedRejected: number }> {
  const out = createWriteStream(file);
  const optedOut: string[] = [];
  const phoneOf = (i: number) => `+4917${String(600_000_000 + i)}`;
  const kind = (i: number) =>
    i % DUPLICATE_EVERY === 0 && i > 500
      ? 'duplicate'
      : i % BAD_EVERY === 0
        ? 'bad'
        : i % OPTED_OUT_EVERY === 0
          ? 'opted-out'
          : 'plain';
  let expectedRejected = 0;
  let buffer = 'phone,name,code,timezone\n';
  for (let i = 1; i <= rows; i++) {
    let phone = phoneOf(i);
    const k = kind(i);
    if (k === 'duplicate' && kind(i - 500) === 'plain') phone = phoneOf(i - 500);
    else if (k === 'bad') phone = `+49${i}`.slice(0, 6);
    else if (k === 'opted-out') optedOut.push(phone);
    if (phone !== phoneOf(i) || k === 'opted-out') expectedRejected++;
    buffer += `${phone},Name ${i},C-${i % 9973},${i % 3 === 0 ? 'Europe/Berlin' : ''}\n`;
    if (buffer.length >= 1 << 16) {
      if (!out.write(buffer)) await once(out, 'drain');
      buffer = '';
    }
  }
  out.end(buffer);
  await once(out, 'finish');
  return { file, optedOut, expectedRejected };
}

/** Runs the import in a fresh process and reads its figures from the last line of its output. */
function runChild(file: string, databaseUrl: string, campaignId: string): Promise<ChildFigures> {
  return new Promise((resolve, reject) => {
    const args = ['--require', require.resolve('tsx/cjs'), __filename, file, campaignId];
    const child = spawn(process.execPath, args, {
      env: { ...process.env, BENCH_IMPORT_CHILD_DB: databaseUrl },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.once('error', reject);
    child.once('exit', (code) => {
      const last = output.trim().split('\n').at(-1) ?? '';
      try {
        if (code !== 0) throw new Error(`import child exited with ${code}`);
        resolve(JSON.parse(last) as ChildFigures);
      } catch (err) {
        reject(new Error(`${(err as Error).message}: ${output.slice(-500)}`));
      }
    });
  });
}

/** The child: one import, timed from opening the file to the last row settled, as `campaign start` runs it. */
async function childMain(file: string, campaignId: string, databaseUrl: string): Promise<void> {
  const handle = await openDatabase({ url: databaseUrl, maxConnections: 4, migrate: false });
  try {
    const started = process.hrtime.bigint();
    const recipients = await openRecipientFile(file);
    let read = 0;
    const result = await importRecipients(handle.db, recipients, {
      campaignId,
      expectedParams: 2,
      dropSuppressed: true,
      onProgress: (p) => (read = p.read),
    });
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const figures: ChildFigures = {
      seconds,
      read,
      accepted: result.accepted,
      rejected: result.rejected,
      // resourceUsage reports kilobytes.
      maxRssMb: process.resourceUsage().maxRSS / 1024,
    };
    process.stdout.write(`${JSON.stringify(figures)}\n`);
  } finally {
    await handle.close();
  }
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}

if (require.main === module) {
  const childDb = process.env.BENCH_IMPORT_CHILD_DB;
  const run = childDb
    ? childMain(process.argv[2] ?? '', process.argv[3] ?? 'bench-import', childDb)
    : benchImport().then((rows) => console.table(rows));
  run.catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
