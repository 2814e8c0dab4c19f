import { sql } from 'drizzle-orm';
import type { Database } from '../../db/client';
import { activeOnboardingsFor } from '../../db/onboardings';
import { queryRows } from '../../db/query';
import type { InboundSms } from '../../platform/inbound-sms';
import { onboardingWorkflowId } from '../../shared/ids';
import {
  OnboardingStep,
  type OnboardingEventSeen,
  type VerificationCodeReceived,
} from '../../workflows/definitions';
import type { EventContext, PlatformMessage } from '../events/platform-message';
import { asString } from '../events/shape';
import type { PlannedSignal } from '../signals/planned-signal';
import type { BatchItem } from './apply-batch';

type Tx = Pick<Database, 'execute'>;

/**
 * Running onboardings of an event's WABAs and numbers. Usually one WABA and one number, so one query;
 * the cache spares a batch of events of the same number from asking again.
 */
async function onboardingsOf(tx: Tx, context: EventContext, cache: Map<string, string[]>): Promise<string[]> {
  const { wabaIds, phoneNumberIds } = context;
  if (wabaIds.length === 0 && phoneNumberIds.length === 0) return [];
  const key = `${wabaIds.join(',')}|${phoneNumberIds.join(',')}`;
  const cached = cache.get(key);
  if (cached) return cached;
  const ids = new Set<string>();
  for (let i = 0; i < Math.max(wabaIds.length, phoneNumberIds.length); i++) {
    const wabaId = wabaIds[i];
    const phoneNumberId = phoneNumberIds[i];
    const found = await activeOnboardingsFor(tx, {
      ...(wabaId ? { wabaId } : {}),
      ...(phoneNumberId ? { phoneNumberId } : {}),
    });
    for (const id of found) ids.add(id);
  }
  const result = [...ids];
  cache.set(key, result);
  return result;
}

/**
 * What an onboarding learns from an event, as its archive fallback describes it: the field of the first
 * change (a change that names the tier, `current_limit`, if there is one), with its tier and quality.
 */
function describeEvent(
  eventId: number,
  context: EventContext,
  message: PlatformMessage,
): OnboardingEventSeen | undefined {
  const changes = message.entries.flatMap((e) => e.changes);
  const change = changes.find((c) => asString(c.value.current_limit) !== undefined) ?? changes[0];
  if (!change) return undefined;
  const currentLimit = asString(change.value.current_limit);
  const qualityRating = asString(change.value.quality_rating ?? change.value.new_quality_rating);
  const wabaId = context.wabaIds[0];
  const phoneNumberId = context.phoneNumberIds[0];
  return {
    field: change.field,
    ...(wabaId ? { wabaId } : {}),
    ...(phoneNumberId ? { phoneNumberId } : {}),
    ...(currentLimit ? { currentLimit } : {}),
    ...(qualityRating ? { qualityRating } : {}),
    eventId,
  };
}

/** The running onboardings of each item's WABAs and numbers, in item order; one query per distinct pair. */
export async function findOnboardings(tx: Tx, items: readonly BatchItem[]): Promise<string[][]> {
  const cache = new Map<string, string[]>();
  const found: string[][] = [];
  for (const { ctx } of items) found.push(await onboardingsOf(tx, ctx.context, cache));
  return found;
}

/**
 * An event of a WABA or number being onboarded is the proof the onboarding waits for (its events reach
 * this service): each running onboarding of the event's WABA or numbers (`found`, from
 * {@link findOnboardings}) gets `onboardingEventSeen`.
 */
export function planOnboardingSignals(items: readonly BatchItem[], found: readonly string[][]): void {
  items.forEach(({ ctx, message }, i) => {
    const onboardings = found[i] ?? [];
    if (onboardings.length === 0) return;
    const seen = describeEvent(ctx.eventId, ctx.context, message);
    if (!seen) return;
    for (const id of onboardings) {
      ctx.signals.push({ kind: 'onboarding-event', workflowId: onboardingWorkflowId(id), payload: seen });
    }
  });
}

/**
 * The onboardings an inbound SMS's verification code is for: the running onboardings of the two-way SMS
 * number it arrived on that wait for a code. An onboarding mirrors its step into the database only once
 * it has requested the code, so an SMS faster than that finds none waiting yet; then every running
 * onboarding of the number gets it (a workflow that waits for no code drops it).
 */
export async function planVerificationCode(tx: Tx, sms: InboundSms): Promise<PlannedSignal[]> {
  if (!sms.code) return [];
  const running = await activeOnboardingsFor(tx, { smsNumber: sms.destinationNumber });
  if (running.length === 0) return [];
  const waiting = await queryRows<{ id: string }>(
    tx,
    sql`select id from onboardings
        where id in (${sql.join(
          running.map((id) => sql`${id}`),
          sql`, `,
        )}) and step = ${OnboardingStep.AwaitingCode}`,
  );
  const targets = waiting.length > 0 ? running.filter((id) => waiting.some((w) => w.id === id)) : running;
  const payload: VerificationCodeReceived = {
    code: sms.code,
    destinationNumber: sms.destinationNumber,
    ...(sms.inboundMessageId ? { inboundMessageId: sms.inboundMessageId } : {}),
  };
  return targets.map((id) => ({ kind: 'verification-code', workflowId: onboardingWorkflowId(id), payload }));
}
