import { sql } from 'drizzle-orm';
import type { Database } from '../../db/client';
import { num, queryRows } from '../../db/query';
import { applyBatch, type BatchItem } from '../apply/apply-batch';
import { emptyEffects, type ApplyContext, type EffectCounts } from '../apply/context';
import type { OptOutKeywords } from '../apply/keywords';
import { findOnboardings, planOnboardingSignals } from '../apply/onboarding';
import type { PlatformMessage } from '../events/platform-message';
import { queueSignals } from '../signals/outbox';
import type { SnsBody } from '../sns/envelope';
import { isRetryableConflict, isTransientDbError, sideBySide } from './db-errors';
import { insertRawEvent } from './raw-events';
import { recordset } from '../../db/sql-values';
import { safeErrorText } from '../../shared/safe-error';

export interface ApplyDeps {
  keywords: OptOutKeywords;
  now: () => number;
  /** Whether decided signals are written to the outbox (false when no Temporal client is configured). */
  signals: boolean;
}

export interface StoreDeps extends ApplyDeps {
  db: Database;
  /**
   * Whether signals carrying a secret (an inbound SMS's verification code) may be queued: only when the
   * Temporal client encrypts payloads.
   */
  secretSignals?: boolean;
}

/** A verified notification, parsed, waiting to be stored. */
export interface PendingEvent {
  body: SnsBody;
  message: PlatformMessage;
  /** The `field`s it carries, for the archive. */
  kind: string;
}

export interface StoredNotification {
  /** The events_raw row; undefined for a redelivery of an event already stored. */
  eventId?: number;
  duplicate: boolean;
  kind: string;
  /** applied, duplicate, unmatched, stored, ignored, unrecognized, failed. */
  outcome: string;
  effects?: EffectCounts;
  /** Outbox rows to deliver now that the event is committed. */
  signalIds: number[];
  /** Why the event could not be applied (kept with the raw event for re-processing). */
  error?: string;
}

/** Summarises what an event did, for the archive's outcome column. */
export function outcomeOf(effects: EffectCounts): string {
  if (effects.changed > 0 || effects.signalled > 0) return 'applied';
  if (effects.unmatched > 0) return 'unmatched';
  if (effects.duplicates > 0) return 'duplicate';
  if (effects.ignored.length > 0) return 'ignored';
  return 'stored';
}

function notesOf(effects: EffectCounts): string | null {
  return effects.ignored.length > 0
    ? `not acted on: ${[...new Set(effects.ignored)].join('; ')}`.slice(0, 2000)
    : null;
}

export const MAX_CONFLICT_RETRIES = 3;

/**
 * Stores a batch of verified notifications and applies them in one transaction, so a 2xx always means
 * both happened, and a redelivery (same SNS MessageId) finds its event stored and changes nothing.
 *
 * Database unavailability is thrown, and the caller answers 5xx so that SNS delivers again. A conflict
 * with a concurrent transaction is retried. Any other failure is in the data: the batch is split to
 * find the event at fault, which is then stored alone, marked `failed` with the error, and
 * acknowledged, kept for re-processing rather than redelivered by SNS until it gives up.
 */
export async function storeEvents(
  deps: StoreDeps,
  events: readonly PendingEvent[],
): Promise<StoredNotification[]> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await deps.db.transaction((tx) => storeInTransaction(deps, tx, events));
    } catch (err) {
      if (isRetryableConflict(err) && attempt < MAX_CONFLICT_RETRIES) continue;
      if (isTransientDbError(err)) throw err;
      if (events.length > 1) {
        const results: StoredNotification[] = [];
        for (const event of events) results.push(...(await storeEvents(deps, [event])));
        return results;
      }
      const reason = safeErrorText(err);
      return [
        await storeUnapplied(deps.db, events[0]!.body, events[0]!.kind, 'failed', reason.slice(0, 2000)),
      ];
    }
  }
}

async function storeInTransaction(
  deps: ApplyDeps,
  tx: Pick<Database, 'execute'>,
  events: readonly PendingEvent[],
): Promise<StoredNotification[]> {
  const ids = await insertBatch(tx, events);
  const fresh: { event: PendingEvent; ctx: ApplyContext }[] = [];
  const results = events.map((event, i): StoredNotification => {
    const eventId = ids[i];
    if (eventId === undefined)
      return { duplicate: true, kind: event.kind, outcome: 'duplicate', signalIds: [] };
    fresh.push({ event, ctx: newContext(deps, tx, eventId, event.message) });
    return { eventId, duplicate: false, kind: event.kind, outcome: 'applied', signalIds: [] };
  });
  const items: BatchItem[] = fresh.map(({ event, ctx }) => ({ ctx, message: event.message }));
  const finished = await finishBatch(deps, tx, items, 'applied');
  let next = 0;
  for (const result of results) {
    if (result.duplicate) continue;
    Object.assign(result, finished[next++]);
  }
  return results;
}

function newContext(
  deps: ApplyDeps,
  tx: Pick<Database, 'execute'>,
  eventId: number,
  message: PlatformMessage,
): ApplyContext {
  return {
    tx,
    eventId,
    context: message.context,
    keywords: deps.keywords,
    now: deps.now(),
    signals: [],
    effects: emptyEffects(),
  };
}

/**
 * Applies, decides the signals (including those to onboardings of the events' WABAs and numbers), queues
 * them and records each event's outcome where it differs from `storedOutcome`.
 */
async function finishBatch(
  deps: ApplyDeps,
  tx: Pick<Database, 'execute'>,
  items: BatchItem[],
  storedOutcome: string,
): Promise<{ outcome: string; effects: EffectCounts; signalIds: number[] }[]> {
  // The onboarding look-up needs nothing the changes write: sent alongside them (see applyBatch).
  const [, onboardings] = await sideBySide(applyBatch(tx, items), findOnboardings(tx, items));
  planOnboardingSignals(items, onboardings);
  const changedOutcomes: { id: number; outcome: string; notes: string | null }[] = [];
  const queued = deps.signals
    ? await queueSignals(
        tx,
        items.map(({ ctx }) => ({ eventId: ctx.eventId, signals: ctx.signals })),
      )
    : new Map<number, number[]>();
  const results = [];
  for (const { ctx } of items) {
    ctx.effects.signalled = ctx.signals.length;
    const signalIds = queued.get(ctx.eventId) ?? [];
    const outcome = outcomeOf(ctx.effects);
    const notes = notesOf(ctx.effects);
    if (outcome !== storedOutcome || notes !== null)
      changedOutcomes.push({ id: ctx.eventId, outcome, notes });
    results.push({ outcome, effects: ctx.effects, signalIds });
  }
  if (changedOutcomes.length > 0) {
    const source = recordset(changedOutcomes, 'v', 'id bigint, outcome text, notes text');
    await tx.execute(
      sql`update events_raw e set outcome = v.outcome, error = v.notes from ${source} where e.id = v.id`,
    );
  }
  return results;
}

/** Archives a batch; returns each event's id, or undefined for an SNS MessageId already archived. */
async function insertBatch(
  tx: Pick<Database, 'execute'>,
  events: readonly PendingEvent[],
): Promise<(number | undefined)[]> {
  const source = recordset(
    events.map((e) => ({
      sns_message_id: e.body.MessageId,
      topic_arn: e.body.TopicArn,
      kind: e.kind,
      body: e.body,
    })),
    'x',
    'sns_message_id text, topic_arn text, kind text, body jsonb',
  );
  // 'applied' is the usual outcome, written up front so the common case needs no second write.
  const returned = await queryRows<{ id: unknown; sns_message_id: string }>(
    tx,
    sql`insert into events_raw (sns_message_id, topic_arn, kind, outcome, body)
        select x.sns_message_id, x.topic_arn, x.kind, 'applied', x.body from ${source}
        on conflict (sns_message_id) do nothing returning id, sns_message_id`,
  );
  const idByMessage = new Map(returned.map((r) => [r.sns_message_id, num(r.id)]));
  // The same MessageId twice in one batch: the first copy is the event, the second a duplicate.
  return events.map((e) => {
    const id = idByMessage.get(e.body.MessageId);
    idByMessage.delete(e.body.MessageId);
    return id;
  });
}

/** Archives an event without applying it (not a WhatsApp event, or applying it failed). */
export async function storeUnapplied(
  db: Pick<Database, 'execute'>,
  body: SnsBody,
  kind: string,
  outcome: string,
  error: string,
): Promise<StoredNotification> {
  const eventId = await insertRawEvent(db, {
    snsMessageId: body.MessageId,
    topicArn: body.TopicArn,
    kind,
    outcome,
    error,
    body,
  });
  if (eventId === undefined) return { duplicate: true, kind, outcome: 'duplicate', signalIds: [] };
  return { eventId, duplicate: false, kind, outcome, signalIds: [], error };
}

/** Applies an archived event again (re-processing); the caller owns the transaction. */
export async function applyArchived(
  deps: ApplyDeps,
  tx: Pick<Database, 'execute'>,
  eventId: number,
  message: PlatformMessage,
  storedOutcome: string,
): Promise<{ outcome: string; effects: EffectCounts; signalIds: number[] }> {
  const [result] = await finishBatch(
    deps,
    tx,
    [{ ctx: newContext(deps, tx, eventId, message), message }],
    storedOutcome,
  );
  return result!;
}
