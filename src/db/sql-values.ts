import { sql, type SQL } from 'drizzle-orm';

/**
 * Parameters for raw SQL that every driver reads the same way. A Date handed to the postgres driver
 * through drizzle's raw `sql` is not serialised as a time, so times go as ISO text with a cast.
 */
export function timestamp(value: Date | null | undefined): SQL {
  return value ? sql`${value.toISOString()}::timestamptz` : sql`null::timestamptz`;
}

/** A JSON value as jsonb; undefined becomes SQL null. */
export function jsonb(value: unknown): SQL {
  return value === undefined ? sql`null::jsonb` : sql`${JSON.stringify(value)}::jsonb`;
}

/**
 * Many rows as one parameter: a subquery over `jsonb_to_recordset($1)`. One JSON document instead of a
 * parameter per value costs the service and the driver far less than thousands of parameters, and the
 * statement text stays constant, so the server prepares it once per connection. `columns` is fixed SQL
 * text such as `id bigint, at timestamptz`.
 *
 * The planner guesses 100 rows for a set-returning function and may then join by scanning a whole
 * table. The row count goes as a LIMIT parameter: a custom plan then assumes no more rows than the batch
 * holds (at most 100), a generic plan a tenth of that, and either way joins use the indexes, without a
 * statement text per batch size.
 */
export function recordset(items: readonly object[], alias: string, columns: string): SQL {
  return sql`(select * from jsonb_to_recordset(${JSON.stringify(items)}::jsonb) as r(${sql.raw(columns)})
              limit ${items.length}::int) as ${sql.raw(alias)}`;
}

/**
 * A list of texts as one parameter, for `x in ${textList(values)}`: the statement text stays the same
 * whatever the list's length (see {@link recordset}; the LIMIT tells the planner its size).
 */
export function textList(values: readonly string[]): SQL {
  return sql`(select value from jsonb_array_elements_text(${JSON.stringify(values)}::jsonb)
              limit ${values.length}::int)`;
}

/**
 * Whole numbers as one array parameter, for `x = any(${intArray(values)})`, which the planner turns into
 * index look-ups of exactly these values (an `in (subquery)` may instead scan every row of a campaign
 * and join).
 */
export function intArray(values: readonly number[]): SQL {
  for (const v of values) if (!Number.isSafeInteger(v)) throw new Error(`not a whole number: ${v}`);
  return sql`${`{${values.join(',')}}`}::int[]`;
}
