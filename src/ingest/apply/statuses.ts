import { sql, type SQL } from 'drizzle-orm';
import { num, queryRows } from '../../db/query';
import { parseBizOpaqueCallbackData } from '../../shared/ids';
import { asString, asTime, objects, type JsonObject } from '../events/shape';
import { recordset } from '../../db/sql-values';
import type { ApplyContext } from './context';
import { applyFailedStatuses } from './failed-status';

/** How far along delivery each status is; `played` (voice, video) implies the message was seen. */
const PROGRESS: Readonly<Record<string, { rank: number; state: string }>> = {
  sent: { rank: 1, state: 'sent' },
  delivered: { rank: 2, state: 'delivered' },
  read: { rank: 3, state: 'read' },
  played: { rank: 3, state: 'read' },
};
const STATE_OF_RANK = ['pending', 'sent', 'delivered', 'read'];

/** One entry of `value.statuses[]`, with the event it came in. */
export interface StatusItem {
  ctx: ApplyContext;
  messageId: string;
  status: string;
  at: Date;
  biz?: string;
  recipientId?: string;
  raw: JsonObject;
}

/** The statuses of a `messages` change; entries without id or status are noted and skipped. */
export function collectStatuses(ctx: ApplyContext, value: JsonObject): StatusItem[] {
  return objects(value.statuses).flatMap((s) => {
    const messageId = asString(s.id);
    const status = asString(s.status)?.toLowerCase();
    if (!messageId || !status) {
      ctx.effects.ignored.push('status without id');
      return [];
    }
    const biz = asString(s.biz_opaque_callback_data);
    const recipientId = asString(s.recipient_id);
    return [
      {
        ctx,
        messageId,
        status,
        at: asTime(s.timestamp) ?? new Date(ctx.now),
        raw: s,
        ...(biz ? { biz } : {}),
        ...(recipientId ? { recipientId } : {}),
      },
    ];
  });
}

/**
 * Applies the statuses of a whole batch of events in a few statements: each status is recorded once per
 * message and status (so redeliveries change nothing), then recipients move forward. `failed` feeds the
 * retry plan one by one; `deleted`, `warning` and statuses not known yet are recorded only.
 */
export async function applyStatusBatch(tx: ApplyContext['tx'], items: StatusItem[]): Promise<void> {
  if (items.length === 0) return;
  const fresh = await recordStatuses(tx, items);
  await advanceRecipients(
    tx,
    fresh.filter((item) => PROGRESS[item.status] !== undefined),
  );
  await applyFailedStatuses(
    tx,
    fresh
      .filter((item) => item.status === 'failed')
      .map((item) => {
        const key = parseBizOpaqueCallbackData(item.biz);
        return {
          ctx: item.ctx,
          messageId: item.messageId,
          at: item.at,
          errors: objects(item.raw.errors),
          ...(key ? { key } : {}),
          ...(item.recipientId ? { recipientId: item.recipientId } : {}),
        };
      }),
  );
}

/** Inserts into message_statuses; returns the items seen for the first time. */
async function recordStatuses(tx: ApplyContext['tx'], items: StatusItem[]): Promise<StatusItem[]> {
  const source = recordset(
    items.map((s) => ({
      message_id: s.messageId,
      status: s.status,
      at: s.at.toISOString(),
      recipient_phone: s.recipientId ?? null,
      biz: s.biz ?? null,
      errors: s.raw.errors ?? null,
      pricing: s.raw.pricing ?? null,
      conversation: s.raw.conversation ?? null,
    })),
    'x',
    'message_id text, status text, at timestamptz, recipient_phone text, biz text, errors jsonb, pricing jsonb, conversation jsonb',
  );
  const returned = await queryRows<{ message_id: string; status: string }>(
    tx,
    sql`insert into message_statuses
          (message_id, status, at, recipient_phone, biz_opaque_callback_data, errors, pricing, conversation)
        select x.message_id, x.status, x.at, x.recipient_phone, x.biz, x.errors, x.pricing, x.conversation
        from ${source}
        on conflict (message_id, status) do nothing returning message_id, status`,
  );
  const inserted = new Set(returned.map((r) => `${r.message_id}\n${r.status}`));
  // Within one batch the same status may come twice: only its first occurrence is new.
  return items.filter((item) => {
    if (inserted.delete(`${item.messageId}\n${item.status}`)) return true;
    item.ctx.effects.duplicates++;
    return false;
  });
}

/** What a batch says about one recipient: the furthest status and the earliest time of each stage. */
interface Progress {
  campaignId: string | null;
  seq: number | null;
  messageId: string;
  rank: number;
  /** Times of the statuses themselves, and the times by which a later status proves a stage happened. */
  sentExact?: Date;
  sentImplied: Date;
  deliveredExact?: Date;
  deliveredImplied?: Date;
  readExact?: Date;
  items: StatusItem[];
}

const earliest = (a: Date | undefined, b: Date): Date => (a && a < b ? a : b);

function aggregate(items: StatusItem[]): Progress[] {
  const byTarget = new Map<string, Progress>();
  for (const item of items) {
    const { rank } = PROGRESS[item.status]!;
    const key = parseBizOpaqueCallbackData(item.biz);
    const id = key ? `b\n${key.campaignId}\n${key.seq}\n${item.messageId}` : `m\n${item.messageId}`;
    let p = byTarget.get(id);
    if (!p) {
      p = {
        campaignId: key?.campaignId ?? null,
        seq: key?.seq ?? null,
        messageId: item.messageId,
        rank: 0,
        sentImplied: item.at,
        items: [],
      };
      byTarget.set(id, p);
    }
    p.items.push(item);
    p.rank = Math.max(p.rank, rank);
    p.sentImplied = earliest(p.sentImplied, item.at);
    if (rank === 1) p.sentExact = earliest(p.sentExact, item.at);
    if (rank === 2) p.deliveredExact = earliest(p.deliveredExact, item.at);
    if (rank >= 2) p.deliveredImplied = earliest(p.deliveredImplied, item.at);
    if (rank === 3) p.readExact = earliest(p.readExact, item.at);
  }
  return [...byTarget.values()];
}

/**
 * Moves recipients forward, never back: a late `sent` leaves `read` alone, and `read` before
 * `delivered` is fine. A row still `sending` or `ambiguous` (its outcome never recorded, e.g. after a
 * crash) is settled, taking the message id. Rows that moved on to another message, and messages already
 * reported failed, are left alone. Matched by biz_opaque_callback_data when present, else message id.
 */
async function advanceRecipients(tx: ApplyContext['tx'], items: StatusItem[]): Promise<void> {
  const targets = aggregate(items);
  const byKey = targets.filter((t) => t.campaignId !== null);
  const byMessage = targets.filter((t) => t.campaignId === null);
  const matched = new Set<Progress>();
  if (byKey.length > 0) {
    const found = await updateRecipients(tx, byKey, sql`r.campaign_id = v.campaign_id and r.seq = v.seq`);
    for (const t of byKey) if (found.has(`${t.campaignId}\n${t.seq}\n${t.messageId}`)) matched.add(t);
  }
  if (byMessage.length > 0) {
    const found = await updateRecipients(tx, byMessage, sql`r.message_id = v.message_id`);
    for (const t of byMessage) if (found.has(`m\n${t.messageId}`)) matched.add(t);
  }
  for (const t of targets) {
    for (const item of t.items) {
      if (matched.has(t)) item.ctx.effects.changed++;
      else item.ctx.effects.unmatched++;
    }
  }
}

async function updateRecipients(tx: ApplyContext['tx'], part: Progress[], match: SQL): Promise<Set<string>> {
  const iso = (d: Date | undefined) => d?.toISOString() ?? null;
  const source = recordset(
    part.map((t) => ({
      campaign_id: t.campaignId,
      seq: t.seq,
      message_id: t.messageId,
      rank: t.rank,
      state: STATE_OF_RANK[t.rank],
      sent_exact: iso(t.sentExact),
      sent_implied: iso(t.sentImplied),
      delivered_exact: iso(t.deliveredExact),
      delivered_implied: iso(t.deliveredImplied),
      read_exact: iso(t.readExact),
    })),
    'v',
    'campaign_id text, seq int, message_id text, rank int, state text, sent_exact timestamptz, ' +
      'sent_implied timestamptz, delivered_exact timestamptz, delivered_implied timestamptz, read_exact timestamptz',
  );
  const unsettled = sql`r.state in ('sending', 'ambiguous', 'unknown', 'pending')`;
  const returned = await queryRows<{ campaign_id: string | null; seq: unknown; message_id: string }>(
    tx,
    sql`update recipients r set
          state = case when (case r.state when 'sent' then 1 when 'delivered' then 2 when 'read' then 3 else 0 end)
                            < v.rank then v.state else r.state end,
          message_id = coalesce(r.message_id, v.message_id),
          sent_at = case when v.sent_exact is not null then least(r.sent_at, v.sent_exact)
                         else coalesce(r.sent_at, v.sent_implied) end,
          delivered_at = case when v.delivered_exact is not null then least(r.delivered_at, v.delivered_exact)
                              else coalesce(r.delivered_at, v.delivered_implied) end,
          read_at = case when v.read_exact is not null then least(r.read_at, v.read_exact) else r.read_at end,
          error_code = case when ${unsettled} then null else r.error_code end,
          error_message = case when ${unsettled} then null else r.error_message end,
          next_attempt_at = null,
          sending_since = null,
          updated_at = now()
        from ${source}
        where ${match}
          and (r.message_id is null or r.message_id = v.message_id)
          and (r.state in ('sending', 'ambiguous', 'unknown', 'sent', 'delivered', 'read')
               or (r.state = 'pending' and r.message_id is null))
          and not exists (select 1 from message_statuses f where f.message_id = v.message_id and f.status = 'failed')
        returning v.campaign_id, v.seq, v.message_id`,
  );
  return new Set(
    returned.map((r) =>
      r.campaign_id === null ? `m\n${r.message_id}` : `${r.campaign_id}\n${num(r.seq)}\n${r.message_id}`,
    ),
  );
}
