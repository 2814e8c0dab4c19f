import { z } from 'zod';
import { faultSchema, formatIssues, QUALITY_SCORES, TEMPLATE_STATUSES, TIERS } from '../config';
import type { EmulatorContext } from '../context';
import { changePhoneNumber, startThroughputUpgrade } from '../events/number-lifecycle';
import { changeTemplate } from '../events/template-lifecycle';
import { ControlError } from '../http/control-errors';
import type { EmulatorRequest, HandlerResult, Router } from '../http/router';
import { newWamid, normalizePhoneNumberId, toWaId } from '../ids';
import { metaErrorCatalogue } from '../meta/error-catalog';
import { inboundTextChange, userPreferencesChange } from '../meta/webhook-entries';
import type { AppendLog } from '../world/logs';
import type { PhoneNumberState } from '../world/state';
import { stateView } from './state-view';

/** Parses a control request body, answering 400 with every bad field named. */
function body<S extends z.ZodType>(schema: S, req: EmulatorRequest): z.output<S> {
  let json: unknown = {};
  if (req.body.length > 0) {
    try {
      json = JSON.parse(req.body.toString('utf8'));
    } catch {
      throw new ControlError(400, 'body is not valid JSON');
    }
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) throw new ControlError(400, formatIssues(parsed.error.issues));
  return parsed.data;
}

function page<T>(log: AppendLog<T>, req: EmulatorRequest): HandlerResult {
  const q = z
    .object({
      since: z.coerce.number().int().nonnegative().default(0),
      limit: z.coerce.number().int().min(1).max(100_000).default(10_000),
    })
    .safeParse(Object.fromEntries(req.query.entries()));
  if (!q.success) throw new ControlError(400, formatIssues(q.error.issues));
  return { json: log.page(q.data.since, q.data.limit) };
}

/** A number by AWS id, ARN or Meta phone number id. */
function findPhone(ctx: EmulatorContext, id: string): PhoneNumberState {
  const phone =
    ctx.world.numbers.get(normalizePhoneNumberId(id)) ??
    [...ctx.world.numbers.values()].find((p) => p.metaPhoneNumberId === id);
  if (!phone) throw new ControlError(404, `no phone number ${id}`);
  return phone;
}

const waId = z.string().regex(/^\+?[\d\s().-]{5,30}$/, 'expected a phone number');

const schemas = {
  templateQuality: z
    .strictObject({
      name: z.string().min(1),
      language: z.string().min(1),
      quality: z.enum(QUALITY_SCORES).optional(),
      status: z.enum(TEMPLATE_STATUSES).optional(),
      reason: z.string().optional(),
      wabaId: z.string().optional(),
    })
    .refine((b) => b.quality !== undefined || b.status !== undefined, {
      message: 'give quality, status or both',
    }),
  inbound: z.strictObject({
    phoneNumberId: z.string().min(1),
    from: waId,
    text: z.string().min(1),
    name: z.string().optional(),
  }),
  preferences: z.strictObject({
    phoneNumberId: z.string().min(1),
    from: waId,
    value: z.enum(['stop', 'resume']),
    name: z.string().optional(),
  }),
  numberQuality: z.strictObject({
    phoneNumberId: z.string().min(1),
    quality: z.enum(['GREEN', 'YELLOW', 'RED']).optional(),
    tier: z.enum(TIERS).optional(),
    event: z
      .enum(['FLAGGED', 'UNFLAGGED', 'DOWNGRADE', 'UPGRADE', 'ONBOARDING', 'THROUGHPUT_UPGRADE'])
      .optional(),
  }),
  throughputUpgrade: z.strictObject({
    phoneNumberId: z.string().min(1),
    durationMs: z.number().int().positive().default(60_000),
  }),
  faults: z.strictObject({
    faults: z.array(faultSchema),
    mode: z.enum(['replace', 'add']).default('replace'),
  }),
  advance: z.strictObject({ ms: z.number().int().nonnegative() }),
};

/**
 * The control surface under /_emulator/: read what happened (sends, rejections, violations, events,
 * state), make the world move (inbound messages, preference changes, template and number quality,
 * throughput upgrades, time), and inject faults.
 */
export function registerControlRoutes(router: Router, ctx: EmulatorContext, reset: () => void): void {
  const add = (method: string, path: string, handler: (req: EmulatorRequest) => HandlerResult): void =>
    router.add(method, `/_emulator${path}`, 'control', handler);

  add('GET', '/health', () => ({ json: { ok: true } }));
  add('GET', '/state', () => ({ json: stateView(ctx) }));
  add('GET', '/sends', (req) => page(ctx.logs.sends, req));
  add('GET', '/rejections', (req) => page(ctx.logs.rejections, req));
  add('GET', '/violations', (req) => page(ctx.logs.violations, req));
  add('GET', '/events', (req) => page(ctx.logs.events, req));
  // Which Meta codes this run reports on the call and which in `failed` events, and as which exception.
  add('GET', '/errors', () => ({
    json: {
      errors: metaErrorCatalogue().map((e) => ({
        ...e,
        surface: ctx.config.errorSurfaces[String(e.code)] ?? e.surface,
      })),
    },
  }));

  add('POST', '/templates/quality', (req) => {
    const b = body(schemas.templateQuality, req);
    const found = ctx.world.findTemplateAnywhere(b.name, b.language, b.wabaId);
    if (!found) throw new ControlError(404, `no template ${b.name} in ${b.language}`);
    changeTemplate(ctx, found.waba, found.template, b);
    const t = found.template;
    return {
      json: {
        name: t.name,
        language: t.language,
        status: t.status,
        quality: t.quality,
        pauseCount: t.pauseCount,
        pausedUntilMs: t.pausedUntilMs ?? null,
      },
    };
  });

  add('POST', '/inbound', (req) => {
    const b = body(schemas.inbound, req);
    const phone = findPhone(ctx, b.phoneNumberId);
    const now = ctx.clock.now();
    const from = toWaId(b.from);
    // Inbound messages use the number's throughput too; a user cannot be refused, so it only counts.
    phone.throughput.record(now);
    ctx.world.serviceWindows.open(phone.id, from, now);
    const id = newWamid(ctx.rng.ids, from, ctx.world.nextSeq());
    const name = b.name ?? ctx.config.users.names[from] ?? 'WhatsApp User';
    ctx.events.publish(
      phone.waba,
      phone,
      inboundTextChange(phone, { from, name, id, atMs: now, text: b.text }),
    );
    return { json: { messageId: id, serviceWindowOpenUntilMs: now + phone.rules.serviceWindowMs } };
  });

  add('POST', '/users/preferences', (req) => {
    const b = body(schemas.preferences, req);
    const phone = findPhone(ctx, b.phoneNumberId);
    const from = toWaId(b.from);
    const key = `${phone.waba.id}|${from}`;
    if (b.value === 'stop') ctx.world.marketingStopped.add(key);
    else ctx.world.marketingStopped.delete(key);
    const name = b.name ?? ctx.config.users.names[from] ?? 'WhatsApp User';
    ctx.events.publish(
      phone.waba,
      phone,
      userPreferencesChange(phone, { waId: from, name }, b.value, ctx.clock.now()),
    );
    return { json: { wa_id: from, value: b.value } };
  });

  add('POST', '/numbers/quality', (req) => {
    const b = body(schemas.numberQuality, req);
    const phone = findPhone(ctx, b.phoneNumberId);
    const event = changePhoneNumber(ctx, phone, b);
    return { json: { id: phone.id, quality: phone.quality, tier: phone.tier, event } };
  });

  add('POST', '/numbers/throughput-upgrade', (req) => {
    const b = body(schemas.throughputUpgrade, req);
    const phone = findPhone(ctx, b.phoneNumberId);
    return { json: { id: phone.id, upgradeUntilMs: startThroughputUpgrade(ctx, phone, b.durationMs) } };
  });

  add('GET', '/faults', () => ({ json: { faults: ctx.faults.list() } }));
  add('POST', '/faults', (req) => {
    const b = body(schemas.faults, req);
    if (b.mode === 'add') ctx.faults.add(b.faults);
    else ctx.faults.replace(b.faults);
    return { json: { faults: ctx.faults.list() } };
  });
  add('DELETE', '/faults', () => {
    ctx.faults.replace([]);
    return { json: { faults: [] } };
  });

  add('GET', '/clock', () => ({ json: { nowMs: ctx.clock.now() } }));
  add('POST', '/clock/advance', (req) => {
    const b = body(schemas.advance, req);
    // Whatever falls due in the jump (status events, unpauses) happens on the way, in order.
    ctx.scheduler.advanceBy(b.ms);
    return { json: { nowMs: ctx.clock.now() } };
  });

  add('POST', '/reset', () => {
    reset();
    return { json: { ok: true, nowMs: ctx.clock.now() } };
  });
}
