import { openDatabase, type DatabaseHandle } from '../../src/db/client';
import { createTestDatabase } from './postgres';

export type DatabaseKindUnderTest = 'pglite' | 'postgres';

/** Both kinds the product runs on: the embedded default and a real PostgreSQL server. */
export const DATABASE_KINDS: readonly DatabaseKindUnderTest[] = ['pglite', 'postgres'];

/** A fresh, migrated database of the given kind; `close` also drops a server database. */
export async function openTestDatabase(kind: DatabaseKindUnderTest): Promise<DatabaseHandle> {
  if (kind === 'pglite') return openDatabase({ dataDir: 'memory://' });
  const created = await createTestDatabase(kind);
  const handle = await openDatabase({ url: created.url, maxConnections: 8 });
  return {
    ...handle,
    close: async () => {
      await handle.close();
      await created.drop();
    },
  };
}
