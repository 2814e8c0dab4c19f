import type { EmulatorClock } from '../clock';
import type { AccountRef } from '../ids';
import type { WebhookChange } from '../meta/webhook-entries';
import type { Rng } from '../random';
import type { SnsPublisher } from '../sns/publisher';
import type { AppendLog } from '../world/logs';
import type { EventRecord } from '../world/records';
import type { PhoneNumberState, WabaState } from '../world/state';

/** The SNS topic a WABA's events go to, if its event destination is a topic (not Amazon Connect). */
export function topicOf(waba: WabaState): string | undefined {
  const arn = waba.eventDestinations[0]?.eventDestinationArn;
  return arn && /^arn:[^:]+:sns:/.test(arn) ? arn : undefined;
}

/** An ISO timestamp with nanosecond digits, as AWS writes `message_timestamp`. */
function nanoTimestamp(ms: number): string {
  return new Date(ms).toISOString().replace(/Z$/, '000000Z');
}

/**
 * Wraps Meta webhook changes the way AWS End User Messaging Social does and hands them to SNS: the
 * SNS `Message` is a JSON string `{context, whatsAppWebhookEntry, aws_account_id, message_timestamp,
 * messageId}` (AWS's documented event format) whose `whatsAppWebhookEntry` is itself a JSON string of
 * one Meta entry `{id, changes}`.
 */
export class EventBus {
  constructor(
    private readonly clock: EmulatorClock,
    private readonly account: AccountRef,
    private readonly log: () => AppendLog<EventRecord>,
    private readonly rng: () => Rng,
    private readonly sns: SnsPublisher,
    /** Whether Social Messaging may publish to a topic (its policy); by default always. */
    private readonly mayPublish: (topicArn: string) => boolean = () => true,
  ) {}

  /** Publishes one change of one WABA (and number, when the change concerns one). */
  publish(waba: WabaState, phone: PhoneNumberState | undefined, change: WebhookChange): void {
    const now = this.clock.now();
    const entry = { id: waba.wabaId, changes: [change] };
    const message = JSON.stringify({
      context: {
        MetaWabaIds: [{ wabaId: waba.wabaId, arn: waba.arn }],
        MetaPhoneNumberIds: phone ? [{ metaPhoneNumberId: phone.metaPhoneNumberId, arn: phone.arn }] : [],
      },
      whatsAppWebhookEntry: JSON.stringify(entry),
      aws_account_id: this.account.accountId,
      message_timestamp: nanoTimestamp(now),
      messageId: this.rng().uuid(),
    });
    const found = topicOf(waba);
    // A topic whose policy does not let Social Messaging publish gets nothing, as on AWS.
    const topicArn = found && this.mayPublish(found) ? found : undefined;
    const log = this.log();
    log.push({
      index: log.total,
      atMs: now,
      field: change.field,
      wabaId: waba.id,
      phoneNumberId: phone?.id,
      topicArn,
      message,
    });
    if (topicArn) this.sns.publish(topicArn, message);
  }
}
