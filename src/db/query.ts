import { sql, type SQL } from 'drizzle-orm';
import type { Database } from './client';

/**
 * Runs raw SQL and returns its rows. The postgres driver answers with an array and PGlite with
 * `{ rows }`; callers should not care which database is underneath.
 */
export async function queryRows<T>(db: Pick<Database, 'execute'>, statement: SQL): Promise<T[]> {
  const result: unknown = await db.execute(statement);
  if (Array.isArray(result)) return result as T[];
  return (result as { rows?: T[] }).rows ?? [];
}

/** Numbers come back as strings from some drivers (bigint, numeric, count): read them as numbers. */
export function num(value: unknown): number {
  if (typeof value === 'number') return value;
  if (typeof value === 'bigint') return Number(value);
  if (typeof value === 'string') return Number(value);
  return Number.NaN;
}

/** Timestamps come back as Date or string depending on the driver and query. */
export function toMs(value: unknown): number | undefined {
  if (value === null || value === undefined) return undefined;
  if (value instanceof Date) return value.getTime();
  const ms = new Date(value as string).getTime();
  return Number.isNaN(ms) ? undefined : ms;
}

/**
 * A timestamp parameter for raw SQL. Passed as ISO text with a cast: the postgres driver refuses Date
 * objects in raw statements inside transactions, and PGlite takes either.
 */
export function ts(value: Date | number | null | undefined): SQL {
  if (value === null || value === undefined) return sql`null::timestamptz`;
  return sql`${new Date(value).toISOString()}::timestamptz`;
}
