import { sql, type SQL } from 'drizzle-orm';
import type { Database } from '../../db/client';
import { num, queryRows } from '../../db/query';
import type { Logger } from '../../shared/logger';
import { prunedTotal } from '../metrics';

/**
 * Outcomes kept whatever their age: they wait for `wa-campaigns ingest --reprocess` (a fix, or a newer
 * release that understands them), so pruning them would lose events nothing has applied yet. Inbound SMS
 * are not re-processed, so theirs are pruned like the rest (they may hold a verification code).
 */
export const KEPT_OUTCOMES = ['failed', 'unrecognized'] as const;
const INBOUND_SMS_KIND = 'inbound-sms';

export interface PruneOptions {
  /** Archived events received before this are deleted (except {@link KEPT_OUTCOMES}). */
  eventsBefore: Date;
  /**
   * Events other than message statuses and replies (`messages`) only if received before this too: what
   * running onboardings may look for (see {@link archiveCutoff}). Absent: `eventsBefore` for all.
   */
  otherEventsBefore?: Date;
  /** Outbox signals finished (delivered, gone, expired) before this are deleted. */
  signalsBefore: Date;
  /** Rows per statement (default 5,000): short statements, so ingest transactions never wait long. */
  batch?: number;
  /** Checked between statements: stop early (service shutting down). */
  stopped?: () => boolean;
}

export interface PruneResult {
  events: number;
  signals: number;
}

/**
 * Deletes what the retention allows, a batch at a time, oldest first. Rows another replica is deleting
 * at the same moment are skipped rather than waited for, so replicas can prune side by side.
 */
export async function pruneArchive(db: Database, options: PruneOptions): Promise<PruneResult> {
  const batch = options.batch ?? 5_000;
  const stopped = options.stopped ?? (() => false);
  const kept = `{${KEPT_OUTCOMES.join(',')}}`;
  const otherBefore = (options.otherEventsBefore ?? options.eventsBefore).toISOString();
  // Oldest first, a batch per statement, until a statement finds fewer than a batch (or we are told to stop).
  const prune = async (table: 'events_raw' | 'ingest_signals', oldest: SQL): Promise<number> => {
    let total = 0;
    for (;;) {
      if (stopped()) return total;
      const [row] = await queryRows<{ n: unknown }>(
        db,
        sql`with gone as (
              delete from ${sql.identifier(table)} where id in (${oldest} limit ${batch}::int for update skip locked)
              returning 1)
            select count(*) as n from gone`,
      );
      const n = num(row?.n);
      total += n;
      prunedTotal.inc({ table }, n);
      if (n < batch) return total;
    }
  };
  const events = await prune(
    'events_raw',
    sql`select id from events_raw
         where received_at < ${options.eventsBefore.toISOString()}::timestamptz
           and (outcome <> all(${kept}::text[]) or kind = ${INBOUND_SMS_KIND})
           and (kind = 'messages' or received_at < ${otherBefore}::timestamptz)
         order by received_at`,
  );
  const signals = await prune(
    'ingest_signals',
    sql`select id from ingest_signals where done_at < ${options.signalsBefore.toISOString()}::timestamptz
         order by done_at`,
  );
  return { events, signals };
}

export interface ArchivePrunerOptions {
  db: Database;
  /** Days an archived event is kept; 0 keeps everything (and the pruner does nothing). */
  archiveDays: number;
  logger: Logger;
  /** How often to prune (default every 10 minutes). */
  everyMs?: number;
  now?: () => number;
  batch?: number;
}

const DAY_MS = 86_400_000;
/** Finished signals are kept at least this long: the outbox's repeat window looks back over them. */
const MIN_SIGNAL_KEEP_MS = DAY_MS;
/**
 * Onboardings look in the archive for what they wait for (an event of their WABA, a verification code)
 * back to when they started, in case the ingest service's signal was lost: while one runs, nothing it
 * may look for is pruned. The margin covers a workflow started a little before its row was written; an
 * onboarding still open this long after its deadline no longer holds the retention back.
 */
const ONBOARDING_MARGIN_MS = 3_600_000;
const STALE_ONBOARDING_MS = 30 * DAY_MS;

/**
 * Received-at before which archived events other than `messages` may go: the retention, held back by
 * running onboardings. Their fallbacks look for a new WABA's first events and for inbound SMS, never for
 * message statuses or replies, which make up nearly all of the archive and keep to the retention alone.
 */
export async function archiveCutoff(db: Database, nowMs: number, keepMs: number): Promise<Date> {
  const [row] = await queryRows<{ since: Date | string | null }>(
    db,
    sql`select min(created_at) as since from onboardings
        where finished_at is null and deadline > ${new Date(nowMs - STALE_ONBOARDING_MS).toISOString()}::timestamptz`,
  );
  const byRetention = nowMs - keepMs;
  if (!row?.since) return new Date(byRetention);
  const byOnboarding = new Date(row.since).getTime() - ONBOARDING_MARGIN_MS;
  return new Date(Math.min(byRetention, byOnboarding));
}

/**
 * The ingest service's retention: every few minutes, archived events older than `archiveDays` and
 * outbox signals finished as long ago are deleted. A failure is logged and tried again next time; it
 * never touches event intake.
 */
export class ArchivePruner {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<PruneResult | undefined> | undefined;
  private closed = false;

  constructor(private readonly options: ArchivePrunerOptions) {}

  get enabled(): boolean {
    return this.options.archiveDays > 0;
  }

  /** The first pass a minute after start (sooner if the interval is shorter), then every interval. */
  start(): void {
    if (!this.enabled || this.timer || this.closed) return;
    const everyMs = this.options.everyMs ?? 10 * 60_000;
    this.timer = setTimeout(
      () => {
        if (this.closed) return;
        void this.prune();
        this.timer = setInterval(() => void this.prune(), everyMs);
        this.timer.unref();
      },
      Math.min(everyMs, 60_000),
    );
    this.timer.unref();
  }

  /** One pruning pass now (or the one under way); undefined when disabled or it failed. */
  prune(): Promise<PruneResult | undefined> {
    if (!this.enabled || this.closed) return Promise.resolve(undefined);
    return (this.running ??= this.pass().finally(() => {
      this.running = undefined;
    }));
  }

  private async pass(): Promise<PruneResult | undefined> {
    const now = (this.options.now ?? Date.now)();
    const keepMs = this.options.archiveDays * DAY_MS;
    try {
      const result = await pruneArchive(this.options.db, {
        eventsBefore: new Date(now - keepMs),
        otherEventsBefore: await archiveCutoff(this.options.db, now, keepMs),
        signalsBefore: new Date(now - Math.max(keepMs, MIN_SIGNAL_KEEP_MS)),
        stopped: () => this.closed,
        ...(this.options.batch !== undefined ? { batch: this.options.batch } : {}),
      });
      if (result.events + result.signals > 0)
        this.options.logger.info(
          { ...result, archiveDays: this.options.archiveDays },
          'pruned the event archive',
        );
      return result;
    } catch (err) {
      this.options.logger.warn({ err }, 'pruning the event archive failed; trying again later');
      return undefined;
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }
}
