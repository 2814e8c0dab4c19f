import { sql } from 'drizzle-orm';
import { queryRows } from '../../db/query';
import { asObject, asString, asTime, objects, type JsonObject } from '../events/shape';
import { recordset } from '../../db/sql-values';
import type { ApplyContext } from './context';
import { applyOptChoice } from './opt-out';
import { resolvePhoneNumberId } from './phone-number';

/** E.164 from a WhatsApp user id (wa_id / from): its digits with a leading `+`. */
export function phoneFromWaId(waId: string): string {
  return `+${waId.replace(/\D/g, '')}`;
}

/** The words a user typed or tapped: text, a quick-reply button, or an interactive reply. */
function userWords(m: JsonObject): string | undefined {
  const interactive = asObject(m.interactive);
  return (
    asString(asObject(m.text)?.body) ??
    asString(asObject(m.button)?.text) ??
    asString(asObject(m.button)?.payload) ??
    asString(asObject(interactive?.button_reply)?.title) ??
    asString(asObject(interactive?.list_reply)?.title)
  );
}

/** One entry of `value.messages[]`, with the event it came in. */
export interface InboundItem {
  ctx: ApplyContext;
  id: string;
  phone: string;
  type: string;
  at: Date;
  phoneNumberId?: string;
  words?: string;
}

/** The inbound messages of a `messages` change, with the number they were sent to. */
export async function collectInbound(ctx: ApplyContext, value: JsonObject): Promise<InboundItem[]> {
  const messages = objects(value.messages);
  if (messages.length === 0) return [];
  const phoneNumberId = await resolvePhoneNumberId(ctx, asObject(value.metadata));
  return messages.flatMap((m) => {
    const id = asString(m.id);
    const from = asString(m.from);
    if (!id || !from) {
      ctx.effects.ignored.push('inbound message without id or sender');
      return [];
    }
    const words = userWords(m);
    return [
      {
        ctx,
        id,
        phone: phoneFromWaId(from),
        type: asString(m.type) ?? 'unknown',
        at: asTime(m.timestamp) ?? new Date(ctx.now),
        ...(phoneNumberId ? { phoneNumberId } : {}),
        ...(words !== undefined ? { words } : {}),
      },
    ];
  });
}

/**
 * Inbound messages of a batch of events: each opens (or extends) the user's 24 h customer-service
 * window with the number it was sent to, which the tier budget relies on. A message seen before changes
 * nothing. Returns the new messages from users, whose words {@link applyInboundKeywords} reads.
 */
export async function recordInboundBatch(
  tx: ApplyContext['tx'],
  items: InboundItem[],
): Promise<InboundItem[]> {
  if (items.length === 0) return [];
  const source = recordset(
    items.map((m) => ({
      message_id: m.id,
      phone_number_id: m.phoneNumberId ?? null,
      phone: m.phone,
      type: m.type,
      at: m.at.toISOString(),
      event_id: m.ctx.eventId,
    })),
    'x',
    'message_id text, phone_number_id text, phone text, type text, at timestamptz, event_id bigint',
  );
  const returned = await queryRows<{ message_id: string }>(
    tx,
    sql`insert into inbound_messages (message_id, phone_number_id, phone, type, at, event_id)
        select x.message_id, x.phone_number_id, x.phone, x.type, x.at, x.event_id from ${source}
        on conflict (message_id) do nothing returning message_id`,
  );
  const inserted = new Set(returned.map((r) => r.message_id));
  const fresh = items.filter((m) => {
    if (inserted.delete(m.id)) return true;
    m.ctx.effects.duplicates++;
    return false;
  });
  // System notices (e.g. "the user changed their number") come from WhatsApp, not from the user.
  const fromUsers = fresh.filter((m) => m.type !== 'system');
  await openWindows(tx, fromUsers);
  for (const m of fromUsers) {
    if (m.phoneNumberId) m.ctx.effects.changed++;
    else m.ctx.effects.unmatched++;
  }
  return fromUsers;
}

/** A STOP-like message opts the user out of marketing, a resume word back in; one message at a time. */
export async function applyInboundKeywords(fromUsers: readonly InboundItem[]): Promise<void> {
  for (const m of fromUsers) {
    const keyword = m.ctx.keywords.match(m.words);
    if (!keyword) continue;
    await applyOptChoice(m.ctx, {
      phone: m.phone,
      choice: keyword.intent,
      at: m.at,
      source: 'inbound-keyword',
      reason: `user wrote "${keyword.keyword}"`,
      detail: {
        messageId: m.id,
        keyword: keyword.keyword,
        ...(m.phoneNumberId ? { phoneNumberId: m.phoneNumberId } : {}),
      },
    });
  }
}

/** One upsert for all windows of the batch; a late, older message never shortens a window. */
async function openWindows(tx: ApplyContext['tx'], items: InboundItem[]): Promise<void> {
  const latest = new Map<string, { phoneNumberId: string; phone: string; at: Date }>();
  for (const m of items) {
    if (!m.phoneNumberId) continue;
    const key = `${m.phoneNumberId}\n${m.phone}`;
    const seen = latest.get(key);
    if (!seen || seen.at < m.at)
      latest.set(key, { phoneNumberId: m.phoneNumberId, phone: m.phone, at: m.at });
  }
  if (latest.size === 0) return;
  const source = recordset(
    [...latest.values()].map((w) => ({
      phone_number_id: w.phoneNumberId,
      phone: w.phone,
      at: w.at.toISOString(),
    })),
    'x',
    'phone_number_id text, phone text, at timestamptz',
  );
  await tx.execute(
    sql`insert into service_windows as w (phone_number_id, phone, last_inbound_at)
        select x.phone_number_id, x.phone, x.at from ${source}
        on conflict (phone_number_id, phone)
        do update set last_inbound_at = greatest(w.last_inbound_at, excluded.last_inbound_at)`,
  );
}

/**
 * `user_preferences`: the user stopped or resumed marketing messages in WhatsApp itself. Only the
 * marketing category is acted on; other categories are recorded in the raw event.
 */
export async function applyUserPreferences(ctx: ApplyContext, value: JsonObject): Promise<void> {
  for (const pref of objects(value.user_preferences)) {
    const waId = asString(pref.wa_id);
    const choice = asString(pref.value)?.toLowerCase();
    const category = asString(pref.category)?.toLowerCase();
    if (!waId || (choice !== 'stop' && choice !== 'resume')) {
      ctx.effects.ignored.push(`user_preferences value ${String(pref.value)}`);
      continue;
    }
    if (category !== undefined && !category.startsWith('marketing')) {
      ctx.effects.ignored.push(`user_preferences category ${category}`);
      continue;
    }
    const detail = asString(pref.detail);
    await applyOptChoice(ctx, {
      phone: phoneFromWaId(waId),
      choice,
      at: asTime(pref.timestamp) ?? new Date(ctx.now),
      source: 'user-preferences',
      reason: detail ?? `user chose ${choice} for marketing messages`,
      detail: { category: category ?? 'marketing_messages' },
    });
  }
}
