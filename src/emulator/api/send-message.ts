import { z } from 'zod';
import type { EmulatorContext } from '../context';
import {
  scheduleDeliveryEvents,
  scheduleFailureEvent,
  type OutboundMessage,
} from '../events/message-lifecycle';
import { AwsError, metaAwsError } from '../http/aws-errors';
import { jsonBody, parseInput } from '../http/aws-input';
import type { EmulatorRequest, HandlerResult } from '../http/router';
import { newWamid, normalizePhoneNumberId } from '../ids';
import { metaError, type Surface } from '../meta/error-catalog';
import { MalformedMessage, parseMessage, type ParsedMessage } from '../meta/message-schema';
import { applyLatency, injectedError } from './faults';
import { checkRecipient, recordMarketingReceived } from '../rules/recipient-checks';
import { checkTemplate, type RuleFailure } from '../rules/template-checks';
import type { RejectionRecord } from '../world/records';
import type { PhoneNumberState, TemplateState } from '../world/state';

const OPERATION = 'SendWhatsAppMessage';
// AWS's limit on the message blob.
const MAX_MESSAGE_BYTES = 2_048_000;

const inputSchema = z.object({
  originationPhoneNumberId: z.string().min(1),
  message: z.string().min(1),
  metaApiVersion: z.string().regex(/^v\d+\.\d+$/, 'Member must look like v20.0'),
});

type Ref = Pick<RejectionRecord, 'originationPhoneNumberId' | 'to' | 'template'>;

function reject(ctx: EmulatorContext, ref: Ref, err: AwsError, reason: string): AwsError {
  const log = ctx.logs.rejections;
  log.push({
    index: log.total,
    atMs: ctx.clock.now(),
    operation: OPERATION,
    ...ref,
    code: err.metaCode ?? null,
    awsError: err.awsName,
    surface: 'sync',
    reason,
    message: err.message,
  });
  return err;
}

function surfaceOf(ctx: EmulatorContext, code: number, override?: Surface): Surface {
  return override ?? ctx.config.errorSurfaces[String(code)] ?? metaError(code).surface;
}

/**
 * SendWhatsAppMessage: checks the call like AWS (input, quota, number), the message like Meta
 * (shape, throughput, template, window, pair rate, recipient, tier), then either refuses it with an
 * AWS exception carrying `(#code)`, or accepts it, records it, and schedules its status events
 * (`failed` ones for errors that surface asynchronously).
 */
export async function sendWhatsAppMessage(
  ctx: EmulatorContext,
  req: EmulatorRequest,
): Promise<HandlerResult> {
  const ref: Ref = {};
  let input: z.output<typeof inputSchema>;
  try {
    input = parseInput(inputSchema, jsonBody(req));
  } catch (err) {
    if (err instanceof AwsError) throw reject(ctx, ref, err, 'validation');
    throw err;
  }
  const phoneId = normalizePhoneNumberId(input.originationPhoneNumberId);
  ref.originationPhoneNumberId = phoneId;
  const bytes = Buffer.from(input.message, 'base64');
  if (bytes.length > MAX_MESSAGE_BYTES) {
    throw reject(
      ctx,
      ref,
      new AwsError(
        'ValidationException',
        `1 validation error detected: Value at 'message' failed to satisfy constraint: Member must have length less than or equal to ${MAX_MESSAGE_BYTES}`,
      ),
      'validation',
    );
  }

  const quota = ctx.quotas.send;
  if (quota) {
    const now = ctx.clock.now();
    if (quota.wouldExceed(now))
      throw reject(ctx, ref, new AwsError('ThrottledRequestException', 'Rate exceeded'), 'account-quota');
    quota.record(now);
  }

  const phone = ctx.world.numbers.get(phoneId);
  if (!phone) {
    throw reject(
      ctx,
      ref,
      new AwsError('ResourceNotFoundException', `Phone number ${phoneId} was not found`),
      'unknown-number',
    );
  }

  let message: ParsedMessage;
  try {
    message = parseMessage(bytes);
  } catch (err) {
    if (err instanceof MalformedMessage) throw reject(ctx, ref, metaAwsError(100, err.message), 'malformed');
    throw err;
  }
  if (message.kind === 'message') {
    ref.to = message.to;
    if (message.template)
      ref.template = { name: message.template.name, language: message.template.language.code };
  }

  const faults = ctx.faults.decide({ operation: OPERATION, phoneNumberId: phoneId, to: ref.to });
  await applyLatency(faults);
  let asyncFault: RuleFailure | undefined;
  if (faults.error) {
    const code = faults.error.code;
    if (
      code !== undefined &&
      message.kind === 'message' &&
      surfaceOf(ctx, code, faults.error.surface) === 'async'
    ) {
      asyncFault = { code, details: faults.error.message ?? 'injected fault', reason: 'fault' };
    } else {
      throw reject(ctx, ref, injectedError(faults.error), 'fault');
    }
  }

  if (!phone.registered) {
    throw reject(
      ctx,
      ref,
      metaAwsError(133010, `${phoneId} has not finished registration`),
      'not-registered',
    );
  }
  if (message.kind === 'mark-read') {
    // Read receipts for inbound messages: acknowledged, but not a message, so nothing is counted.
    const result: HandlerResult = { json: { messageId: message.messageId } };
    return faults.lost ? { lost: faults.lost } : result;
  }

  const outcome = evaluate(ctx, phone, message, asyncFault);
  if (outcome.kind === 'refused') {
    throw reject(
      ctx,
      ref,
      metaAwsError(outcome.failure.code, outcome.failure.details),
      outcome.failure.reason,
    );
  }
  const messageId = accept(ctx, phone, message, outcome);
  return faults.lost ? { lost: faults.lost } : { json: { messageId } };
}

type Evaluation =
  | { kind: 'refused'; failure: RuleFailure }
  | {
      kind: 'accepted';
      template?: TemplateState | undefined;
      inServiceWindow: boolean;
      /** Counts the user against the tier on acceptance. */
      reachesUser: boolean;
      /** The message will get a `failed` status instead of being delivered. */
      asyncFailure?: RuleFailure | undefined;
    };

function evaluate(
  ctx: EmulatorContext,
  phone: PhoneNumberState,
  message: Extract<ParsedMessage, { kind: 'message' }>,
  asyncFault: RuleFailure | undefined,
): Evaluation {
  const now = ctx.clock.now();
  const { world } = ctx;
  const rules = phone.rules;
  const user = message.to;
  const checks: (() => RuleFailure | undefined)[] = [];
  let template: TemplateState | undefined;
  const inServiceWindow = world.serviceWindows.isOpen(phone.id, user, now, rules.serviceWindowMs);

  checks.push(() =>
    phone.upgradeUntilMs !== undefined && now < phone.upgradeUntilMs
      ? {
          code: 131057,
          details: `${phone.id} is being upgraded to higher throughput`,
          reason: 'throughput-upgrade',
        }
      : undefined,
  );
  checks.push(() =>
    phone.throughput.wouldExceed(now)
      ? {
          code: 130429,
          details: `${phone.id} already sent ${phone.throughput.capacity} messages in the last second`,
          reason: 'throughput',
        }
      : undefined,
  );
  checks.push(() => {
    if (!message.template) return undefined;
    const result = checkTemplate(phone.waba, message.template);
    if ('code' in result) return result;
    template = result.template;
    return undefined;
  });
  checks.push(() =>
    !message.template && !inServiceWindow
      ? {
          code: 131047,
          details: `no message from ${user} in the last 24 hours: send a template`,
          reason: 'service-window',
        }
      : undefined,
  );
  checks.push(() => {
    for (const id of message.mediaIds) {
      const media = world.media.get(id);
      if (!media || media.phoneNumberId !== phone.id) {
        return { code: 100, details: `media ${id} was not uploaded from ${phone.id}`, reason: 'media' };
      }
    }
    return undefined;
  });
  checks.push(() =>
    phone.pairRate.wouldExceed(user, now, rules.pairRate.intervalMs, rules.pairRate.burst)
      ? { code: 131056, details: `too many messages to ${user} from ${phone.id}`, reason: 'pair-rate' }
      : undefined,
  );
  checks.push(() => checkRecipient(world, phone, user, template, now, ctx.rng.recipients));

  for (const check of checks) {
    const failure = check();
    if (!failure) continue;
    if (surfaceOf(ctx, failure.code) === 'sync') return { kind: 'refused', failure };
    return { kind: 'accepted', template, inServiceWindow, reachesUser: false, asyncFailure: failure };
  }
  if (asyncFault)
    return { kind: 'accepted', template, inServiceWindow, reachesUser: false, asyncFailure: asyncFault };

  // The tier: a template outside a service window to a user not yet counted opens a conversation.
  if (!template || inServiceWindow)
    return { kind: 'accepted', template, inServiceWindow, reachesUser: false };
  const budget = world.budgetFor(phone);
  if (budget.ledger.isCounted(user, now))
    return { kind: 'accepted', template, inServiceWindow, reachesUser: false };
  const used = budget.ledger.used(now);
  if (used < budget.limit) return { kind: 'accepted', template, inServiceWindow, reachesUser: true };

  const { action, code } = ctx.config.overLimit;
  const violations = ctx.logs.violations;
  violations.push({
    index: violations.total,
    atMs: now,
    kind: 'messaging-limit',
    originationPhoneNumberId: phone.id,
    to: user,
    scopeKey: budget.scopeKey,
    tier: budget.tier,
    limit: budget.limit,
    used,
    action,
  });
  ctx.logger.warn({ phoneNumberId: phone.id, tier: budget.tier, used }, 'send past the messaging limit');
  const failure: RuleFailure = {
    code,
    details: `messaging limit ${budget.tier} reached: ${used} users in the rolling window`,
    reason: 'messaging-limit',
  };
  if (action === 'reject') return { kind: 'refused', failure };
  if (action === 'fail-async')
    return { kind: 'accepted', template, inServiceWindow, reachesUser: false, asyncFailure: failure };
  return { kind: 'accepted', template, inServiceWindow, reachesUser: true };
}

function accept(
  ctx: EmulatorContext,
  phone: PhoneNumberState,
  message: Extract<ParsedMessage, { kind: 'message' }>,
  outcome: Extract<Evaluation, { kind: 'accepted' }>,
): string {
  const now = ctx.clock.now();
  const { world } = ctx;
  const user = message.to;
  const { template, asyncFailure } = outcome;
  const messageId = newWamid(ctx.rng.ids, user, world.nextSeq());
  const templateRef = message.template
    ? { name: message.template.name, language: message.template.language.code }
    : undefined;

  phone.throughput.record(now);
  const sends = ctx.logs.sends;
  sends.push({
    index: sends.total,
    messageId,
    originationPhoneNumberId: phone.id,
    to: user,
    type: message.type,
    template: templateRef,
    acceptedAtMs: now,
    bizOpaqueCallbackData: message.bizOpaqueCallbackData,
    body: message.body,
    asyncFailureCode: asyncFailure?.code,
  });

  const category = template ? template.category.toLowerCase() : 'service';
  const free = !template || (outcome.inServiceWindow && template.category !== 'MARKETING');
  const outbound: OutboundMessage = {
    messageId,
    phone,
    to: user,
    bizOpaqueCallbackData: message.bizOpaqueCallbackData,
    pricing: { billable: !free, category, type: free ? 'free_customer_service' : 'regular' },
    opensConversation: outcome.reachesUser,
  };

  if (asyncFailure) {
    const rejections = ctx.logs.rejections;
    rejections.push({
      index: rejections.total,
      atMs: now,
      operation: OPERATION,
      originationPhoneNumberId: phone.id,
      to: user,
      template: templateRef,
      code: asyncFailure.code,
      surface: 'async',
      messageId,
      reason: asyncFailure.reason,
      message: `(#${asyncFailure.code}) ${metaError(asyncFailure.code).title}: ${asyncFailure.details}`,
    });
    scheduleFailureEvent(ctx, outbound, asyncFailure.code, asyncFailure.details);
    return messageId;
  }

  phone.pairRate.record(user, now, phone.rules.pairRate.intervalMs);
  if (outcome.reachesUser) world.budgetFor(phone).ledger.reach(user, now);
  if (template?.category === 'MARKETING')
    recordMarketingReceived(world, user, now, phone.rules.marketingCap.windowMs);
  scheduleDeliveryEvents(ctx, outbound);
  return messageId;
}
