import type { EmulatorContext } from '../context';
import { metaError } from '../meta/error-catalog';
import { statusChange, unixSeconds, type StatusObject } from '../meta/webhook-entries';
import { drawDelay } from '../rules/faults';
import type { PhoneNumberState } from '../world/state';

/** An accepted outbound message whose statuses are still to come. */
export interface OutboundMessage {
  messageId: string;
  phone: PhoneNumberState;
  to: string;
  bizOpaqueCallbackData?: string | undefined;
  /** Pricing of the message: who pays, and the conversation it belongs to. */
  pricing: { billable: boolean; category: string; type: string };
  /** Set when this message opened a business-initiated conversation. */
  opensConversation: boolean;
}

function baseStatus(msg: OutboundMessage, status: StatusObject['status'], atMs: number): StatusObject {
  const s: StatusObject = { id: msg.messageId, status, timestamp: unixSeconds(atMs), recipient_id: msg.to };
  if (msg.bizOpaqueCallbackData !== undefined) s.biz_opaque_callback_data = msg.bizOpaqueCallbackData;
  return s;
}

/**
 * Schedules `sent`, then (at the delivered rate) `delivered`, then (at the read rate) `read`, with
 * seeded delays. Meta does not promise order between statuses and neither do subscribers' networks;
 * the emulator publishes in order but the tests of consumers should not rely on it.
 */
export function scheduleDeliveryEvents(ctx: EmulatorContext, msg: OutboundMessage): void {
  const { scheduler, rng, clock } = ctx;
  const d = msg.phone.rules.delivery;
  const sentAfter = drawDelay(rng.delivery, d.sentDelayMs);
  const delivered = rng.delivery.chance(d.deliveredRate);
  const deliveredAfter = sentAfter + drawDelay(rng.delivery, d.deliveredDelayMs);
  const read = delivered && rng.delivery.chance(d.readRate);
  const readAfter = deliveredAfter + drawDelay(rng.delivery, d.readDelayMs);
  const conversationId = rng.delivery.hex(32);
  const origin = { type: msg.pricing.category };
  const pricing = { pricing_model: 'PMP', ...msg.pricing };
  const waba = msg.phone.waba;

  scheduler.after(sentAfter, () => {
    const at = clock.now();
    const status = baseStatus(msg, 'sent', at);
    status.conversation = {
      id: conversationId,
      ...(msg.opensConversation ? { expiration_timestamp: unixSeconds(at + 86_400_000) } : {}),
      origin,
    };
    status.pricing = pricing;
    ctx.events.publish(waba, msg.phone, statusChange(msg.phone, status));
  });
  if (delivered) {
    scheduler.after(deliveredAfter, () => {
      const status = baseStatus(msg, 'delivered', clock.now());
      status.conversation = { id: conversationId, origin };
      status.pricing = pricing;
      ctx.events.publish(waba, msg.phone, statusChange(msg.phone, status));
    });
  }
  if (read) {
    scheduler.after(readAfter, () => {
      ctx.events.publish(waba, msg.phone, statusChange(msg.phone, baseStatus(msg, 'read', clock.now())));
    });
  }
}

/** Schedules the `failed` status of a message Meta accepted but could not deliver. */
export function scheduleFailureEvent(
  ctx: EmulatorContext,
  msg: OutboundMessage,
  code: number,
  details: string,
): void {
  const after = drawDelay(ctx.rng.delivery, msg.phone.rules.delivery.sentDelayMs);
  ctx.scheduler.after(after, () => {
    const status = baseStatus(msg, 'failed', ctx.clock.now());
    const { title } = metaError(code);
    status.errors = [
      {
        code,
        title,
        message: title,
        error_data: { details },
        href: 'https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/',
      },
    ];
    ctx.events.publish(msg.phone.waba, msg.phone, statusChange(msg.phone, status));
  });
}
