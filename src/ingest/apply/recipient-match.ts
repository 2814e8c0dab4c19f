import { sql, type SQL } from 'drizzle-orm';
import { parseBizOpaqueCallbackData } from '../../shared/ids';

/**
 * Which recipient row a status event is about. `biz_opaque_callback_data` names campaign and position
 * exactly and is present even when the send's outcome (and so its message id) was never recorded, which
 * is what lets a crash-ambiguous row be settled; otherwise the message id is looked up. The condition
 * refers to the recipients table as `r`.
 */
export function recipientMatch(messageId: string, bizOpaqueCallbackData: string | undefined): SQL {
  const key = parseBizOpaqueCallbackData(bizOpaqueCallbackData);
  return key
    ? sql`r.campaign_id = ${key.campaignId} and r.seq = ${key.seq}`
    : sql`r.message_id = ${messageId}`;
}
