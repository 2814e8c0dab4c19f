import { sql } from 'drizzle-orm';
import type { Database } from '../db/client';
import { queryRows } from '../db/query';
import { recipients, rejectedRows, suppressions } from '../db/schema';
import type { RecipientFile, RecipientRow } from './recipients';

export interface ImportOptions {
  campaignId: string;
  /** Body parameters the template takes; every accepted row carries exactly this many. */
  expectedParams: number;
  /** Marketing campaigns drop users who opted out. */
  dropSuppressed: boolean;
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

/**
 * Streams checked rows into PostgreSQL in batches. Duplicates are found by the database's unique index
 * (campaign, phone), so memory stays flat however long the list is. Rejected rows are stored with their
 * reason for `campaign rejections` and the report.
 */
export async function importRecipients(
  db: Database,
  file: RecipientFile,
  options: ImportOptions,
): Promise<ImportResult> {
  const batchSize = options.batchSize ?? 2_000;
  let batch: RecipientRow[] = [];
  let read = 0;
  let accepted = 0;
  let rejected = 0;

  const flush = async () => {
    if (batch.length === 0) return;
    const rows = batch;
    batch = [];
    const refusals: Rejection[] = [];
    let candidates: RecipientRow[] = [];
    for (const row of rows) {
      if (row.error) refusals.push({ line: row.line, input: row.raw, reason: row.error });
      else if (row.params.length !== options.expectedParams) {
        refusals.push({
          line: row.line,
          input: row.raw,
          reason: `template takes ${options.expectedParams} body parameters, row has ${row.params.length}`,
        });
      } else candidates.push(row);
    }
    if (options.dropSuppressed && candidates.length > 0) {
      const stopped = await suppressedAmong(
        db,
        candidates.map((r) => r.phone!),
      );
      if (stopped.size > 0) {
        for (const row of candidates) {
          if (stopped.has(row.phone!))
            refusals.push({ line: row.line, input: row.raw, reason: 'opted out of marketing' });
        }
        candidates = candidates.filter((r) => !stopped.has(r.phone!));
      }
    }
    if (candidates.length > 0) {
      const inserted = await db
        .insert(recipients)
        .values(
          candidates.map((r) => ({
            campaignId: options.campaignId,
            seq: r.line,
            phone: r.phone!,
            params: r.params,
            timezone: r.timezone ?? null,
            locale: r.locale ?? null,
          })),
        )
        .onConflictDoNothing()
        .returning({ seq: recipients.seq });
      const kept = new Set(inserted.map((r) => r.seq));
      for (const row of candidates) {
        if (!kept.has(row.line))
          refusals.push({ line: row.line, input: row.raw, reason: 'duplicate of an earlier row' });
      }
      accepted += kept.size;
    }
    if (refusals.length > 0) {
      await db
        .insert(rejectedRows)
        .values(
          refusals.map((r) => ({ campaignId: options.campaignId, ...r, input: r.input.slice(0, 2_000) })),
        )
        .onConflictDoNothing();
      rejected += refusals.length;
    }
    options.onProgress?.({ read, accepted, rejected });
  };

  for await (const row of file.rows) {
    read++;
    batch.push(row);
    if (batch.length >= batchSize) await flush();
  }
  await flush();
  return { accepted, rejected };
}

/** The phones among `phones` that opted out of marketing. */
export async function suppressedAmong(db: Database, phones: string[]): Promise<Set<string>> {
  const list = sql.join(
    phones.map((p) => sql`${p}`),
    sql`, `,
  );
  const rows = await queryRows<{ phone: string }>(
    db,
    sql`select phone from ${suppressions} where phone in (${list})`,
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
