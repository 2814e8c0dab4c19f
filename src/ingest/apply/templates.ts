import { sql } from 'drizzle-orm';
import { queryRows } from '../../db/query';
import { campaignWorkflowId } from '../../shared/ids';
import { asObject, asString, type JsonObject } from '../events/shape';
import type { ApplyContext } from './context';

// Campaigns that may still send, and so must hear about their template.
const ACTIVE_STATES = sql`('importing', 'running', 'waiting', 'paused')`;

interface TemplateEvent {
  name: string;
  language?: string;
  /** PAUSED, DISABLED, APPROVED … or a quality score GREEN / YELLOW / RED. */
  event: string;
  detail?: string;
  reason?: string;
}

/** Meta writes languages as en_US; people sometimes write en-US. */
const languageKey = (lang: string) => lang.toLowerCase().replace(/-/g, '_');

/**
 * Signals every active campaign that sends this template (same name and language, on a number of the
 * WABA the event came from, or on a number whose WABA we do not know yet). The workflow decides: pause
 * on PAUSED or RED, stop on DISABLED, resume on UNPAUSE / APPROVED / GREEN.
 */
async function signalCampaigns(ctx: ApplyContext, e: TemplateEvent): Promise<void> {
  const wabas = ctx.context.wabaIds;
  const wabaFilter =
    wabas.length === 0
      ? sql`true`
      : sql`(n.waba_id is null or n.waba_id in (${sql.join(
          wabas.map((w) => sql`${w}`),
          sql`, `,
        )}))`;
  const languageFilter = e.language
    ? sql`lower(replace(c.template_language, '-', '_')) = ${languageKey(e.language)}`
    : sql`true`;
  const rows = await queryRows<{ id: string; template_name: string; template_language: string }>(
    ctx.tx,
    sql`select c.id, c.template_name, c.template_language
        from campaigns c left join numbers n on n.phone_number_id = c.phone_number_id
        where lower(c.template_name) = ${e.name.toLowerCase()} and ${languageFilter}
          and c.state in ${ACTIVE_STATES} and ${wabaFilter}`,
  );
  if (rows.length === 0) ctx.effects.unmatched++;
  for (const row of rows) {
    ctx.signals.push({
      kind: 'campaign-template',
      workflowId: campaignWorkflowId(row.id),
      payload: {
        // The campaign's own spelling, which its workflow compares against.
        templateName: row.template_name,
        templateLanguage: row.template_language,
        event: e.event,
        ...(e.detail ? { detail: e.detail } : {}),
        ...(e.reason ? { reason: e.reason } : {}),
      },
    });
  }
}

/** `message_template_status_update`: APPROVED, PAUSED (with FIRST_PAUSE / SECOND_PAUSE), DISABLED … */
export async function applyTemplateStatus(ctx: ApplyContext, value: JsonObject): Promise<void> {
  const name = asString(value.message_template_name);
  const event = asString(value.event)?.toUpperCase();
  if (!name || !event) {
    ctx.effects.ignored.push('template status without name or event');
    return;
  }
  const reason = asString(value.reason);
  const detail = asString(asObject(value.other_info)?.title)?.toUpperCase();
  const language = asString(value.message_template_language);
  await signalCampaigns(ctx, {
    name,
    event,
    ...(language ? { language } : {}),
    ...(detail ? { detail } : {}),
    ...(reason && reason.toUpperCase() !== 'NONE' ? { reason } : {}),
  });
}

/** `message_template_quality_update`: the new score (GREEN / YELLOW / RED) is the event. */
export async function applyTemplateQuality(ctx: ApplyContext, value: JsonObject): Promise<void> {
  const name = asString(value.message_template_name);
  const score = asString(value.new_quality_score)?.toUpperCase();
  if (!name || !score) {
    ctx.effects.ignored.push('template quality without name or score');
    return;
  }
  const previous = asString(value.previous_quality_score)?.toUpperCase();
  const language = asString(value.message_template_language);
  await signalCampaigns(ctx, {
    name,
    event: score,
    ...(language ? { language } : {}),
    reason: `template quality ${previous ? `${previous} → ` : ''}${score}`,
  });
}
