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

/**
 * Repeats within this long are not sent again. A state signal (number status, template status) is
 * dropped when it repeats the latest one of its name to that workflow: a change in between (FLAGGED,
 * UNFLAGGED, FLAGGED) is a new state, and each of its signals goes out. A stop is final, so it is dropped
 * when the same stop went to that workflow at any time in the window: a burst of failed statuses whose
 * codes alternate (131048, 131031, …) stops a campaign with one signal per code, not one per status.
 */
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
  // State signals: the payload last decided per workflow and signal name. Within the batch a signal is
  // compared with the one decided before it here; the first of the batch, with the latest queued row, by
  // the statement. Stops: every one decided in the batch, and any queued within the window.
  const latest = new Map<string, string>();
  const stops = new Set<string>();
  for (const { eventId, signals } of events) {
    for (const s of signals) {
      const { mode, signalName, start } = rowOf(s);
      const payload = JSON.stringify(s.payload);
      const key = `${s.workflowId}\n${signalName}`;
      const stop = s.kind === 'campaign-stop';
      let firstInBatch = false;
      if (stop) {
        if (stops.has(`${key}\n${payload}`)) continue;
        stops.add(`${key}\n${payload}`);
      } else {
        const before = latest.get(key);
        if (before === payload) continue;
        latest.set(key, payload);
        firstInBatch = before === undefined;
      }
      rows.push({
        ord: rows.length,
        event_id: eventId,
        workflow_id: s.workflowId,
        mode,
        signal_name: signalName,
        payload: s.payload,
        start,
        stop,
        first_in_batch: firstInBatch,
      });
    }
  }
  if (rows.length === 0) return queued;
  const source = recordset(
    rows,
    'x',
    'ord int, event_id bigint, workflow_id text, mode text, signal_name text, payload jsonb, start jsonb, ' +
      'stop boolean, first_in_batch boolean',
  );
  // Rows are compared by id, the order they are delivered in, not by created_at (a transaction's start).
  const inserted = await queryRows<{ id: unknown; event_id: unknown }>(
    tx,
    sql`insert into ingest_signals (event_id, workflow_id, mode, signal_name, payload, start)
        select x.event_id, x.workflow_id, x.mode, x.signal_name, x.payload, x.start from ${source}
        where case
          when x.stop then not exists (
            select 1 from ingest_signals o
            where o.workflow_id = x.workflow_id and o.signal_name = x.signal_name
              and o.payload = x.payload and o.created_at > now() - ${REPEAT_WINDOW})
          else not x.first_in_batch or not exists (
            select 1 from (
              select o.payload, o.created_at from ingest_signals o
              where o.workflow_id = x.workflow_id and o.signal_name = x.signal_name
              order by o.id desc limit 1) latest
            where latest.payload = x.payload and latest.created_at > now() - ${REPEAT_WINDOW})
          end
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
