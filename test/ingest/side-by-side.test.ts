import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type DatabaseHandle } from '../../src/db/client';
import { num, queryRows } from '../../src/db/query';
import { sideBySide } from '../../src/ingest/store/db-errors';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres';

/** An error shaped as drizzle throws it: the driver's error, with its SQLSTATE, as the cause. */
function wrapped(code: string): Error {
  return new Error(`Failed query`, { cause: Object.assign(new Error(`state ${code}`), { code }) });
}

describe('statements side by side on one transaction', () => {
  it('gives every result, in order', async () => {
    await expect(sideBySide(Promise.resolve(1), Promise.resolve('two'))).resolves.toEqual([1, 'two']);
  });

  it('fails only once every statement has settled', async () => {
    let slowSettled = false;
    const slow = new Promise<number>((resolve) =>
      setTimeout(() => {
        slowSettled = true;
        resolve(1);
      }, 30),
    );
    await expect(sideBySide(Promise.reject(wrapped('22012')), slow)).rejects.toThrow('Failed query');
    expect(slowSettled).toBe(true);
  });

  it('fails with the error that broke the transaction, not the aborted-transaction errors after it', async () => {
    const deadlock = wrapped('40P01');
    // The aborted statement settles first, as a shorter chain of statements would.
    const failure = await sideBySide(Promise.reject(wrapped('25P02')), Promise.reject(deadlock)).catch(
      (err: unknown) => err,
    );
    expect(failure).toBe(deadlock);
  });

  describe('on a PostgreSQL server', () => {
    let server: TestDatabase;
    let handle: DatabaseHandle;
    beforeAll(async () => {
      server = await createTestDatabase('side_by_side');
      handle = await openDatabase({ url: server.url, maxConnections: 2, prepare: true });
      await handle.db.execute(sql`create table probe (n int)`);
    });
    afterAll(async () => {
      await handle?.close();
      await server?.drop();
    });

    it('rolls everything back when one statement fails, and reports that statement', async () => {
      const failure = await handle.db
        .transaction(async (tx) => {
          await tx.execute(sql`insert into probe values (1)`);
          await sideBySide(
            (async () => {
              await tx.execute(sql`select pg_sleep(0.05)`);
              // Issued after the other statement has failed: it must not escape the transaction.
              await tx.execute(sql`insert into probe values (2)`);
            })(),
            queryRows(tx, sql`select 1 / (select count(*) - 1 from probe) as boom`),
          );
        })
        .catch((err: unknown) => err);
      expect(String((failure as Error).cause ?? failure)).toMatch(/division by zero/);
      await new Promise((resolve) => setTimeout(resolve, 100));
      const [row] = await queryRows<{ n: unknown }>(handle.db, sql`select count(*) as n from probe`);
      expect(num(row?.n)).toBe(0);
    });
  });
});
