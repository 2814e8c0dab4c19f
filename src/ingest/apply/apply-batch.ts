import type { PlatformMessage, WebhookChange } from '../events/platform-message';
import type { ApplyContext } from './context';
import { sideBySide } from '../store/db-errors';
import {
  applyInboundKeywords,
  applyUserPreferences,
  collectInbound,
  recordInboundBatch,
  type InboundItem,
} from './inbound';
import { applyAccountUpdate, applyBusinessCapability, applyPhoneQuality } from './numbers';
import { applyStatusBatch, collectStatuses, type StatusItem } from './statuses';
import { applyTemplateQuality, applyTemplateStatus } from './templates';

/** Handlers that order events by their time read it from the whole message (its envelope). */
type ChangeHandler = (
  ctx: ApplyContext,
  value: WebhookChange['value'],
  message: PlatformMessage,
) => Promise<void>;

/** Rare fields, applied one event at a time. */
const HANDLERS: Readonly<Record<string, ChangeHandler>> = {
  user_preferences: applyUserPreferences,
  message_template_status_update: applyTemplateStatus,
  message_template_quality_update: applyTemplateQuality,
  phone_number_quality_update: applyPhoneQuality,
  account_update: applyAccountUpdate,
  business_capability_update: applyBusinessCapability,
};

export interface BatchItem {
  ctx: ApplyContext;
  message: PlatformMessage;
}

/** The `field`s of a message, for the archive's `kind` column. */
export function fieldsOf(message: PlatformMessage): string[] {
  return [...new Set(message.entries.flatMap((e) => e.changes.map((c) => c.field)))];
}

/**
 * Applies every change of a batch of events inside one transaction. Statuses and inbound messages, the
 * bulk of the traffic, are applied for the whole batch in a few statements; the rest event by event.
 * Fields this service does not act on are noted and left in the archive. Every effect is order-
 * independent (statuses never move back, opt-outs keep the latest choice, a number keeps the state of
 * its newest event), so grouping them by kind gives the same result as applying events one after the
 * other.
 */
export async function applyBatch(tx: ApplyContext['tx'], items: readonly BatchItem[]): Promise<void> {
  const statuses: StatusItem[] = [];
  const inbound: InboundItem[] = [];
  for (const { ctx, message } of items) {
    for (const entry of message.entries) {
      for (const change of entry.changes) {
        if (change.field === 'messages') {
          statuses.push(...collectStatuses(ctx, change.value));
          inbound.push(...(await collectInbound(ctx, change.value)));
          continue;
        }
        const handler = HANDLERS[change.field];
        if (handler) await handler(ctx, change.value, message);
        else ctx.effects.ignored.push(`field ${change.field}`);
      }
    }
  }
  // Statuses and inbound messages write different tables: sent side by side. Opt-outs (a 131050
  // failure, a STOP reply) share the suppression tables and the rule that the latest choice wins, so
  // the replies' choices are applied after the statuses', one at a time, as before.
  const [, fromUsers] = await sideBySide(applyStatusBatch(tx, statuses), recordInboundBatch(tx, inbound));
  await applyInboundKeywords(fromUsers);
}
