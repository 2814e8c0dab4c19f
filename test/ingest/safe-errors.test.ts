/**
 * A failed query's parameters (phone numbers, message texts, an SMS with its verification code) never
 * reach logs, the archive's `error` column or an HTTP answer: drizzle puts them in its error's message.
 */
import { Writable } from 'node:stream';
import { sql } from 'drizzle-orm';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApplicationFailure } from '@temporalio/common';
import { logSerializers } from '../../src/shared/logger';
import { activityErrorsWithoutQueryData } from '../../src/worker/interceptors';
import { safeErrorText, withoutQueryParams } from '../../src/shared/safe-error';
import { inboundChange, platformMessage } from './helpers/events';
import { startHarness, type Harness } from './helpers/harness';

const SECRET = 'Your code is 482916';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h.close();
});

async function failedQuery(): Promise<Error> {
  try {
    await h.db.execute(sql`select ${SECRET}::int as n`);
  } catch (err) {
    return err as Error;
  }
  throw new Error('the query was expected to fail');
}

function capture(): { logger: pino.Logger; lines: string[] } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  return { logger: pino({ serializers: logSerializers }, stream), lines };
}

describe('errors of failed queries', () => {
  it('are told by their cause and statement, without the parameters', async () => {
    const err = await failedQuery();
    // What drizzle itself says: the parameters are in the message.
    expect(err.message).toContain('482916');
    const text = safeErrorText(err);
    expect(text).not.toContain('482916');
    expect(text).toMatch(/invalid input syntax for type integer/);
    expect(text).toContain('[22P02]');
    expect(text).toContain('(in: select $1::int as n)');
    expect((withoutQueryParams(err) as { code?: string }).code).toBe('22P02');
    // Other errors are left alone.
    const plain = new Error('plain');
    expect(withoutQueryParams(plain)).toBe(plain);
    expect(safeErrorText('text')).toBe('text');
  });

  it('are logged without the parameters, also as the cause of another error', async () => {
    const err = await failedQuery();
    const { logger, lines } = capture();
    logger.warn({ err }, 'database trouble');
    logger.warn({ error: new Error('activity failed', { cause: err }) }, 'Activity failed');
    expect(lines).toHaveLength(2);
    for (const line of lines) {
      expect(line).not.toContain('482916');
      expect(line).toContain('22P02');
    }
    expect(JSON.parse(lines[1]!)).toMatchObject({
      error: { message: expect.stringContaining('activity failed') },
    });
  });

  it('fail an activity without the parameters; failures raised on purpose pass as they are', async () => {
    const { inbound } = activityErrorsWithoutQueryData(
      {} as Parameters<typeof activityErrorsWithoutQueryData>[0],
    );
    const execute = (next: () => Promise<unknown>) => inbound!.execute!({ args: [], headers: {} }, next);
    const err = await failedQuery();
    const thrown = (await execute(() => Promise.reject(err)).catch((e: unknown) => e)) as Error;
    expect(thrown.message).not.toContain('482916');
    expect(thrown.message).toContain('[22P02]');
    const deliberate = ApplicationFailure.nonRetryable('campaign is not in the database');
    await expect(execute(() => Promise.reject(deliberate))).rejects.toBe(deliberate);
    await expect(execute(() => Promise.resolve(42))).resolves.toBe(42);
  });

  it('are archived and answered without the parameters when an event cannot be applied', async () => {
    // Every inbound message now breaks a rule of the table: the event fails on its data, not the connection.
    await h.db.execute(
      sql.raw(`alter table inbound_messages add constraint inbound_refused check (phone = 'nobody')`),
    );
    try {
      const phone = '447700955123';
      const reply = await h.notify(
        platformMessage([inboundChange({ from: phone, id: 'wamid.in.secret', text: SECRET })]),
      );
      expect(reply.status).toBe(200);
      expect(reply.body.outcome).toBe('failed');
      expect(reply.body.detail).toContain('23514');
      expect(reply.body.detail).not.toContain(phone);
      const [row] = await h.rows<{ error: string }>(
        sql`select error from events_raw where outcome = 'failed' order by id desc limit 1`,
      );
      expect(row?.error).toMatch(/inbound_refused/);
      expect(row?.error).not.toContain(phone);
      expect(row?.error).not.toContain('482916');
    } finally {
      await h.db.execute(sql.raw(`alter table inbound_messages drop constraint inbound_refused`));
    }
  });
});
