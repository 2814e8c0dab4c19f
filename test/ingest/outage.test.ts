import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Database } from '../../src/db/client';
import { reprocessEvents } from '../../src/ingest/reprocess';
import { platformMessage, statusChange } from './helpers/events';
import { recipient, seedCampaign, setRecipient, startHarness, type Harness } from './helpers/harness';

/**
 * Fault injection in front of the database the service uses. `down`: every call fails as a refused
 * connection would. `midway`: the transaction's second statement fails that way (the server went away
 * mid-transaction). `poison`: the second statement fails with an error about the data, not the connection.
 */
const fault = { down: false, midway: false, poison: false };

function connectionRefused(): Error {
  return Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
}

function withFaults(db: Database): Database {
  const wrapTx = (tx: object): object => {
    let statements = 0;
    return new Proxy(tx, {
      get(target, prop) {
        const value = Reflect.get(target, prop, target) as unknown;
        if (prop !== 'execute' || typeof value !== 'function') return value;
        return (...args: unknown[]) => {
          statements++;
          if (statements === 2 && fault.midway) return Promise.reject(connectionRefused());
          if (statements === 2 && fault.poison)
            return Promise.reject(new Error('invalid input syntax for type json'));
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        };
      },
    });
  };
  return new Proxy(db, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target) as unknown;
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        if (fault.down) return Promise.reject(connectionRefused());
        if (prop === 'transaction') {
          const [fn, ...rest] = args as [(tx: object) => Promise<unknown>, ...unknown[]];
          return (value as (...a: unknown[]) => unknown).apply(target, [
            (tx: object) => fn(wrapTx(tx)),
            ...rest,
          ]);
        }
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
}

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ wrapDb: withFaults });
  await seedCampaign(h.db, {
    id: 'outage',
    phones: Array.from({ length: 20 }, (_, i) => `+4477009100${String(i).padStart(2, '0')}`),
  });
  for (let seq = 0; seq < 20; seq++)
    await setRecipient(h.db, 'outage', seq, { state: 'sent', messageId: `wamid.o.${seq}` });
});
afterAll(async () => {
  await h.close();
});
beforeEach(() => {
  Object.assign(fault, { down: false, midway: false, poison: false });
});

describe('database outage', () => {
  it('answers 5xx while the database is down; redeliveries afterwards are applied and nothing is lost', async () => {
    const bodies = Array.from({ length: 20 }, (_, seq) =>
      h.build(platformMessage([statusChange({ id: `wamid.o.${seq}`, status: 'delivered' })])),
    );
    fault.down = true;
    const during = await Promise.all(bodies.map((b) => h.post(b)));
    expect(during.map((r) => r.status)).toEqual(Array(20).fill(503));
    const health = await fetch(h.url.replace('/sns', '/healthz'));
    expect(health.status).toBe(503);

    fault.down = false;
    expect((await fetch(h.url.replace('/sns', '/healthz'))).status).toBe(200);
    // SNS delivers the same messages again.
    const after = await Promise.all(bodies.map((b) => h.post(b)));
    expect(after.map((r) => r.status)).toEqual(Array(20).fill(200));
    expect(new Set(after.map((r) => r.body.outcome))).toEqual(new Set(['applied']));
    for (let seq = 0; seq < 20; seq++) expect((await recipient(h.db, 'outage', seq)).state).toBe('delivered');
    const [n] = await h.rows<{ n: unknown }>(
      sql`select count(*) as n from message_statuses where message_id like 'wamid.o.%'`,
    );
    expect(Number(n?.n)).toBe(20);
  });

  it('a connection lost mid-transaction leaves nothing half-stored: the redelivery is applied in full', async () => {
    const body = h.build(platformMessage([statusChange({ id: 'wamid.o.0', status: 'read' })]));
    fault.midway = true;
    expect((await h.post(body)).status).toBe(503);
    expect(await h.rows(sql`select 1 from events_raw where sns_message_id = ${body.MessageId!}`)).toEqual([]);
    fault.midway = false;
    const reply = await h.post(body);
    expect(reply.status).toBe(200);
    expect(reply.body.outcome).toBe('applied');
    expect((await recipient(h.db, 'outage', 0)).state).toBe('read');
  });

  it('an event that cannot be applied is kept as failed, acknowledged, and applied by re-processing', async () => {
    const body = h.build(platformMessage([statusChange({ id: 'wamid.o.1', status: 'read' })]));
    fault.poison = true;
    const reply = await h.post(body);
    expect(reply.status).toBe(200);
    expect(reply.body.outcome).toBe('failed');
    expect((await recipient(h.db, 'outage', 1)).state).toBe('delivered');
    const [row] = await h.rows<{ outcome: string; error: string }>(
      sql`select outcome, error from events_raw where sns_message_id = ${body.MessageId!}`,
    );
    expect(row).toEqual({ outcome: 'failed', error: 'invalid input syntax for type json' });
    // SNS delivering it again changes nothing: it is stored.
    expect((await h.post(body)).body.outcome).toBe('duplicate');

    fault.poison = false;
    const result = await reprocessEvents({ db: h.db });
    expect(result).toEqual({ examined: 1, applied: 1, stillFailing: 0 });
    expect((await recipient(h.db, 'outage', 1)).state).toBe('read');
    const [after] = await h.rows<{ outcome: string }>(
      sql`select outcome from events_raw where sns_message_id = ${body.MessageId!}`,
    );
    expect(after?.outcome).toBe('applied');
  });
});
