import { sql } from 'drizzle-orm';
import type { Database } from '../../db/client';
import { num, queryRows } from '../../db/query';

export interface RawEvent {
  /** null for rejected messages: a forged message must not take the id a genuine one will arrive with. */
  snsMessageId: string | null;
  topicArn: string | null;
  kind: string;
  outcome: string;
  error?: string | null;
  body: unknown;
}

/**
 * Archives an event as received. Returns its id, or undefined when an event with the same SNS MessageId
 * is already archived: SNS delivers at least once, and the second copy must change nothing.
 */
export async function insertRawEvent(
  db: Pick<Database, 'execute'>,
  e: RawEvent,
): Promise<number | undefined> {
  const [row] = await queryRows<{ id: unknown }>(
    db,
    sql`insert into events_raw (sns_message_id, topic_arn, kind, outcome, error, body)
        values (${e.snsMessageId}, ${e.topicArn}, ${e.kind}, ${e.outcome}, ${e.error ?? null}, ${JSON.stringify(e.body)}::jsonb)
        on conflict (sns_message_id) do nothing returning id`,
  );
  return row ? num(row.id) : undefined;
}

export async function setRawOutcome(
  db: Pick<Database, 'execute'>,
  id: number,
  outcome: string,
  error: string | null,
): Promise<void> {
  await db.execute(sql`update events_raw set outcome = ${outcome}, error = ${error} where id = ${id}`);
}
