import { randomBytes } from 'node:crypto';
import { sql } from 'drizzle-orm';
import type { Database } from '../db/client';
import { openBulkSessions, type BulkSession, type CopyValue, type CopyWriter } from '../db/copy';
import { num, queryRows } from '../db/query';
import { textList } from '../db/sql-values';
import { rejectedRows, suppressions } from '../db/schema';
import type { RecipientFile, RecipientRow } from './recipients';

export interface ImportOptions {
  campaignId: string;
  /** Body parameters the template takes; every accepted row carries exactly this many. */
  expectedParams: number;
  /** Marketing campaigns drop users who opted out. */
  dropSuppressed: boolean;
  /** Rows per chunk (default 50,000 on a server, 10,000 on the embedded database). */
  batchSize?: number;
  onProgress?: (progress: { read: number; accepted: number; rejected: number }) => void;
}

export interface Rejection {
  line: number;
  input: string;
  reason: string;
}

export interface ImportResult {
  accepted: number;
  rejected: number;
}

/** Rows per chunk: each chunk is loaded with COPY and then settled by a few set-based statements. */
const SERVER_CHUNK_ROWS = 50_000;
/** PGlite takes a whole chunk as one blob in memory, so its chunks are smaller. */
const EMBEDDED_CHUNK_ROWS = 10_000;
/** Server connections used at once: one loads the next chunk while the other settles the last. */
const LANES = 2;

const STAGE_COLUMNS = ['seq', 'phone', 'params', 'timezone', 'locale', 'raw', 'reason'] as const;
/** Reasons a row is refused; `CampaignClient.plan` gives the same ones, so each text is written once. */
export const OPTED_OUT = 'opted out of marketing';
export const DUPLICATE = 'duplicate of an earlier row';

/** Imports at least this large refresh the recipients table's planner statistics. */
const ANALYZE_AFTER_ROWS = 50_000;

/**
 * Streams checked rows into PostgreSQL without holding the list in memory: each chunk is copied (COPY)
 * into a session-private staging table and then moved into `recipients` set-based, in file order, so the
 * first of several rows with the same phone wins. Duplicates are found by the database's unique index
 * (campaign, phone); users who opted out are refused for marketing; every rejected row is stored with
 * its line and reason for `campaign rejections` and the report. On a server two connections take turns,
 * so reading and checking the file overlaps with the database's work.
 */
export async function importRecipients(
  db: Database,
  file: RecipientFile,
  options: ImportOptions,
): Promise<ImportResult> {
  const sessions = await openBulkSessions(db, LANES);
  if (!sessions) throw new Error('recipient import needs the postgres or PGlite driver underneath drizzle');
  const chunkRows =
    options.batchSize ?? (sessions[0]?.kind === 'pglite' ? EMBEDDED_CHUNK_ROWS : SERVER_CHUNK_ROWS);
  const stage = `import_stage_${randomBytes(6).toString('hex')}`;
  const totals = { read: 0, accepted: 0, rejected: 0 };
  const lanes = sessions.map((session) => ({ session, idle: Promise.resolve() }));
  let writer: CopyWriter | undefined;
  try {
    for (const { session } of lanes) {
      await session.query(
        `create temp table ${stage} (seq integer not null, phone text, params jsonb, timezone text,
           locale text, raw text not null, reason text)`,
      );
    }
    // Chunks are settled strictly in file order (each waits for the one before), whichever lane holds it.
    let settled: Promise<void> = Promise.resolve();
    let failure: Error | undefined;
    let lane = 0;
    let inChunk = 0;
    const closeChunk = async () => {
      const current = lanes[lane]!;
      const open = writer!;
      writer = undefined;
      inChunk = 0;
      await open.end();
      const read = totals.read;
      settled = settled.then(async () => {
        const { accepted, rejected } = await settleChunk(current.session, stage, options);
        totals.accepted += accepted;
        totals.rejected += rejected;
        options.onProgress?.({ read, accepted: totals.accepted, rejected: totals.rejected });
      });
      current.idle = settled.catch((err: unknown) => {
        failure ??= err instanceof Error ? err : new Error(String(err));
      });
      lane = (lane + 1) % lanes.length;
    };

    for await (const row of file.rows) {
      if (!writer) {
        await lanes[lane]!.idle;
        if (failure) throw failure;
        writer = await lanes[lane]!.session.copyIn(stage, STAGE_COLUMNS);
      }
      totals.read++;
      const wait = writer.row(stageValues(row, options.expectedParams));
      if (wait) await wait;
      if (++inChunk >= chunkRows) await closeChunk();
    }
    if (writer) await closeChunk();
    await settled;
    // A large list changes the table's make-up faster than autovacuum notices: fresh statistics keep the
    // sender's queries on the right indexes from its first batch.
    if (totals.accepted >= ANALYZE_AFTER_ROWS) await lanes[0]!.session.query('analyze recipients');
    return { accepted: totals.accepted, rejected: totals.rejected };
  } catch (err) {
    writer?.abort(err instanceof Error ? err : new Error(String(err)));
    throw err;
  } finally {
    // Wait for every lane before giving the connections back, then drop the stage (best effort: a
    // temporary table also goes with its session).
    await Promise.all(lanes.map((l) => l.idle));
    for (const { session } of lanes) {
      await session.query(`drop table if exists ${stage}`).catch(() => undefined);
      await session.release();
    }
  }
}

/**
 * Why a row is refused on its own (a bad phone, the wrong number of parameters), before duplicates and
 * opt-outs are looked at; undefined when it may go on. The import and `CampaignClient.plan` both ask this.
 */
export function rowProblem(row: RecipientRow, expectedParams: number): string | undefined {
  if (row.error) return row.error;
  if (row.params.length !== expectedParams) {
    return `template takes ${expectedParams} body parameters, row has ${row.params.length}`;
  }
  return undefined;
}

/** The staging row of one input row: its reason when it is refused outright. */
function stageValues(row: RecipientRow, expectedParams: number): CopyValue[] {
  const raw = row.raw.slice(0, 2_000);
  const reason = rowProblem(row, expectedParams);
  if (reason) return [row.line, null, null, null, null, raw, reason];
  return [
    row.line,
    row.phone ?? null,
    JSON.stringify(row.params),
    row.timezone ?? null,
    row.locale ?? null,
    raw,
    null,
  ];
}

/**
 * Moves one staged chunk into `recipients` and `rejected_rows`, then empties the stage. Rows are
 * inserted in line order with ON CONFLICT DO NOTHING, so a row is rejected as a duplicate exactly when
 * an earlier row (in this chunk, an earlier one, or already in the campaign) has its phone.
 */
async function settleChunk(
  session: BulkSession,
  stage: string,
  options: ImportOptions,
): Promise<{ accepted: number; rejected: number }> {
  if (options.dropSuppressed) {
    await session.query(
      `update ${stage} s set reason = $1 from suppressions x where x.phone = s.phone and s.reason is null`,
      [OPTED_OUT],
    );
  }
  const [counts] = await session.query<{ accepted: unknown; rejected: unknown }>(
    `with ins as (
       insert into recipients (campaign_id, seq, phone, params, timezone, locale)
       select $1, s.seq, s.phone, s.params, s.timezone, s.locale from ${stage} s
       where s.reason is null order by s.seq
       on conflict do nothing
       returning seq
     ), rej as (
       insert into rejected_rows (campaign_id, line, input, reason)
       select $1, s.seq, s.raw, coalesce(s.reason, $2) from ${stage} s
       where s.reason is not null or not exists (select 1 from ins where ins.seq = s.seq)
       on conflict do nothing
       returning line
     )
     select (select count(*) from ins) as accepted, (select count(*) from rej) as rejected`,
    [options.campaignId, DUPLICATE],
  );
  await session.query(`truncate ${stage}`);
  return { accepted: num(counts?.accepted ?? 0), rejected: num(counts?.rejected ?? 0) };
}

/** The phones among `phones` that opted out of marketing. */
export async function suppressedAmong(db: Database, phones: string[]): Promise<Set<string>> {
  const rows = await queryRows<{ phone: string }>(
    db,
    sql`select phone from ${suppressions} where phone in ${textList(phones)}`,
  );
  return new Set(rows.map((r) => r.phone));
}

/** The first `limit` rejected rows of a campaign, in file order. */
export async function listRejections(db: Database, campaignId: string, limit = 1_000): Promise<Rejection[]> {
  return queryRows<Rejection>(
    db,
    sql`select line, input, reason from ${rejectedRows} where campaign_id = ${campaignId} order by line limit ${limit}`,
  );
}
