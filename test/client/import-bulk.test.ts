/**
 * The COPY-based import path (src/db/copy.ts + src/client/import.ts) on both databases: awkward values
 * survive COPY's text format, duplicates across chunk boundaries keep the earliest line, the staging
 * table goes away, and a failing input leaves the connections usable.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { asc, eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importRecipients, listRejections } from '../../src/client/import';
import { openRecipientFile, type RecipientFile, type RecipientRow } from '../../src/client/recipients';
import type { DatabaseHandle } from '../../src/db/client';
import { copyText } from '../../src/db/copy';
import { num, queryRows } from '../../src/db/query';
import { recipients, suppressions } from '../../src/db/schema';
import { DATABASE_KINDS, openTestDatabase } from '../helpers/databases';

describe('COPY text format', () => {
  it('escapes what COPY would misread and drops NUL', () => {
    expect(copyText(null)).toBe('\\N');
    expect(copyText(42)).toBe('42');
    expect(copyText('plain')).toBe('plain');
    expect(copyText('a\tb\nc\rd\\e\0f')).toBe('a\\tb\\nc\\rd\\\\ef');
  });
});

describe.each(DATABASE_KINDS)('bulk import on %s', (kind) => {
  let handle: DatabaseHandle;
  const dir = mkdtempSync(path.join(tmpdir(), 'wa-import-bulk-'));

  beforeAll(async () => {
    handle = await openTestDatabase(kind);
    await handle.db.insert(suppressions).values({ phone: '+4930901899', reason: 'stop', source: 'test' });
  });
  afterAll(async () => {
    await handle.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('keeps awkward parameter values exactly', async () => {
    const awkward = ['tab\there', 'back\\slash', 'quote " and \'', 'new\nline', 'ünïcødé ✓', '\\N'];
    const file = path.join(dir, 'awkward.jsonl');
    writeFileSync(
      file,
      awkward.map((p, i) => JSON.stringify({ phone: `+49309018${30 + i}`, params: [p] })).join('\n'),
    );
    const result = await importRecipients(handle.db, await openRecipientFile(file), {
      campaignId: 'c-awkward',
      expectedParams: 1,
      dropSuppressed: false,
    });
    expect(result).toEqual({ accepted: awkward.length, rejected: 0 });
    const rows = await handle.db
      .select({ params: recipients.params })
      .from(recipients)
      .where(eq(recipients.campaignId, 'c-awkward'))
      .orderBy(asc(recipients.seq));
    expect(rows.map((r) => r.params[0])).toEqual(awkward);
  });

  it('keeps the earliest of several rows with one phone across chunks, and reports progress', async () => {
    const lines = ['phone,code'];
    for (let i = 0; i < 10; i++) lines.push(`+49309018${50 + (i % 4)},c${i}`);
    lines.push('+4930901899,suppressed', '+4930901899,suppressed again', 'nonsense,x');
    const file = path.join(dir, 'dups.csv');
    writeFileSync(file, lines.join('\n'));
    const progress: number[] = [];
    const result = await importRecipients(handle.db, await openRecipientFile(file), {
      campaignId: 'c-dups',
      expectedParams: 1,
      dropSuppressed: true,
      batchSize: 3,
      onProgress: (p) => progress.push(p.read),
    });
    expect(result).toEqual({ accepted: 4, rejected: 9 });
    expect(progress).toEqual([3, 6, 9, 12, 13]);
    const kept = await handle.db
      .select({ seq: recipients.seq, params: recipients.params })
      .from(recipients)
      .where(eq(recipients.campaignId, 'c-dups'))
      .orderBy(asc(recipients.seq));
    expect(kept).toEqual([2, 3, 4, 5].map((seq) => ({ seq, params: [`c${seq - 2}`] })));
    const rejections = await listRejections(handle.db, 'c-dups');
    expect(rejections.map((r) => [r.line, r.reason])).toEqual([
      ...[6, 7, 8, 9, 10, 11].map((line) => [line, 'duplicate of an earlier row']),
      [12, 'opted out of marketing'],
      [13, 'opted out of marketing'],
      [14, expect.stringMatching(/international prefix/)],
    ]);
    expect(await stagingTables(handle)).toBe(0);
  });

  it('gives its connections back when the input fails half way, and the next import works', async () => {
    async function* failing(): AsyncGenerator<RecipientRow> {
      yield { line: 1, raw: '+4930901870', phone: '+4930901870', params: [] };
      yield { line: 2, raw: '+4930901871', phone: '+4930901871', params: [] };
      await Promise.resolve();
      throw new Error('disk on fire');
    }
    const broken: RecipientFile = { format: 'csv', parameterColumns: [], rows: failing() };
    await expect(
      importRecipients(handle.db, broken, {
        campaignId: 'c-broken',
        expectedParams: 0,
        dropSuppressed: false,
        batchSize: 1,
      }),
    ).rejects.toThrow('disk on fire');
    expect(await stagingTables(handle)).toBe(0);
    const file = path.join(dir, 'after.csv');
    writeFileSync(file, 'phone\n+4930901872\n');
    const result = await importRecipients(handle.db, await openRecipientFile(file), {
      campaignId: 'c-after',
      expectedParams: 0,
      dropSuppressed: false,
    });
    expect(result).toEqual({ accepted: 1, rejected: 0 });
  });
});

async function stagingTables(handle: DatabaseHandle): Promise<number> {
  const [row] = await queryRows<{ n: unknown }>(
    handle.db,
    sql`select count(*) as n from pg_class where relname like 'import_stage_%'`,
  );
  return num(row?.n ?? 0);
}
