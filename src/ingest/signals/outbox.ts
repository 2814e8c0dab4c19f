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

/**
 * Writes the signals an event calls for into the outbox, in the event's own transaction: once the event
 * is stored, its signals will be delivered, whatever happens to this process or to Temporal. Returns
 * the ids to deliver now.
 */
export async function queueSignals(
  tx: Pick<Database, 'execute'>,
  eventId: number,
  signals: readonly PlannedSignal[],
): Promise<number[]> {
  const ids: number[] = [];
  const seen = new Set<string>();
  for (const s of signals) {
    const { mode, signalName, start } = rowOf(s);
    const payload = JSON.stringify(s.payload);
    const key = `${s.workflowId}\n${signalName}\n${payload}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const [row] = await queryRows<{ id: unknown }>(
      tx,
      sql`insert into ingest_signals (event_id, workflow_id, mode, signal_name, payload, start)
          select ${eventId}, ${s.workflowId}, ${mode}, ${signalName}, ${payload}::jsonb, ${JSON.stringify(start)}::jsonb
          where not exists (
            select 1 from ingest_signals o
            where o.workflow_id = ${s.workflowId} and o.signal_name = ${signalName}
              and o.payload = ${payload}::jsonb and o.created_at > now() - ${REPEAT_WINDOW})
          returning id`,
    );
    if (row) ids.push(num(row.id));
  }
  return ids;
}
