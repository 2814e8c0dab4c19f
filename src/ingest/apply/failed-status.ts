import { sql, type SQL } from 'drizzle-orm';
import { num, queryRows, toMs } from '../../db/query';
import { campaignWorkflowId } from '../../shared/ids';
import { ErrorAction, actionForCode, describeCode } from '../../shared/meta-errors';
import { asNumber, asObject, asString, type JsonObject } from '../events/shape';
import type { ApplyContext } from './context';
import { planFailure } from './failure-plan';
import { applyOptChoice } from './opt-out';
import { phoneFromWaId } from './inbound';
import { timestamp } from '../store/sql-values';

export interface FailedStatus {
  messageId: string;
  match: SQL;
  at: Date;
  errors: JsonObject[];
  /** wa_id of the user the message was for. */
  recipientId?: string;
}

interface RecipientRow {
  campaign_id: string;
  seq: number;
  phone: string;
  state: string;
  attempts: unknown;
  message_id: string | null;
  deadline: unknown;
  template_name: string;
  template_language: string;
}

/** The first error that carries a code, which is the one Meta's guidance is about. */
function firstError(errors: JsonObject[]): { code?: number; text: string } {
  for (const e of errors) {
    const code = asNumber(e.code);
    if (code === undefined) continue;
    const details = asString(asObject(e.error_data)?.details);
    const text = [asString(e.title), asString(e.message), details].filter(Boolean).join(': ');
    return { code, text: (text || `error ${code}`).slice(0, 500) };
  }
  return { text: 'failed without an error code' };
}

/**
 * A `failed` status feeds the campaign's retry plan: the recipient is retried, expired, failed or
 * suppressed by the same rule as a synchronous error, and codes that concern the whole campaign brake it
 * through its workflow. A status for a row that has moved on (another message, or already delivered)
 * is only recorded.
 */
export async function applyFailedStatus(ctx: ApplyContext, f: FailedStatus): Promise<void> {
  const { code, text } = firstError(f.errors);
  const action = code === undefined ? ErrorAction.Drop : actionForCode(code);
  const userPhone = f.recipientId ? phoneFromWaId(f.recipientId) : undefined;

  const [row] = await queryRows<RecipientRow>(
    ctx.tx,
    sql`select r.campaign_id, r.seq, r.phone, r.state, r.attempts, r.message_id, c.deadline,
               c.template_name, c.template_language
        from recipients r join campaigns c on c.id = r.campaign_id
        where ${f.match} for update of r`,
  );

  // The user's choice holds whether or not we can place the message: never market to them again.
  if (action === ErrorAction.Suppress && (row?.phone ?? userPhone)) {
    await applyOptChoice(ctx, {
      phone: row?.phone ?? (userPhone as string),
      choice: 'stop',
      at: f.at,
      source: 'status-131050',
      reason: 'user stopped marketing messages (131050)',
      detail: { messageId: f.messageId, ...(row ? { campaignId: row.campaign_id, seq: num(row.seq) } : {}) },
    });
  }
  if (!row) {
    ctx.effects.unmatched++;
    return;
  }

  if (code !== undefined) planCampaignBrake(ctx, row, action, code);

  const current = row.message_id === null || row.message_id === f.messageId;
  const open =
    ['sending', 'ambiguous', 'sent'].includes(row.state) ||
    (row.state === 'pending' && row.message_id === null);
  if (!current || !open) return;

  const deadlineMs = toMs(row.deadline);
  const plan = planFailure({
    action,
    attempts: Math.max(1, num(row.attempts)),
    nowMs: ctx.now,
    failedAtMs: f.at.getTime(),
    ...(deadlineMs !== undefined ? { deadlineMs } : {}),
  });
  const final = plan.state !== 'pending';
  await ctx.tx.execute(
    sql`update recipients r set
          state = ${plan.state},
          message_id = coalesce(r.message_id, ${f.messageId}),
          error_code = ${code ?? null},
          error_message = ${text},
          next_attempt_at = ${timestamp(plan.nextAttemptAt)},
          failed_at = ${final ? timestamp(f.at) : sql`r.failed_at`},
          attempts = ${plan.uncount ? sql`r.attempts - 1` : sql`r.attempts`},
          sending_since = null,
          updated_at = now()
        where r.campaign_id = ${row.campaign_id} and r.seq = ${num(row.seq)}`,
  );
  ctx.effects.changed++;
}

/** Template and account codes concern the whole campaign: tell its workflow. */
function planCampaignBrake(ctx: ApplyContext, row: RecipientRow, action: ErrorAction, code: number): void {
  const workflowId = campaignWorkflowId(row.campaign_id);
  if (action === ErrorAction.PauseTemplate) {
    ctx.signals.push({
      kind: 'campaign-template',
      workflowId,
      payload: {
        templateName: row.template_name,
        templateLanguage: row.template_language,
        event: 'PAUSED',
        reason: describeCode(code),
      },
    });
  } else if (action === ErrorAction.StopTemplate || action === ErrorAction.StopCampaign) {
    ctx.signals.push({
      kind: 'campaign-stop',
      workflowId,
      payload: { event: `ERROR_${code}`, reason: describeCode(code), stop: true },
    });
  }
}
