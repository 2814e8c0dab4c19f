import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type DatabaseHandle } from '../../src/db/client';
import { num, queryRows } from '../../src/db/query';
import { loadConfig } from '../../src/shared/config';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres';

/** Named statements the pool's single connection holds whose text contains `marker`. */
async function preparedOn(handle: DatabaseHandle, marker: string): Promise<number> {
  const [row] = await queryRows<{ n: unknown }>(
    handle.db,
    sql`select count(*) as n from pg_prepared_statements where statement like ${`%${marker}%`} and statement not like '%pg_prepared_statements%'`,
  );
  return num(row?.n);
}

describe('prepared statements on a PostgreSQL server', () => {
  let server: TestDatabase;
  const handles: DatabaseHandle[] = [];

  beforeAll(async () => {
    server = await createTestDatabase('prepared');
  });
  afterAll(async () => {
    for (const handle of handles) await handle.close();
    await server?.drop();
  });

  async function open(prepare: boolean): Promise<DatabaseHandle> {
    // One connection, so pg_prepared_statements (per session) sees everything the pool prepared.
    const handle = await openDatabase({ url: server.url, maxConnections: 1, prepare });
    handles.push(handle);
    return handle;
  }

  it('prepares a statement once and reuses it, in and out of (nested) transactions, when the pool asks for it', async () => {
    const handle = await open(true);
    for (let i = 0; i < 3; i++) {
      const rows = await queryRows<{ v: number }>(
        handle.db,
        sql`select ${i}::int + 1 as v /* marker_outside */`,
      );
      expect(rows[0]?.v).toBe(i + 1);
    }
    for (let i = 0; i < 3; i++) {
      await handle.db.transaction(async (tx) => {
        const rows = await queryRows<{ v: number }>(tx, sql`select ${i}::int * 2 as v /* marker_inside */`);
        expect(rows[0]?.v).toBe(i * 2);
      });
    }
    for (let i = 0; i < 2; i++) {
      await handle.db.transaction((tx) =>
        tx.transaction(async (nested) => {
          const rows = await queryRows<{ v: number }>(
            nested,
            sql`select ${i}::int - 1 as v /* marker_nested */`,
          );
          expect(rows[0]?.v).toBe(i - 1);
        }),
      );
    }
    // drizzle asks the driver not to prepare raw statements; without the pool's view they would be 0.
    expect(await preparedOn(handle, 'marker_outside')).toBe(1);
    expect(await preparedOn(handle, 'marker_inside')).toBe(1);
    expect(await preparedOn(handle, 'marker_nested')).toBe(1);
  });

  it('prepares nothing when told not to (WA_DB_PREPARE=false, for poolers that cannot carry them)', async () => {
    const handle = await open(false);
    for (let i = 0; i < 2; i++) {
      await queryRows(handle.db, sql`select ${i}::int as v /* marker_unprepared */`);
    }
    expect(await preparedOn(handle, 'marker_unprepared')).toBe(0);
  });
});

describe('WA_DB_PREPARE', () => {
  it('is on unless turned off, and names the values it takes when it is wrong', () => {
    expect(loadConfig({}).WA_DB_PREPARE).toBe(true);
    expect(loadConfig({ WA_DB_PREPARE: 'false' }).WA_DB_PREPARE).toBe(false);
    expect(loadConfig({ WA_DB_PREPARE: 'off' }).WA_DB_PREPARE).toBe(false);
    expect(loadConfig({ WA_DB_PREPARE: '1' }).WA_DB_PREPARE).toBe(true);
    expect(() => loadConfig({ WA_DB_PREPARE: 'maybe' })).toThrow(/WA_DB_PREPARE: must be true or false/);
  });
});
