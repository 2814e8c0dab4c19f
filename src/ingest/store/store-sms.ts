import type { InboundSms } from '../../platform/inbound-sms';
import type { Database } from '../../db/client';
import { planVerificationCode } from '../apply/onboarding';
import { queueSignals } from '../signals/outbox';
import type { SnsBody } from '../sns/envelope';
import { isRetryableConflict, isTransientDbError } from './db-errors';
import { insertRawEvent, setRawOutcome } from './raw-events';
import {
  MAX_CONFLICT_RETRIES,
  storeUnapplied,
  type StoreDeps,
  type StoredNotification,
} from './store-events';
import { safeErrorText } from '../../shared/safe-error';

/** The archive's `kind` for an inbound SMS (two-way SMS, AWS End User Messaging SMS). */
export const INBOUND_SMS_KIND = 'inbound-sms';

async function storeInTransaction(
  deps: StoreDeps,
  tx: Pick<Database, 'execute'>,
  body: SnsBody,
  sms: InboundSms,
): Promise<StoredNotification> {
  const kind = INBOUND_SMS_KIND;
  const eventId = await insertRawEvent(tx, {
    snsMessageId: body.MessageId,
    topicArn: body.TopicArn,
    kind,
    outcome: 'applied',
    body,
  });
  if (eventId === undefined) return { duplicate: true, kind, outcome: 'duplicate', signalIds: [] };
  const signals = await planVerificationCode(tx, sms);
  // A code is a secret: it is signalled only through a client that encrypts payloads. Without one,
  // the onboarding still finds it in the archive (its activity's result is encrypted by the worker).
  const withheld = deps.signals && !deps.secretSignals && signals.length > 0;
  const signalIds =
    deps.signals && deps.secretSignals && signals.length > 0
      ? ((await queueSignals(tx, [{ eventId, signals }])).get(eventId) ?? [])
      : [];
  let outcome = 'applied';
  let note: string | undefined;
  if (withheld) {
    outcome = 'stored';
    note = 'verification code not signalled: the Temporal client has no payload codec (WA_CODEC_KEYS)';
  } else if (signals.length === 0) {
    outcome = sms.code ? 'unmatched' : 'ignored';
    note = sms.code
      ? 'no running onboarding uses this two-way SMS number'
      : 'inbound SMS without a verification code';
  }
  if (note) await setRawOutcome(tx, eventId, outcome, note);
  return { eventId, duplicate: false, kind, outcome, signalIds };
}

/**
 * Stores an inbound SMS and, in the same transaction, queues its verification code for the onboardings
 * waiting for one on that number; the code is signalled once the transaction commits. Like WhatsApp
 * events: database unavailability is thrown (answered 5xx, SNS delivers again), a conflict is retried,
 * anything else archives the SMS as `failed`.
 */
export async function storeInboundSms(
  deps: StoreDeps,
  body: SnsBody,
  sms: InboundSms,
): Promise<StoredNotification> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await deps.db.transaction((tx) => storeInTransaction(deps, tx, body, sms));
    } catch (err) {
      if (isRetryableConflict(err) && attempt < MAX_CONFLICT_RETRIES) continue;
      if (isTransientDbError(err)) throw err;
      const reason = safeErrorText(err);
      return storeUnapplied(deps.db, body, INBOUND_SMS_KIND, 'failed', reason.slice(0, 2000));
    }
  }
}
