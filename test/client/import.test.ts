import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DatabaseHandle } from '../../src/db/client';
import { DATABASE_KINDS, openTestDatabase } from '../helpers/databases';
import { recipients, suppressions } from '../../src/db/schema';
import { importRecipients, listRejections } from '../../src/client/import';
import { openRecipientFile, RecipientFileError } from '../../src/client/recipients';
import { eq } from 'drizzle-orm';

describe.each(DATABASE_KINDS)('%s', (kind) => {
  let handle: DatabaseHandle;
  const dir = mkdtempSync(path.join(tmpdir(), 'wa-import-'));
  const write = (name: string, text: string) => {
    const file = path.join(dir, name);
    writeFileSync(file, text);
    return file;
  };

  beforeAll(async () => {
    handle = await openTestDatabase(kind);
    await handle.db.insert(suppressions).values({ phone: '+4930901821', reason: 'stop', source: 'test' });
  });
  afterAll(async () => {
    await handle.close();
  });

  describe('recipient import', () => {
    it('accepts good rows and lists every rejected row with its reason', async () => {
      const file = write(
        'list.csv',
        [
          'phone,name,order,timezone',
          '+4930901820,Ada,A1,Europe/Berlin',
          '+4930901820,Ada again,A2,Europe/Berlin',
          'not-a-phone,Bob,B1,',
          '+4930901821,Suppressed,C1,',
          '+442079460958,Cy,,',
          '+442079460959,Di,D1,Mars/Olympus',
          '+442079460960,Ed,E1',
          '+14155552671,"Fay, Jr.",F1,America/Los_Angeles',
        ].join('\n'),
      );
      const parsed = await openRecipientFile(file);
      expect(parsed.parameterColumns).toEqual(['name', 'order']);
      const result = await importRecipients(handle.db, parsed, {
        campaignId: 'c-import',
        expectedParams: 2,
        dropSuppressed: true,
        batchSize: 3,
      });
      expect(result).toEqual({ accepted: 2, rejected: 6 });
      const rows = await handle.db.select().from(recipients).where(eq(recipients.campaignId, 'c-import'));
      expect(rows.map((r) => [r.seq, r.phone, r.params, r.timezone]).sort()).toEqual([
        [2, '+4930901820', ['Ada', 'A1'], 'Europe/Berlin'],
        [9, '+14155552671', ['Fay, Jr.', 'F1'], 'America/Los_Angeles'],
      ]);
      const rejections = await listRejections(handle.db, 'c-import');
      expect(rejections.map((r) => [r.line, r.reason])).toEqual([
        [3, 'duplicate of an earlier row'],
        [4, expect.stringMatching(/international prefix/)],
        [5, 'opted out of marketing'],
        [6, 'parameter "order" is empty'],
        [7, expect.stringMatching(/unknown time zone/)],
        [8, 'expected 4 columns, found 3'],
      ]);
      expect(rejections[0]!.input).toBe('+4930901820,Ada again,A2,Europe/Berlin');
    });

    it('reads JSONL with named fields or a params array', async () => {
      const file = write(
        'list.jsonl',
        [
          '{"phone":"+4930901830","params":["x"]}',
          '',
          '{"phone":"+4930901831","params":["y"],"timezone":"UTC"}',
          '{not json',
          '["array"]',
        ].join('\n'),
      );
      const result = await importRecipients(handle.db, await openRecipientFile(file), {
        campaignId: 'c-jsonl',
        expectedParams: 1,
        dropSuppressed: false,
      });
      expect(result).toEqual({ accepted: 2, rejected: 2 });
      const reasons = (await listRejections(handle.db, 'c-jsonl')).map((r) => [r.line, r.reason]);
      expect(reasons).toEqual([
        [4, 'not valid JSON'],
        [5, expect.stringMatching(/JSON object/)],
      ]);
    });

    it('refuses files it cannot read, saying what to fix', async () => {
      await expect(openRecipientFile(write('x.txt', 'phone\n'))).rejects.toThrow(/\.csv or \.jsonl/);
      await expect(openRecipientFile(write('bad.csv', 'number,name\n+1,a\n'))).rejects.toThrow(
        /start with "phone"/,
      );
      await expect(openRecipientFile(write('empty.csv', ''))).rejects.toBeInstanceOf(RecipientFileError);
      await expect(openRecipientFile(path.join(dir, 'missing.csv'))).rejects.toThrow(
        /missing\.csv: no such file/,
      );
      const folder = path.join(dir, 'folder.csv');
      mkdirSync(folder, { recursive: true });
      await expect(openRecipientFile(folder)).rejects.toThrow(/folder\.csv: is a directory/);
      await expect(
        openRecipientFile(write('twice.csv', 'phone,name,Phone\n+4930901820,a,b\n')),
      ).rejects.toThrow(/column "Phone" appears twice in the header \(columns 1 and 3\)/);
    });

    it('takes a default country in any case and refuses one that is no country, naming the setting', async () => {
      const file = write('national.csv', 'phone,name\n030 901820,Ada\n');
      for (const country of ['de', 'DE']) {
        const opened = await openRecipientFile(file, { defaultCountry: country });
        const rows = [];
        for await (const row of opened.rows) rows.push(row);
        expect(rows.map((r) => r.phone)).toEqual(['+4930901820']);
      }
      for (const country of ['XX', 'germany']) {
        await expect(openRecipientFile(file, { defaultCountry: country })).rejects.toThrow(
          new RegExp(`default country "${country}" is not a country code`),
        );
      }
    });
  });
});
