import type { EmulatorContext } from '../context';
import type { InboundSmsRecord } from './sms-numbers';

export const SMS_VOICE_PRINCIPAL = 'sms-voice.amazonaws.com';

/**
 * An SMS arrives at one of the account's numbers. With two-way SMS enabled and an SNS topic as its
 * channel, it is published there the way AWS End User Messaging SMS does it: the SNS `Message` is the
 * JSON of {originationNumber, destinationNumber, messageKeyword, messageBody, inboundMessageId,
 * previousPublishedMessageId}. The topic's policy must let sms-voice publish unless a channel role is set.
 */
export function receiveSms(
  ctx: EmulatorContext,
  sms: { to: string; from: string; body: string },
): InboundSmsRecord {
  const number = ctx.smsNumbers.byPhoneNumber(sms.to);
  const record: InboundSmsRecord = {
    atMs: ctx.clock.now(),
    inboundMessageId: ctx.rng.ids.uuid(),
    originationNumber: sms.from,
    destinationNumber: number?.phoneNumber ?? sms.to,
    messageBody: sms.body,
  };
  const channel = number?.twoWayChannelArn;
  if (!number) record.dropped = 'not an SMS number of this account';
  else if (!number.twoWayEnabled || !channel) record.dropped = 'two-way SMS is not enabled on the number';
  else if (!/^arn:aws[\w-]*:sns:/.test(channel)) record.dropped = `channel ${channel} is not an SNS topic`;
  else if (!number.twoWayChannelRole && !ctx.topics.allowsService(channel, SMS_VOICE_PRINCIPAL)) {
    record.dropped = `the policy of ${channel} does not let ${SMS_VOICE_PRINCIPAL} publish`;
  } else {
    ctx.sns.publish(
      channel,
      JSON.stringify({
        originationNumber: record.originationNumber,
        destinationNumber: record.destinationNumber,
        messageKeyword: sms.body.trim().split(/\s+/)[0]?.toUpperCase() ?? '',
        messageBody: sms.body,
        inboundMessageId: record.inboundMessageId,
        previousPublishedMessageId: '',
      }),
    );
    record.publishedTo = channel;
  }
  ctx.smsNumbers.inbound.push(record);
  if (record.dropped) ctx.logger.info({ to: sms.to, reason: record.dropped }, 'inbound SMS not published');
  return record;
}
