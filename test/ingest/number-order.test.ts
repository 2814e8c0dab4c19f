import { randomUUID } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { openDatabase, type DatabaseHandle } from '../../src/db/client';
import { queryRows } from '../../src/db/query';
import { OptOutKeywords } from '../../src/ingest/apply/keywords';
import { parsePlatformMessage } from '../../src/ingest/events/platform-message';
import type { SnsBody } from '../../src/ingest/sns/envelope';
import { storeEvents } from '../../src/ingest/store/store-events';
import { until } from '../helpers/poll';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres';
import {
  TOPIC_ARN,
  accountUpdateChange,
  numberMessage,
  phoneQualityChange,
  type Change,
} from './helpers/events';
import { startHarness, type Harness } from './helpers/harness';

/**
 * SNS does not keep order and the service commits batches side by side: a number's quality and status
 * must end as the newest event left them, whichever arrives last.
 */

const FLAG_REASON = 'phone number quality is low (flagged by Meta)';
const T0 = Date.now() - 60_000;
const at = (seconds: number) => new Date(T0 + seconds * 1000);
const ms = (seconds: number) => at(seconds).getTime();
const numberId = (hex: string) => `phone-number-id-${hex}`;
const quality = (event: string, limit: string) =>
  phoneQualityChange(event, limit, { display_phone_number: '447700900555' });
const restriction = accountUpdateChange('ACCOUNT_RESTRICTION', {
  restriction_info: [{ restriction_type: 'RESTRICTED_BIZ_INITIATED_MESSAGING' }],
});
const reinstatement = accountUpdateChange('DISABLED_UPDATE', { ban_info: { waba_ban_state: ['REINSTATE'] } });

interface NumberView {
  status: string | null;
  quality_rating: string | null;
  tier_limit: number | null;
  mps: number;
  /** Epoch ms. */
  quality_event_at: number | null;
  status_event_at: number | null;
}

async function numberRow(db: DatabaseHandle['db'], hex: string): Promise<NumberView | undefined> {
  const [row] = await queryRows<NumberView>(
    db,
    sql`select status, quality_rating, tier_limit, mps,
               (extract(epoch from quality_event_at) * 1000)::float8 as quality_event_at,
               (extract(epoch from status_event_at) * 1000)::float8 as status_event_at
        from numbers where phone_number_id = ${numberId(hex)}`,
  );
  return row;
}

describe('number state from events delivered out of order', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => {
    await h.close();
  });
  beforeEach(() => {
    h.temporal.calls.length = 0;
  });

  async function deliver(hex: string, change: Change, when: Date) {
    const reply = await h.notify(numberMessage(hex, [change], when));
    expect(reply.status).toBe(200);
    await h.service.signalsIdle();
    const [row] = await h.rows<{ outcome: string; error: string | null }>(
      sql`select outcome, error from events_raw where id = ${reply.body.eventId!}`,
    );
    return row!;
  }
  const signalled = (hex: string) =>
    h.temporal.calls.filter((c) => c.workflowId === `number:${numberId(hex)}`).map((c) => c.payload);

  it('FLAGGED then UNFLAGGED, in order: both apply and both are signalled', async () => {
    expect((await deliver('a1', quality('FLAGGED', 'TIER_1K'), at(1))).outcome).toBe('applied');
    expect(await numberRow(h.db, 'a1')).toMatchObject({ status: 'FLAGGED', quality_rating: 'RED' });
    expect((await deliver('a1', quality('UNFLAGGED', 'TIER_10K'), at(2))).outcome).toBe('applied');
    expect(await numberRow(h.db, 'a1')).toEqual({
      status: 'CONNECTED',
      quality_rating: null,
      tier_limit: 10_000,
      mps: 80,
      quality_event_at: ms(2),
      status_event_at: ms(2),
    });
    expect(signalled('a1')).toEqual([{ event: 'FLAGGED', reason: FLAG_REASON }, { event: 'UNFLAGGED' }]);
  });

  it('UNFLAGGED then the older FLAGGED: the number stays connected and nothing pauses it', async () => {
    await deliver('a2', quality('UNFLAGGED', 'TIER_10K'), at(2));
    const late = await deliver('a2', quality('FLAGGED', 'TIER_1K'), at(1));
    expect(late.outcome).toBe('ignored');
    expect(late.error).toContain('phone_number_quality_update FLAGGED: older than the state already applied');
    expect(await numberRow(h.db, 'a2')).toEqual({
      status: 'CONNECTED',
      quality_rating: null,
      tier_limit: 10_000,
      mps: 80,
      quality_event_at: ms(2),
      status_event_at: ms(2),
    });
    expect(signalled('a2')).toEqual([{ event: 'UNFLAGGED' }]);
    const queued = await h.rows<{ event: string }>(
      sql`select payload->>'event' as event from ingest_signals where workflow_id = ${`number:${numberId('a2')}`}`,
    );
    expect(queued).toEqual([{ event: 'UNFLAGGED' }]);
  });

  it('a restriction then its reinstatement, in order: both apply and both are signalled', async () => {
    expect((await deliver('b1', restriction, at(1))).outcome).toBe('applied');
    expect((await numberRow(h.db, 'b1'))?.status).toBe('RESTRICTED');
    expect((await deliver('b1', reinstatement, at(2))).outcome).toBe('applied');
    expect(await numberRow(h.db, 'b1')).toMatchObject({ status: 'CONNECTED', status_event_at: ms(2) });
    expect(signalled('b1').map((p) => (p as { event: string }).event)).toEqual([
      'ACCOUNT_RESTRICTION',
      'UNRESTRICTED',
    ]);
  });

  it('a reinstatement then the older restriction: the number stays connected and nothing stops it', async () => {
    await deliver('b2', reinstatement, at(2));
    const late = await deliver('b2', restriction, at(1));
    expect(late.outcome).toBe('ignored');
    expect(late.error).toContain('account_update ACCOUNT_RESTRICTION: older than the state already applied');
    expect(late.error).toContain(numberId('b2'));
    expect(await numberRow(h.db, 'b2')).toMatchObject({ status: 'CONNECTED', status_event_at: ms(2) });
    expect(signalled('b2')).toEqual([{ event: 'UNRESTRICTED', reason: 'DISABLED_UPDATE' }]);
  });

  it('status is ordered across quality and account events; tier and quality only among quality events', async () => {
    await deliver('c1', restriction, at(2));
    // Older than the restriction, but the newest news of the number's quality and tier.
    const late = await deliver('c1', quality('FLAGGED', 'TIER_1K'), at(1));
    expect(late.outcome).toBe('applied');
    expect(late.error).toContain('older than the state already applied (status;');
    expect(await numberRow(h.db, 'c1')).toMatchObject({
      status: 'RESTRICTED',
      quality_rating: 'RED',
      tier_limit: 1000,
      quality_event_at: ms(1),
      status_event_at: ms(2),
    });
    expect(signalled('c1').map((p) => (p as { event: string }).event)).toEqual(['ACCOUNT_RESTRICTION']);
  });

  it('a late throughput upgrade still raises the rate, but not the tier it names', async () => {
    await deliver('c2', quality('DOWNGRADE', 'TIER_250'), at(2));
    await deliver('c2', quality('THROUGHPUT_UPGRADE', 'TIER_UNLIMITED'), at(1));
    expect(await numberRow(h.db, 'c2')).toMatchObject({
      mps: 1000,
      tier_limit: 250,
      quality_event_at: ms(2),
    });
  });

  it('without message_timestamp the SNS Timestamp orders the event', async () => {
    await deliver('d1', quality('UNFLAGGED', 'TIER_10K'), at(2));
    const older = await h.notify(numberMessage('d1', [quality('FLAGGED', 'TIER_1K')], null), {
      timestamp: at(1).toISOString(),
    });
    expect(older.body.outcome).toBe('ignored');
    const newer = await h.notify(numberMessage('d1', [quality('FLAGGED', 'TIER_1K')], null), {
      timestamp: at(3).toISOString(),
    });
    expect(newer.body.outcome).toBe('applied');
    expect(await numberRow(h.db, 'd1')).toMatchObject({ status: 'FLAGGED', status_event_at: ms(3) });
  });
});

describe('number state from batches committed side by side (PostgreSQL)', () => {
  let server: TestDatabase;
  let handle: DatabaseHandle;
  beforeAll(async () => {
    server = await createTestDatabase('number_order');
    handle = await openDatabase({ url: server.url, maxConnections: 4 });
  });
  afterAll(async () => {
    await handle?.close();
    await server?.drop();
  });

  const pending = (hex: string, change: Change, when: Date) => {
    const message = numberMessage(hex, [change], when);
    const body = {
      MessageId: randomUUID(),
      TopicArn: TOPIC_ARN,
      Message: message,
      Timestamp: when.toISOString(),
    };
    return { body: body as SnsBody, message: parsePlatformMessage(message), kind: change.field };
  };

  it('an older event waiting behind the newer one changes nothing once the newer one commits', async () => {
    const deps = { db: handle.db, keywords: new OptOutKeywords(), now: Date.now, signals: true };
    await handle.db.execute(
      sql`insert into numbers (phone_number_id, tier_limit) values (${numberId('e1')}, 250)`,
    );
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    // Holds the number's row so both batches queue behind it, the newer one first.
    const holder = handle.db.transaction(async (tx) => {
      await tx.execute(sql`select 1 from numbers where phone_number_id = ${numberId('e1')} for update`);
      await released;
    });
    const waiters = async () => {
      const [row] = await queryRows<{ n: unknown }>(
        handle.db,
        sql`select count(*) as n from pg_stat_activity
            where datname = current_database() and wait_event_type = 'Lock'`,
      );
      return Number(row?.n);
    };
    const waitFor = async (n: number) => {
      await until(`${n} batch(es) waiting on the number's row lock`, async () => (await waiters()) >= n, {
        timeoutMs: 5_000,
        everyMs: 25,
      });
      expect(await waiters()).toBeGreaterThanOrEqual(n);
    };
    let newer, older;
    try {
      newer = storeEvents(deps, [pending('e1', quality('UNFLAGGED', 'TIER_10K'), at(2))]);
      await waitFor(1);
      older = storeEvents(deps, [pending('e1', quality('FLAGGED', 'TIER_1K'), at(1))]);
      await waitFor(2);
    } finally {
      release();
      await holder;
    }
    const outcomes = [(await newer)[0]?.outcome, (await older)[0]?.outcome];
    expect(outcomes).toEqual(['applied', 'ignored']);
    expect(await numberRow(handle.db, 'e1')).toMatchObject({
      status: 'CONNECTED',
      tier_limit: 10_000,
      status_event_at: ms(2),
    });
    const queued = await queryRows<{ event: string }>(
      handle.db,
      sql`select payload->>'event' as event from ingest_signals where workflow_id = ${`number:${numberId('e1')}`}`,
    );
    expect(queued).toEqual([{ event: 'UNFLAGGED' }]);
  });
});
