import { z } from 'zod';
import type { EmulatorContext } from '../context';
import { formatIssues } from '../config';
import type { EmulatorRequest, HandlerResult } from '../http/router';
import type { SmsNumberState } from './sms-numbers';

/**
 * A refusal in the awsJson1_0 dialect of pinpoint-sms-voice-v2. Its model gives no error an HTTP status
 * of its own, so every refusal of the caller's is a 400, as the protocol does by default.
 */
class SmsApiError extends Error {
  constructor(
    readonly type: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

const updatePhoneNumberSchema = z.object({
  PhoneNumberId: z.string().min(1),
  TwoWayEnabled: z.boolean().optional(),
  TwoWayChannelArn: z.string().min(1).optional(),
  TwoWayChannelRole: z.string().min(1).optional(),
  SelfManagedOptOutsEnabled: z.boolean().optional(),
  OptOutListName: z.string().optional(),
  InternationalSendingEnabled: z.boolean().optional(),
  DeletionProtectionEnabled: z.boolean().optional(),
});

const SNS_TOPIC = /^arn:aws[\w-]*:sns:[a-z0-9-]+:\d{12}:[\w.-]+$/;

function view(n: SmsNumberState): Record<string, unknown> {
  return {
    PhoneNumberArn: n.arn,
    PhoneNumberId: n.id,
    PhoneNumber: n.phoneNumber,
    Status: 'ACTIVE',
    IsoCountryCode: n.isoCountryCode,
    MessageType: 'TRANSACTIONAL',
    NumberCapabilities: ['SMS'],
    NumberType: 'LONG_CODE',
    MonthlyLeasingPrice: '1.00',
    TwoWayEnabled: n.twoWayEnabled,
    ...(n.twoWayChannelArn ? { TwoWayChannelArn: n.twoWayChannelArn } : {}),
    ...(n.twoWayChannelRole ? { TwoWayChannelRole: n.twoWayChannelRole } : {}),
    SelfManagedOptOutsEnabled: false,
    OptOutListName: 'Default',
    InternationalSendingEnabled: false,
    DeletionProtectionEnabled: false,
    CreatedTimestamp: n.createdMs / 1000,
  };
}

/** UpdatePhoneNumber: what onboarding needs of two-way SMS (TwoWayEnabled, channel, channel role). */
function updatePhoneNumber(
  ctx: EmulatorContext,
  input: z.output<typeof updatePhoneNumberSchema>,
): Record<string, unknown> {
  const number = ctx.smsNumbers.get(input.PhoneNumberId);
  if (!number)
    throw new SmsApiError('ResourceNotFoundException', `Phone number ${input.PhoneNumberId} does not exist`);
  const enabled = input.TwoWayEnabled ?? number.twoWayEnabled;
  const channel = input.TwoWayChannelArn ?? number.twoWayChannelArn;
  if (enabled && !channel)
    throw new SmsApiError('ValidationException', 'TwoWayChannelArn is required when TwoWayEnabled is true');
  if (
    input.TwoWayChannelArn !== undefined &&
    !SNS_TOPIC.test(input.TwoWayChannelArn) &&
    !input.TwoWayChannelArn.startsWith('connect.')
  ) {
    throw new SmsApiError(
      'ValidationException',
      'TwoWayChannelArn must be an Amazon SNS topic ARN or connect.<region>.amazonaws.com',
    );
  }
  number.twoWayEnabled = enabled;
  if (input.TwoWayChannelArn !== undefined) number.twoWayChannelArn = input.TwoWayChannelArn;
  if (input.TwoWayChannelRole !== undefined) number.twoWayChannelRole = input.TwoWayChannelRole;
  ctx.logger.info({ id: number.id, twoWay: enabled, channel: number.twoWayChannelArn }, 'SMS number updated');
  return view(number);
}

/** DescribePhoneNumbers (no filters): every SMS number of the account. */
function describePhoneNumbers(
  ctx: EmulatorContext,
  input: { PhoneNumberIds?: string[] },
): Record<string, unknown> {
  const wanted = input.PhoneNumberIds;
  const numbers = wanted
    ? wanted.map((id) => {
        const n = ctx.smsNumbers.get(id);
        if (!n) throw new SmsApiError('ResourceNotFoundException', `Phone number ${id} does not exist`);
        return n;
      })
    : ctx.smsNumbers.list();
  return { PhoneNumbers: numbers.map(view) };
}

/**
 * The pinpoint-sms-voice-v2 operations the emulator answers, addressed the awsJson1_0 way:
 * `POST /` with `X-Amz-Target: PinpointSMSVoiceV2.<Operation>`.
 */
export function smsVoiceJsonAction(
  ctx: EmulatorContext,
  target: string,
  req: EmulatorRequest,
): HandlerResult {
  const operation = target.replace(/^PinpointSMSVoiceV2\./, '');
  try {
    let input: unknown;
    try {
      input = req.body.length ? JSON.parse(req.body.toString('utf8')) : {};
    } catch {
      throw new SmsApiError('SerializationException', 'Request body is not valid JSON');
    }
    switch (operation) {
      case 'UpdatePhoneNumber': {
        const parsed = updatePhoneNumberSchema.safeParse(input);
        if (!parsed.success) throw new SmsApiError('ValidationException', formatIssues(parsed.error.issues));
        return {
          json: updatePhoneNumber(ctx, parsed.data),
          headers: { 'content-type': 'application/x-amz-json-1.0' },
        };
      }
      case 'DescribePhoneNumbers':
        return { json: describePhoneNumbers(ctx, input as { PhoneNumberIds?: string[] }) };
      default:
        throw new SmsApiError('UnknownOperationException', `The emulator does not implement ${operation}`);
    }
  } catch (err) {
    if (!(err instanceof SmsApiError)) throw err;
    return {
      status: err.status,
      json: { __type: err.type, message: err.message, Message: err.message },
      headers: { 'content-type': 'application/x-amz-json-1.0', 'x-amzn-errortype': err.type },
    };
  }
}
