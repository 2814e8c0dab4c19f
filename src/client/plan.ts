import { sql } from 'drizzle-orm';
import type { Database } from '../db/client';
import { queryRows, ts } from '../db/query';
import { textList } from '../db/sql-values';
import type { SendWindow } from '../shared/send-window';

const SERVICE_WINDOW_MS = 24 * 3600_000;

/** The phones among `phones` that have an open customer-service window with the number. */
export async function openWindowsAmong(
  db: Database,
  phoneNumberId: string,
  phones: string[],
  nowMs: number,
): Promise<Set<string>> {
  if (phones.length === 0) return new Set();
  const rows = await queryRows<{ phone: string }>(
    db,
    sql`select phone from service_windows where phone_number_id = ${phoneNumberId}
        and last_inbound_at > ${ts(nowMs - SERVICE_WINDOW_MS)} and phone in ${textList(phones)}`,
  );
  return new Set(rows.map((r) => r.phone));
}

export interface EstimateInput {
  recipients: number;
  /** Recipients with an open service window: they cost no tier budget. */
  free: number;
  /** Messages per second actually used. */
  rate: number;
  tierLimit: number | null;
  tierUsed: number;
  windowMs: number;
  sendWindow?: SendWindow;
}

/**
 * How long sending takes: the slower of the number's rate and the tier's rolling budget, stretched by the
 * share of the day the send window allows. An estimate, and its assumptions are returned with it.
 */
export function estimateDuration(input: EstimateInput): { ms: number; assumptions: string[] } {
  const assumptions: string[] = [];
  const rateMs = (input.recipients / input.rate) * 1000;
  let tierMs = 0;
  const budgeted = input.recipients - input.free;
  if (input.tierLimit !== null && input.tierLimit > 0) {
    const leftNow = Math.max(0, input.tierLimit - input.tierUsed);
    if (budgeted > leftNow) {
      const windows = Math.ceil((budgeted - leftNow) / input.tierLimit);
      tierMs = windows * input.windowMs;
      assumptions.push(
        `the tier (${input.tierLimit} users per ${Math.round(input.windowMs / 3600_000)} h) needs ${windows} more rolling window(s)`,
      );
    }
  }
  let ms = Math.max(rateMs, tierMs);
  assumptions.push(`${input.rate.toFixed(1)} messages/s`);
  if (input.sendWindow) {
    const { startMin, endMin } = input.sendWindow;
    const open = (endMin - startMin + 1440) % 1440 || 1440;
    ms = ms * (1440 / open);
    assumptions.push(`sending only ${open} minutes a day in each recipient's time zone`);
  }
  if (input.free > 0)
    assumptions.push(`${input.free} recipients have an open service window and cost no tier budget`);
  return { ms, assumptions };
}
