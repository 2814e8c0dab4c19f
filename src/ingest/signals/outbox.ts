import { sql } from 'drizzle-orm';
import type { Database } from '../../db/client';
import { num, queryRows } from '../../db/query';
import {
  numberStatusSignal,
  onboardingEventSeenSignal,
  templateStatusSignal,
  verificationCodeSignal,
} from '../../workflows/definitions';
import type { PlannedSignal } from './planned-signal';
import { recordset } from '../../db/sql-values';

/** The same signal to the same workflow within this long is sent once: a burst of failed statuses
 * with 131048 must stop a campaign with one signal, not thousands. */
const REPEAT_WINDOW = sql`interval '60 seconds'`;

function rowOf(s: PlannedSignal): { mode: string; signalName: string; start: unknown } {
  switch (s.kind) {
    case 'number-status':
      // The number's workflow is started if it does not run yet, with the arguments the client uses.
      return {
        mode: 'signal-with-start',
        signalName: numberStatusSignal.name,
        start: { workflowType: 'numberWorkflow', args: [{ phoneNumberId: s.phoneNumberId }] },
      };
    case 'campaign-stop':
      return { mode: 'signal', signalName: numberStatusSignal.name, start: null };
    case 'campaign-template':
      return { mode: 'signal', signalName: templateStatusSignal.name, start: null };
    // Onboardings are signalled through the onboarding client's own functions (see the dispatcher).
    case 'onboarding-event':
      return { mode: 'onboarding-event', signalName: onboardingEventSeenSignal.name, start: null };
    case 'verification-code':
      return { mode: 'verification-code', signalName: verificationCodeSignal.name, start: null };
  }
}

/** The signals one event calls for. */
export interface EventSignals {
  eventId: number;
  signals: readonly PlannedSignal[];
}

/**
 * Writes the signals a batch of events calls for into the outbox, in the events' own transaction: once
 * an event is stored, its signals will be delivered, whatever happens to this process or to Temporal.
 * One statement for the batch; rows keep the order the signals were decided in, which is the order they
 * are delivered to a workflow. Returns, per event id, the rows to deliver now.
 */
export async function queueSignals(
  tx: Pick<Database, 'execute'>,
  events: readonly EventSignals[],
): Promise<Map<number, number[]>> {
  const queued = new Map<number, number[]>();
  const rows: Record<string, unknown>[] = [];
  // Within the batch, the repeat window is applied here; against earlier batches, by the statement.
  const seen = new Set<string>();
  for (const { eventId, signals } of events) {
    for (const s of signals) {
      const { mode, signalName, start } = rowOf(s);
      const payload = JSON.stringify(s.payload);
      const key = `${s.workflowId}\n${signalName}\n${payload}`;
      if (seen.has(key)) continue;
      seen.add(key);
      rows.push({
        ord: rows.length,
        event_id: eventId,
        workflow_id: s.workflowId,
        mode,
        signal_name: signalName,
        payload: s.payload,
        start,
      });
    }
  }
  if (rows.length === 0) return queued;
  const source = recordset(
    rows,
    'x',
    'ord int, event_id bigint, workflow_id text, mode text, signal_name text, payload jsonb, start jsonb',
  );
  const inserted = await queryRows<{ id: unknown; event_id: unknown }>(
    tx,
    sql`insert into ingest_signals (event_id, workflow_id, mode, signal_name, payload, start)
        select x.event_id, x.workflow_id, x.mode, x.signal_name, x.payload, x.start from ${source}
        where not exists (
          select 1 from ingest_signals o
          where o.workflow_id = x.workflow_id and o.signal_name = x.signal_name
            and o.payload = x.payload and o.created_at > now() - ${REPEAT_WINDOW})
        order by x.ord
        returning id, event_id`,
  );
  for (const row of inserted.sort((a, b) => num(a.id) - num(b.id))) {
    const eventId = num(row.event_id);
    const ids = queued.get(eventId) ?? [];
    ids.push(num(row.id));
    queued.set(eventId, ids);
  }
  return queued;
}
