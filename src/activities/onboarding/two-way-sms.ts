import { UpdatePhoneNumberCommand } from '@aws-sdk/client-pinpoint-sms-voice-v2';
import type { ActivityDeps } from '../deps';
import { permanent, rethrowAws } from './aws-failures';

export interface EnableTwoWaySmsInput {
  onboardingId: string;
  /** The AWS End User Messaging SMS number (id or ARN). */
  smsPhoneNumberId: string;
  /** Where inbound SMS go: the onboarding's SNS topic, which the ingest service already receives. */
  channelArn: string;
  /** IAM role SMS uses to publish to the topic; without it the topic policy must allow sms-voice. */
  roleArn?: string;
}

export interface EnableTwoWaySmsResult {
  /** E.164 of the SMS number: verification codes sent to it are ours. */
  phoneNumber: string;
}

/**
 * Turns on two-way SMS on the number the verification code will be sent to, pointing its inbound
 * channel at the onboarding's topic. UpdatePhoneNumber sets absolute values, so repeating it is safe.
 */
export async function enableTwoWaySms(
  deps: ActivityDeps,
  input: EnableTwoWaySmsInput,
): Promise<EnableTwoWaySmsResult> {
  if (!deps.smsVoice)
    throw permanent('NotConfigured', 'this worker has no SMS client; it cannot enable two-way SMS');
  let out;
  try {
    out = await deps.smsVoice.send(
      new UpdatePhoneNumberCommand({
        PhoneNumberId: input.smsPhoneNumberId,
        TwoWayEnabled: true,
        TwoWayChannelArn: input.channelArn,
        ...(input.roleArn ? { TwoWayChannelRole: input.roleArn } : {}),
      }),
    );
  } catch (err) {
    rethrowAws(err, `enabling two-way SMS on ${input.smsPhoneNumberId}`);
  }
  if (!out.PhoneNumber)
    throw permanent('SmsNumberUnknown', `UpdatePhoneNumber named no number for ${input.smsPhoneNumberId}`);
  deps.logger.info({ onboardingId: input.onboardingId, sms: out.PhoneNumber }, 'two-way SMS enabled');
  return { phoneNumber: out.PhoneNumber };
}
