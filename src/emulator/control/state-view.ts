import type { EmulatorContext } from '../context';
import type { PhoneNumberState, TemplateState } from '../world/state';

/** A number's status as Meta shows it: Restricted once the tier is used up for the window. */
function phoneStatus(phone: PhoneNumberState, used: number, limit: number): string {
  if (!phone.registered) return 'PENDING';
  if (used >= limit) return 'RESTRICTED';
  if (phone.flagged) return 'FLAGGED';
  return 'CONNECTED';
}

function phoneView(ctx: EmulatorContext, phone: PhoneNumberState): Record<string, unknown> {
  const now = ctx.clock.now();
  const budget = ctx.world.budgetFor(phone);
  const used = budget.ledger.used(now);
  return {
    id: phone.id,
    arn: phone.arn,
    metaPhoneNumberId: phone.metaPhoneNumberId,
    displayPhoneNumber: phone.displayPhoneNumber,
    registered: phone.registered,
    status: phoneStatus(phone, used, budget.limit),
    quality: phone.quality,
    tier: phone.tier,
    throughputMps: phone.rules.throughputMps,
    messagesLastSecond: phone.throughput.countAt(now),
    upgradeUntilMs: phone.upgradeUntilMs ?? null,
    messagingLimit: {
      scopeKey: budget.scopeKey,
      tier: budget.tier,
      limit: Number.isFinite(budget.limit) ? budget.limit : null,
      used,
      nextReleaseMs: budget.ledger.nextRelease(now) ?? null,
    },
    rules: phone.rules,
  };
}

function templateView(t: TemplateState): Record<string, unknown> {
  return {
    name: t.name,
    language: t.language,
    category: t.category,
    status: t.status,
    quality: t.quality,
    metaTemplateId: t.metaTemplateId,
    bodyParameters: t.bodyParams,
    headerFormat: t.header?.format ?? null,
    pauseCount: t.pauseCount,
    pausedUntilMs: t.pausedUntilMs ?? null,
  };
}

/** GET /_emulator/state: the world at a glance, for demos and tests. */
export function stateView(ctx: EmulatorContext): Record<string, unknown> {
  const { world, logs } = ctx;
  return {
    nowMs: ctx.clock.now(),
    seed: ctx.seed,
    accountId: ctx.config.accountId,
    region: ctx.config.region,
    messagingLimitScope: ctx.config.messagingLimitScope,
    wabas: [...world.wabas.values()].map((waba) => ({
      id: waba.id,
      arn: waba.arn,
      wabaId: waba.wabaId,
      name: waba.name,
      portfolioId: waba.portfolioId,
      registrationStatus: world.registrationStatus(waba),
      eventDestinations: waba.eventDestinations,
      phoneNumbers: waba.phoneNumbers.map((p) => phoneView(ctx, p)),
      templates: waba.templates.map(templateView),
    })),
    counts: {
      sends: logs.sends.total,
      rejections: logs.rejections.total,
      violations: logs.violations.total,
      events: logs.events.total,
      scheduledTasks: ctx.scheduler.size,
      media: world.media.size,
    },
    subscriptions: ctx.sns.list(),
    faults: ctx.faults.list(),
  };
}
