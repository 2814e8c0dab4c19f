import type { Database } from '../../db/client';
import type { EventContext } from '../events/platform-message';
import type { PlannedSignal } from '../signals/planned-signal';
import type { OptOutKeywords } from './keywords';

/** What event handlers need: the open transaction and what they learn about the event. */
export interface ApplyContext {
  /** The transaction the raw event was stored in; every effect joins it. */
  tx: Pick<Database, 'execute'>;
  /** The events_raw row, referenced from derived rows. */
  eventId: number;
  context: EventContext;
  keywords: OptOutKeywords;
  /** The service's clock (epoch ms), for retry times. */
  now: number;
  /** Signals to send once the transaction has committed. */
  signals: PlannedSignal[];
  /** What the event did, for the archive and the log. */
  effects: EffectCounts;
}

export interface EffectCounts {
  /** Rows changed anywhere (recipients, windows, suppressions, numbers). */
  changed: number;
  /** Items already seen (the same status of the same message, the same inbound message). */
  duplicates: number;
  /** Items that concern nothing we know (a message we did not send, a number we do not use). */
  unmatched: number;
  /** Fields or item kinds this service does not act on. */
  ignored: string[];
  /** Workflow signals the event called for. */
  signalled: number;
}

export function emptyEffects(): EffectCounts {
  return { changed: 0, duplicates: 0, unmatched: 0, ignored: [], signalled: 0 };
}
