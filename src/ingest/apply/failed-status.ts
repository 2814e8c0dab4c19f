import { sql, type SQL } from 'drizzle-orm';
import { num, queryRows, toMs } from '../../db/query';
import { campaignWorkflowId } from '../../shared/ids';
import { ErrorAction, actionForCode, describeCode } from '../../shared/meta-errors';
import { FailureSource, decideRecipientFailure } from '../../shared/recipient-failure';
import { asNumber, asObject, asString, type JsonObject } from '../events/shape';
import type { ApplyContext } from './context';
import { applyOptChoice } from './opt-out';
import { phoneFromWaId } from './inbound';
import { sideBySide } from '../store/db-errors';
import { recordset } from '../../db/sql-values';

export interface FailedStatus {
  ctx: ApplyContext;
  messageId: string;
  /** Campaign and position from biz_opaque_callback_data; without it the message id is looked up. */
  key?: { campaignId: string; seq: number };
  at: Date;
  errors: JsonObject[];
  /** wa_id of the user the message was for. */
  recipientId?: string;
}

/** A recipient as the batch has left it so far. */
interface RecipientRow {
  campaign_id: string;
  seq: number;
  phone: string;
  state: string;
  attempts: number;
  message_id: string | null;
  deadline: unknown;
  template_name: string;
  template_language: string;
}

/** The one write a batch makes to a recipient, however many of its failures the batch holds. */
interface RecipientUpdate {
  campaign_id: string;
  seq: number;
  state: string;
  message_id: string | null;
  error_code: number | null;
  error_message: string;
  next_attempt_at: string | null;
  /** When it finally failed; null keeps the stored time. */
  failed_at: string | null;
  /** Tries given back (a braked campaign's failure does not count against the user). */
  attempts_delta: number;
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

const keyOf = (campaignId: string, seq: number) => `${campaignId}\n${seq}`;

/**
 * The recipient each failed status is about (undefined where none matches), locked for the batch. Rows
 * are read in one statement per kind of match, sent together; a recipient named by several statuses is
 * one shared object, so each status sees what the ones before it did.
 */
async function findRecipients(
  tx: ApplyContext['tx'],
  items: readonly FailedStatus[],
): Promise<(RecipientRow | undefined)[]> {
  const byKey = items.flatMap((f, i) =>
    f.key ? [{ i, campaign_id: f.key.campaignId, seq: f.key.seq }] : [],
  );
  const byMessage = items.flatMap((f, i) => (f.key ? [] : [{ i, message_id: f.messageId }]));
  const select = (source: SQL, join: SQL) =>
    queryRows<Omit<RecipientRow, 'attempts' | 'seq'> & { i: unknown; seq: unknown; attempts: unknown }>(
      tx,
      sql`select v.i, r.campaign_id, r.seq, r.phone, r.state, r.attempts, r.message_id, c.deadline,
                 c.template_name, c.template_language
          from ${source} join recipients r on ${join} join campaigns c on c.id = r.campaign_id
          order by r.campaign_id, r.seq
          for update of r`,
    );
  const [keyed, messaged] = await sideBySide(
    byKey.length > 0
      ? select(
          recordset(byKey, 'v', 'i int, campaign_id text, seq int'),
          sql`r.campaign_id = v.campaign_id and r.seq = v.seq`,
        )
      : Promise.resolve([]),
    byMessage.length > 0
      ? select(recordset(byMessage, 'v', 'i int, message_id text'), sql`r.message_id = v.message_id`)
      : Promise.resolve([]),
  );
  const shared = new Map<string, RecipientRow>();
  const found: (RecipientRow | undefined)[] = items.map(() => undefined);
  for (const r of [...keyed, ...messaged]) {
    const i = num(r.i);
    if (found[i]) continue;
    const key = keyOf(r.campaign_id, num(r.seq));
    let row = shared.get(key);
    if (!row) {
      row = { ...r, seq: num(r.seq), attempts: num(r.attempts) };
      shared.set(key, row);
    }
    found[i] = row;
  }
  return found;
}

/**
 * `failed` statuses feed the campaign's retry plan: the recipient is retried, expired, failed or
 * suppressed by the same rule as a synchronous error, and codes that concern the whole campaign brake it
 * through its workflow. A status for a row that has moved on (another message, or already delivered)
 * is only recorded. The statuses of a batch are decided in order, as if applied one by one, and written
 * with one statement.
 */
export async function applyFailedStatuses(
  tx: ApplyContext['tx'],
  items: readonly FailedStatus[],
): Promise<void> {
  if (items.length === 0) return;
  const rows = await findRecipients(tx, items);
  const updates = new Map<string, RecipientUpdate>();
  for (const [i, f] of items.entries()) {
    const row = rows[i];
    const { ctx } = f;
    const { code, text } = firstError(f.errors);
    const action = code === undefined ? ErrorAction.Drop : actionForCode(code);
    const userPhone = f.recipientId ? phoneFromWaId(f.recipientId) : undefined;

    // The user's choice holds whether or not we can place the message: never market to them again.
    if (action === ErrorAction.Suppress && (row?.phone ?? userPhone)) {
      await applyOptChoice(ctx, {
        phone: row?.phone ?? (userPhone as string),
        choice: 'stop',
        at: f.at,
        source: 'status-131050',
        reason: 'user stopped marketing messages (131050)',
        detail: { messageId: f.messageId, ...(row ? { campaignId: row.campaign_id, seq: row.seq } : {}) },
      });
    }
    if (!row) {
      ctx.effects.unmatched++;
      continue;
    }

    if (code !== undefined) planCampaignBrake(ctx, row, action, code);

    const current = row.message_id === null || row.message_id === f.messageId;
    const open =
      ['sending', 'ambiguous', 'sent'].includes(row.state) ||
      (row.state === 'pending' && row.message_id === null);
    if (!current || !open) continue;

    const deadlineMs = toMs(row.deadline);
    const plan = decideRecipientFailure({
      source: FailureSource.Status,
      action,
      attempts: Math.max(1, row.attempts),
      nowMs: ctx.now,
      failedAtMs: f.at.getTime(),
      ...(deadlineMs !== undefined ? { deadlineMs } : {}),
    });
    // What one-by-one updates would have left: the batch's later statuses see it.
    row.state = plan.state;
    row.message_id = row.message_id ?? f.messageId;
    if (plan.uncount) row.attempts -= 1;
    const key = keyOf(row.campaign_id, row.seq);
    const before = updates.get(key);
    updates.set(key, {
      campaign_id: row.campaign_id,
      seq: row.seq,
      state: plan.state,
      message_id: row.message_id,
      error_code: code ?? null,
      error_message: text,
      next_attempt_at:
        plan.nextAttemptAtMs === undefined ? null : new Date(plan.nextAttemptAtMs).toISOString(),
      failed_at: plan.state !== 'pending' ? f.at.toISOString() : (before?.failed_at ?? null),
      attempts_delta: (before?.attempts_delta ?? 0) - (plan.uncount ? 1 : 0),
    });
    ctx.effects.changed++;
  }
  if (updates.size === 0) return;
  const source = recordset(
    [...updates.values()],
    'v',
    'campaign_id text, seq int, state text, message_id text, error_code int, error_message text, ' +
      'next_attempt_at timestamptz, failed_at timestamptz, attempts_delta int',
  );
  await tx.execute(
    sql`update recipients r set
          state = v.state,
          message_id = coalesce(r.message_id, v.message_id),
          error_code = v.error_code,
          error_message = v.error_message,
          next_attempt_at = v.next_attempt_at,
          failed_at = coalesce(v.failed_at, r.failed_at),
          attempts = r.attempts + v.attempts_delta,
          sending_since = null,
          updated_at = now()
        from ${source}
        where r.campaign_id = v.campaign_id and r.seq = v.seq`,
  );
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
