import { and, eq, inArray, sql } from 'drizzle-orm';
import { campaigns } from './schema';
import { num, queryRows } from './query';
import type { Database } from './client';
import type { CampaignState } from '../shared/workflow-contracts';

export interface RecordCampaignStateInput {
  campaignId: string;
  state: CampaignState;
  reason?: string;
  final?: boolean;
}

/** Mirrors a campaign's state into the database, so listings need not ask every workflow. */
export async function recordCampaignState(db: Database, input: RecordCampaignStateInput): Promise<void> {
  await db
    .update(campaigns)
    .set({
      state: input.state,
      reason: input.reason ?? null,
      updatedAt: sql`now()`,
      ...(input.final ? { finishedAt: sql`now()` } : {}),
    })
    .where(eq(campaigns.id, input.campaignId));
}

export interface CloseRecipientsInput {
  campaignId: string;
  /** What the unsent recipients become: `cancelled` or `expired`. */
  as: 'cancelled' | 'expired';
  reason: string;
}

/** Gives every recipient that was never sent a final state, so a stopped campaign leaves nothing unknown. */
export async function closeRecipients(db: Database, input: CloseRecipientsInput): Promise<number> {
  const rows = await queryRows<{ seq: number }>(
    db,
    sql`update recipients set state = ${input.as}, error_message = coalesce(error_message, ${input.reason}),
          next_attempt_at = null, updated_at = now()
        where campaign_id = ${input.campaignId} and state = 'pending' returning seq`,
  );
  return rows.length;
}

export interface CampaignCounts {
  total: number;
  pending: number;
  sent: number;
  delivered: number;
  read: number;
  failed: number;
  skipped: number;
  cancelled: number;
  expired: number;
  ambiguous: number;
  /** Sent or not, nobody knows: no status event came and the campaign would not risk a second message. */
  unknown: number;
}

/**
 * Recipients by current state; each recipient is in exactly one bucket, so the buckets add up to the
 * total (`sending` counts as pending).
 */
export async function campaignCounts(db: Database, campaignId: string): Promise<CampaignCounts> {
  const rows = await queryRows<{ state: string; n: unknown }>(
    db,
    sql`select state, count(*) as n from recipients where campaign_id = ${campaignId} group by state`,
  );
  const counts: CampaignCounts = {
    total: 0,
    pending: 0,
    sent: 0,
    delivered: 0,
    read: 0,
    failed: 0,
    skipped: 0,
    cancelled: 0,
    expired: 0,
    ambiguous: 0,
    unknown: 0,
  };
  for (const row of rows) {
    const n = num(row.n);
    counts.total += n;
    const key = row.state === 'sending' ? 'pending' : row.state;
    if (key in counts && key !== 'total') counts[key as keyof CampaignCounts] += n;
  }
  return counts;
}

/** Campaigns on a number that are not finished. */
export async function activeCampaignIds(db: Database, phoneNumberId: string): Promise<string[]> {
  const rows = await db
    .select({ id: campaigns.id })
    .from(campaigns)
    .where(
      and(
        eq(campaigns.phoneNumberId, phoneNumberId),
        inArray(campaigns.state, ['running', 'waiting', 'paused']),
      ),
    );
  return rows.map((r) => r.id);
}
