import { sql, type SQL } from 'drizzle-orm';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { Database } from '../../db/client';
import { num, queryRows } from '../../db/query';
import type { Logger } from '../../shared/logger';
import type { OnboardingEventSeen, VerificationCodeReceived } from '../../workflows/definitions';
import { signalOnboardingEventSeen, signalVerificationCode } from '../../workflows/onboarding-signals';
import { signalBacklog, signalsTotal } from '../metrics';

interface OutboxRow {
  id: unknown;
  workflow_id: string;
  mode: string;
  signal_name: string;
  payload: unknown;
  start: { workflowType: string; args: unknown[] } | null;
  attempts: unknown;
}

export interface SignalDispatcherOptions {
  db: Database;
  temporal: Pick<Client, 'workflow'>;
  taskQueue: string;
  logger: Logger;
  /** Signals not delivered within this long are given up: a day-old PAUSED must not pause anything. */
  ttlMs?: number;
  /** How often undelivered signals are retried. */
  sweepEveryMs?: number;
}

const CLAIM_FOR = sql`interval '30 seconds'`;
const SWEEP_BATCH = 100;

/**
 * Delivers the outbox to Temporal: right after the event's transaction commits, and again from a
 * periodic sweep for whatever failed (Temporal down, a crash between commit and delivery). Signals to
 * one workflow go out in the order they were decided. A campaign or onboarding that no longer runs needs
 * no news, so "workflow not found" counts as done. Onboardings are signalled through
 * `src/workflows/onboarding-signals.ts`, as the onboarding client does; the client must carry the payload
 * codec, since a verification code is a secret.
 */
export class SignalDispatcher {
  private readonly ttlMs: number;
  private readonly sweepEveryMs: number;
  private readonly inFlight = new Set<Promise<unknown>>();
  private timer: NodeJS.Timeout | undefined;
  private sweeping = false;
  private closed = false;

  constructor(private readonly options: SignalDispatcherOptions) {
    this.ttlMs = options.ttlMs ?? 3600_000;
    this.sweepEveryMs = options.sweepEveryMs ?? 5_000;
  }

  /** Starts the periodic sweep. */
  start(): void {
    if (this.timer || this.closed) return;
    this.timer = setInterval(() => this.track(this.sweep()), this.sweepEveryMs);
    this.timer.unref();
  }

  /** Delivers freshly committed signals without holding up the caller. */
  deliverSoon(ids: readonly number[]): void {
    if (ids.length === 0 || this.closed) return;
    this.track(this.deliver(ids));
  }

  /** Waits for every delivery under way (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.idle();
  }

  /** Delivers these outbox rows if they are due and not held by another delivery. */
  async deliver(ids: readonly number[]): Promise<number> {
    // The ids as one JSON parameter: one statement text whatever their number, prepared once.
    const claimed = await this.claim(
      sql`s.id in (select jsonb_array_elements_text(${JSON.stringify(ids)}::jsonb)::bigint)`,
    );
    // A signal waiting behind an older one for the same workflow goes out with the next sweep; start it now.
    if (claimed < ids.length) this.track(this.sweep());
    return claimed;
  }

  /** Gives up on signals past their time, then delivers what is due. Returns how many were attempted. */
  async sweep(): Promise<number> {
    if (this.sweeping || this.closed) return 0;
    this.sweeping = true;
    try {
      await this.expire();
      let total = 0;
      for (;;) {
        const n = await this.claim(
          sql`s.id in (select id from ingest_signals where done_at is null and next_attempt_at <= now()
                       order by id limit ${SWEEP_BATCH})`,
        );
        total += n;
        if (n < SWEEP_BATCH) break;
      }
      const [backlog] = await queryRows<{ n: unknown }>(
        this.options.db,
        sql`select count(*) as n from ingest_signals where done_at is null`,
      );
      signalBacklog.set(num(backlog?.n ?? 0));
      return total;
    } catch (err) {
      this.options.logger.warn({ err }, 'signal sweep failed; trying again later');
      return 0;
    } finally {
      this.sweeping = false;
    }
  }

  private track(p: Promise<unknown>): void {
    const guarded = p.catch((err: unknown) => this.options.logger.warn({ err }, 'signal delivery failed'));
    this.inFlight.add(guarded);
    void guarded.finally(() => this.inFlight.delete(guarded));
  }

  private async expire(): Promise<void> {
    const expired = await queryRows<{ id: unknown; workflow_id: string; signal_name: string }>(
      this.options.db,
      sql`update ingest_signals set done_at = now(), outcome = 'expired', claimed_until = null
          where done_at is null and created_at < now() - ${`${Math.round(this.ttlMs / 1000)} seconds`}::interval
          returning id, workflow_id, signal_name`,
    );
    for (const row of expired) {
      signalsTotal.inc({ signal: row.signal_name, outcome: 'expired' });
      this.options.logger.error(
        { signalId: num(row.id), workflowId: row.workflow_id, signal: row.signal_name },
        'signal given up: not delivered in time',
      );
    }
  }

  /** Claims due rows matching `which`, oldest first per workflow, and sends them. */
  private async claim(which: SQL): Promise<number> {
    const rows = await queryRows<OutboxRow>(
      this.options.db,
      sql`update ingest_signals s set claimed_until = now() + ${CLAIM_FOR}, attempts = s.attempts + 1
          where ${which} and s.done_at is null and s.next_attempt_at <= now()
            and (s.claimed_until is null or s.claimed_until < now())
            and not exists (select 1 from ingest_signals o
                            where o.workflow_id = s.workflow_id and o.done_at is null and o.id < s.id)
          returning s.id, s.workflow_id, s.mode, s.signal_name, s.payload, s.start, s.attempts`,
    );
    await Promise.all(rows.map((row) => this.send(row)));
    return rows.length;
  }

  private async send(row: OutboxRow): Promise<void> {
    const { temporal, taskQueue, logger, db } = this.options;
    const id = num(row.id);
    const log = { signalId: id, workflowId: row.workflow_id, signal: row.signal_name };
    let outcome: 'delivered' | 'gone';
    try {
      if (row.mode === 'signal-with-start' && row.start) {
        await temporal.workflow.signalWithStart(row.start.workflowType, {
          workflowId: row.workflow_id,
          taskQueue,
          args: row.start.args,
          signal: row.signal_name,
          signalArgs: [row.payload],
        });
      } else if (row.mode === 'onboarding-event') {
        await signalOnboardingEventSeen(temporal, row.workflow_id, row.payload as OnboardingEventSeen);
      } else if (row.mode === 'verification-code') {
        await signalVerificationCode(temporal, row.workflow_id, row.payload as VerificationCodeReceived);
      } else {
        await temporal.workflow.getHandle(row.workflow_id).signal(row.signal_name, row.payload);
      }
      outcome = 'delivered';
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) {
        outcome = 'gone';
      } else {
        const attempts = num(row.attempts);
        const delayS = Math.min(60, 2 ** Math.max(0, attempts - 1));
        signalsTotal.inc({ signal: row.signal_name, outcome: 'failed' });
        logger.warn({ ...log, attempts, err }, 'signal not delivered; will retry');
        await db.execute(
          sql`update ingest_signals set claimed_until = null, last_error = ${String(err).slice(0, 500)},
                next_attempt_at = now() + ${`${delayS} seconds`}::interval
              where id = ${id}`,
        );
        return;
      }
    }
    signalsTotal.inc({ signal: row.signal_name, outcome });
    logger.info({ ...log, outcome }, 'workflow signalled');
    await db.execute(
      sql`update ingest_signals set done_at = now(), outcome = ${outcome}, claimed_until = null where id = ${id}`,
    );
  }
}
