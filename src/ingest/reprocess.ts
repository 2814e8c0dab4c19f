import { sql } from 'drizzle-orm';
import type { Database } from '../db/client';
import { num, queryRows } from '../db/query';
import { OptOutKeywords } from './apply/keywords';
import { asObject } from './events/shape';
import { parsePlatformMessage } from './events/platform-message';
import { isTransientDbError } from './store/db-errors';
import { applyArchived } from './store/store-events';
import { safeErrorText } from '../shared/safe-error';

export interface ReprocessOptions {
  db: Database;
  /** Which archived events to apply again (default: those that failed to apply). */
  outcome?: 'failed' | 'unrecognized';
  keywords?: OptOutKeywords;
  /** Queue workflow signals for the events (deliver them with a running ingest service). */
  signals?: boolean;
  limit?: number;
  now?: () => number;
}

export interface ReprocessResult {
  examined: number;
  applied: number;
  stillFailing: number;
}

/**
 * Applies archived events again, each in its own transaction, e.g. after fixing what made them fail.
 * Applying is idempotent (statuses once per message and status, inbound messages once per id), so an
 * event that was partly reflected elsewhere changes nothing twice. Signals go to the outbox, which a
 * running ingest service delivers.
 */
export async function reprocessEvents(options: ReprocessOptions): Promise<ReprocessResult> {
  const outcome = options.outcome ?? 'failed';
  const deps = {
    keywords: options.keywords ?? new OptOutKeywords(),
    now: options.now ?? Date.now,
    signals: options.signals ?? true,
  };
  const rows = await queryRows<{ id: unknown; body: unknown }>(
    options.db,
    sql`select id, body from events_raw where outcome = ${outcome} order by id limit ${options.limit ?? 10_000}`,
  );
  const result: ReprocessResult = { examined: rows.length, applied: 0, stillFailing: 0 };
  for (const row of rows) {
    const id = num(row.id);
    const body = asObject(typeof row.body === 'string' ? (JSON.parse(row.body) as unknown) : row.body);
    try {
      const message = parsePlatformMessage(body?.Message);
      await options.db.transaction(async (tx) => {
        await applyArchived(deps, tx, id, message, outcome);
      });
      result.applied++;
    } catch (err) {
      // With the database gone there is nothing to record the failure in: stop and say so.
      if (isTransientDbError(err)) throw err;
      result.stillFailing++;
      const reason = safeErrorText(err);
      await options.db.execute(
        sql`update events_raw set error = ${`re-processing failed: ${reason}`.slice(0, 2000)} where id = ${id}`,
      );
    }
  }
  return result;
}
