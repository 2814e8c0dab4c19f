import { openDatabase, type DatabaseHandle } from '../../src/db/client';
import { createTestDatabase } from './postgres';

export type DatabaseKindUnderTest = 'pglite' | 'postgres';

/** Both kinds the product runs on: the embedded default and a real PostgreSQL server. */
export const DATABASE_KINDS: readonly DatabaseKindUnderTest[] = ['pglite', 'postgres'];

export interface TestDatabaseOptions {
  /**
   * The PostgreSQL server to create the database on; by default TEST_DATABASE_URL or the server the
   * global set-up started. Ignored for PGlite.
   */
  adminUrl?: string;
  /** Part of the server database's name (`wa_<label>_<random>`), to tell whose it is. */
  label?: string;
}

/**
 * A fresh, migrated database of the given kind: PGlite in memory, or a new database on a PostgreSQL
 * server; `close` also drops a server database.
 */
export async function openTestDatabase(
  kind: DatabaseKindUnderTest,
  options: TestDatabaseOptions = {},
): Promise<DatabaseHandle> {
  if (kind === 'pglite') return openDatabase({ dataDir: 'memory://' });
  const created = await createTestDatabase(
    options.label ?? kind,
    options.adminUrl ? { adminUrl: options.adminUrl } : {},
  );
  const handle = await openDatabase({ url: created.url, maxConnections: 8 });
  return {
    ...handle,
    close: async () => {
      await handle.close();
      await created.drop();
    },
  };
}
