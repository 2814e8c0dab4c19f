/**
 * Archive retention (WA_INGEST_ARCHIVE_DAYS): old archived events and finished outbox signals are
 * deleted, events still waiting for --reprocess and everything the events did are kept, and the service
 * runs it on its own.
 */
import { sql } from 'drizzle-orm';
import { afterEach, describe, expect, it } from 'vitest';
import { archiveCutoff, pruneArchive } from '../../src/ingest/store/retention';
import { ConfigError, loadConfig } from '../../src/shared/config';
import { num } from '../../src/db/query';
import { until } from '../helpers/poll';
import { platformMessage, statusChange } from './helpers/events';
import { startHarness, type Harness } from './helpers/harness';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const DAY = 86_400_000;

/** Archives `n` real status events (for messages we never sent: outcome `unmatched`). */
async function archiveStatuses(harness: Harness, n: number, prefix: string): Promise<void> {
  for (let i = 0; i < n; i++) {
    const reply = await harness.notify(
      platformMessage([statusChange({ id: `wamid.${prefix}-${i}`, status: 'delivered' })]),
    );
    expect(reply.status).toBe(200);
  }
}

async function archiveByOutcome(harness: Harness): Promise<Record<string, number>> {
  const rows = await harness.rows<{ outcome: string; n: unknown }>(
    sql`select outcome, count(*) as n from events_raw group by outcome`,
  );
  return Object.fromEntries(rows.map((r) => [r.outcome, num(r.n)]));
}

async function age(harness: Harness, where: ReturnType<typeof sql>, days: number): Promise<void> {
  await harness.db.execute(
    sql`update events_raw set received_at = now() - make_interval(days => ${days}::int) where ${where}`,
  );
}

/** Outbox rows: one finished `daysAgo` days ago per entry; `null` for one never finished. */
async function seedSignals(harness: Harness, finishedDaysAgo: (number | null)[]): Promise<void> {
  for (const [i, days] of finishedDaysAgo.entries()) {
    await harness.db.execute(
      sql`insert into ingest_signals (workflow_id, mode, signal_name, payload, done_at, outcome, created_at)
          values (${`campaign:c-${i}`}, 'signal', 'templateQuality', '{}'::jsonb,
                  case when ${days}::int is null then null else now() - make_interval(days => ${days}::int) end,
                  case when ${days}::int is null then null else 'delivered' end,
                  now() - make_interval(days => coalesce(${days}::int, 0)))`,
    );
  }
}

/** `wa_ingest_pruned_total{table="events_raw"}` as the service's /metrics shows it. */
async function prunedEvents(harness: Harness): Promise<number> {
  const text = await (await fetch(harness.url.replace(/\/sns$/, '/metrics'))).text();
  const match = /^wa_ingest_pruned_total\{table="events_raw"\} (\d+)$/m.exec(text);
  return match ? Number(match[1]) : 0;
}

describe('archive retention', () => {
  it('deletes events and finished signals older than the retention, and keeps what --reprocess needs', async () => {
    h = await startHarness({ archiveDays: 30, pruneEveryMs: 3_600_000 });
    await archiveStatuses(h, 6, 'old');
    await age(h, sql`true`, 31);
    await archiveStatuses(h, 2, 'recent');
    // Two old events that still wait for re-processing.
    await h.db.execute(
      sql`update events_raw set outcome = case when id % 2 = 0 then 'failed' else 'unrecognized' end
          where id in (select id from events_raw where received_at < now() - interval '30 days' order by id limit 2)`,
    );
    await seedSignals(h, [40, 31, 29, 1, null, null]);
    await h.db.execute(
      sql`update ingest_signals set created_at = now() - interval '60 days' where done_at is null`,
    );
    const before = await archiveByOutcome(h);
    expect(before.unmatched).toBe(6);
    const statusesBefore = num(
      (await h.rows<{ n: unknown }>(sql`select count(*) as n from message_statuses`))[0]?.n,
    );
    expect(statusesBefore).toBe(8);

    const result = await h.service.pruneArchive();

    expect(result).toEqual({ events: 4, signals: 2 });
    const after = await archiveByOutcome(h);
    // The two recent events, and the two old ones waiting for --reprocess.
    expect(after).toEqual({ unmatched: 2, failed: 1, unrecognized: 1 });
    const signals = await h.rows<{ done_days: number | null }>(
      sql`select extract(day from now() - done_at)::int as done_days from ingest_signals order by id`,
    );
    // 29 and 1 days ago are within the retention; unfinished signals are never pruned here.
    expect(signals.map((s) => s.done_days)).toEqual([29, 1, null, null]);
    // What the events did stays.
    const statusesAfter = num(
      (await h.rows<{ n: unknown }>(sql`select count(*) as n from message_statuses`))[0]?.n,
    );
    expect(statusesAfter).toBe(statusesBefore);
    // A second pass finds nothing more.
    expect(await h.service.pruneArchive()).toEqual({ events: 0, signals: 0 });
  });

  it('goes through a large backlog a batch at a time, oldest first, and stops when told', async () => {
    h = await startHarness();
    await archiveStatuses(h, 7, 'backlog');
    await age(h, sql`true`, 10);
    const cutoff = new Date(Date.now() - 5 * DAY);
    let statements = 0;
    const all = await pruneArchive(h.db, {
      eventsBefore: cutoff,
      signalsBefore: cutoff,
      batch: 2,
      stopped: () => {
        statements++;
        return false;
      },
    });
    expect(all).toEqual({ events: 7, signals: 0 });
    // 2 + 2 + 2 + 1 events, then one statement for signals.
    expect(statements).toBe(5);

    await archiveStatuses(h, 5, 'more');
    await age(h, sql`received_at > now() - interval '1 day'`, 10);
    let left = 1;
    const partial = await pruneArchive(h.db, {
      eventsBefore: cutoff,
      signalsBefore: cutoff,
      batch: 2,
      stopped: () => left-- <= 0,
    });
    expect(partial).toEqual({ events: 2, signals: 0 });
    expect(await archiveByOutcome(h)).toEqual({ unmatched: 3 });
  });

  it('keeps everything when no retention is set', async () => {
    h = await startHarness({ pruneEveryMs: 50 });
    await archiveStatuses(h, 3, 'kept');
    await age(h, sql`true`, 3_650);
    await seedSignals(h, [3_650]);
    expect(await h.service.pruneArchive()).toBeUndefined();
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(await archiveByOutcome(h)).toEqual({ unmatched: 3 });
    expect(num((await h.rows<{ n: unknown }>(sql`select count(*) as n from ingest_signals`))[0]?.n)).toBe(1);
  });

  it('prunes on its own schedule while the service runs', async () => {
    h = await startHarness({ archiveDays: 7, pruneEveryMs: 100 });
    const harness = h;
    await archiveStatuses(h, 3, 'scheduled');
    // Read before the events are aged: from then on the service may prune them at any moment.
    const prunedBefore = await prunedEvents(harness);
    await age(h, sql`true`, 8);
    await archiveStatuses(h, 1, 'fresh');
    await until('the service pruned the old events', async () => {
      const left = await archiveByOutcome(harness);
      return left.unmatched === 1 ? left : undefined;
    });
    expect((await prunedEvents(harness)) - prunedBefore).toBe(3);
  });

  it('prunes failed inbound SMS, which --reprocess cannot apply, with the rest', async () => {
    h = await startHarness({ archiveDays: 7, pruneEveryMs: 3_600_000 });
    await h.db.execute(
      sql`insert into events_raw (kind, outcome, error, body, received_at) values
            ('inbound-sms', 'failed', 'could not store', '{"Message":"code 123456"}'::jsonb, now() - interval '8 days'),
            ('messages', 'failed', 'could not apply', '{}'::jsonb, now() - interval '8 days')`,
    );
    expect(await h.service.pruneArchive()).toEqual({ events: 1, signals: 0 });
    expect(await h.rows(sql`select kind, outcome from events_raw`)).toEqual([
      { kind: 'messages', outcome: 'failed' },
    ]);
  });

  it('keeps what a running onboarding may still look for in the archive, and no message statuses', async () => {
    h = await startHarness({ archiveDays: 1, pruneEveryMs: 3_600_000 });
    const now = Date.now();
    // Started 10 days ago, deadline in 4 days: events since its start (less a margin) stay.
    await h.db.execute(
      sql`insert into onboardings (id, step, deadline, created_at) values
            ('ob-running', 'verifying', now() + interval '4 days', now() - interval '10 days'),
            ('ob-done', 'done', now() - interval '1 day', now() - interval '20 days')`,
    );
    await h.db.execute(sql`update onboardings set finished_at = now() where id = 'ob-done'`);
    const cutoff = await archiveCutoff(h.db, now, DAY);
    expect(now - cutoff.getTime()).toBeGreaterThan(10 * DAY);
    expect(now - cutoff.getTime()).toBeLessThan(10 * DAY + 2 * 3_600_000);
    const archived = (kind: string, daysAgo: number) =>
      h!.db.execute(
        sql`insert into events_raw (kind, outcome, body, received_at)
            values (${kind}, 'applied', '{}'::jsonb, now() - make_interval(days => ${daysAgo}::int))`,
      );
    await archived('phone_number_quality_update', 9); // since the onboarding began: kept
    await archived('inbound-sms', 9); // kept too
    await archived('account_update', 11); // before it began: goes
    await archived('messages', 9); // statuses and replies keep to the retention alone: goes
    await archived('messages', 0); // within the retention: kept
    expect(await h.service.pruneArchive()).toEqual({ events: 2, signals: 0 });
    const left = await h.rows<{ kind: string }>(sql`select kind from events_raw order by kind`);
    expect(left.map((r) => r.kind)).toEqual(['inbound-sms', 'messages', 'phone_number_quality_update']);

    // Once it has finished, its events go too.
    await h.db.execute(sql`update onboardings set finished_at = now() where id = 'ob-running'`);
    expect(await h.service.pruneArchive()).toEqual({ events: 2, signals: 0 });
  });

  it('refuses a retention without a replay limit shorter than it', () => {
    const base = { WA_INGEST_ARCHIVE_DAYS: '2' };
    expect(() => loadConfig({ ...base, WA_INGEST_MAX_MESSAGE_AGE_SECONDS: '0' })).toThrow(ConfigError);
    expect(() => loadConfig({ ...base, WA_INGEST_MAX_MESSAGE_AGE_SECONDS: '172800' })).toThrow(
      /WA_INGEST_MAX_MESSAGE_AGE_SECONDS: must be between 1 and 172799 with WA_INGEST_ARCHIVE_DAYS=2/,
    );
    expect(loadConfig({ ...base }).WA_INGEST_ARCHIVE_DAYS).toBe(2);
    expect(loadConfig({ WA_INGEST_MAX_MESSAGE_AGE_SECONDS: '0' }).WA_INGEST_ARCHIVE_DAYS).toBe(0);
  });
});
