/**
 * What the emulator grew for onboarding, spoken to by the real AWS SDK clients: SNS's query API
 * (topics, policies, subscriptions with the usual handshake), pinpoint-sms-voice-v2 UpdatePhoneNumber
 * and inbound SMS published to the two-way channel, Meta's request_code / verify_code, 133006 for an
 * unverified number, and the ONBOARDING update published once a number is registered.
 */
import {
  PinpointSMSVoiceV2Client,
  ResourceNotFoundException,
  UpdatePhoneNumberCommand,
} from '@aws-sdk/client-pinpoint-sms-voice-v2';
import {
  CreateTopicCommand,
  GetTopicAttributesCommand,
  ListSubscriptionsByTopicCommand,
  NotFoundException,
  SetTopicAttributesCommand,
  SNSClient,
  SubscribeCommand,
} from '@aws-sdk/client-sns';
import { AssociateWhatsAppBusinessAccountCommand } from '@aws-sdk/client-socialmessaging';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseInboundSms } from '../../src/platform/inbound-sms';
import {
  EMULATOR_POLL,
  onboardingClients,
  startTestEmulator,
  TestSubscriber,
  type TestEmulator,
} from '../emulator/helpers';
import { until } from '../helpers/poll';

const SMS_ID = `phone-${'5'.repeat(32)}`;

let t: TestEmulator;
let sns: SNSClient;
let sms: PinpointSMSVoiceV2Client;
let subscriber: TestSubscriber;
/** Subscribed to the verification topic; confirms like the ingest service would. */
let verifySubscriber: TestSubscriber;

beforeAll(async () => {
  t = await startTestEmulator({
    config: {
      signups: [
        {
          accessToken: 'token-verify',
          waba: { name: 'Verify Shop' },
          phoneNumbers: [{ displayPhoneNumber: '+1 555-030-0001', verified: false }],
        },
      ],
      smsNumbers: [{ id: SMS_ID, phoneNumber: '+15550300001' }],
    },
  });
  ({ sns, sms } = onboardingClients(t.emu.url));
  subscriber = new TestSubscriber();
  verifySubscriber = new TestSubscriber();
});

afterAll(async () => {
  sns?.destroy();
  sms?.destroy();
  await t?.close();
  await subscriber?.close();
  await verifySubscriber?.close();
});

const policyFor = (topicArn: string, service: string) =>
  JSON.stringify({
    Version: '2012-10-17',
    Statement: [
      {
        Sid: service,
        Effect: 'Allow',
        Principal: { Service: service },
        Action: 'sns:Publish',
        Resource: topicArn,
        Condition: { StringEquals: { 'aws:SourceAccount': '123456789012' } },
      },
    ],
  });

async function graph(path: string, token: string, form: Record<string, string>) {
  const res = await fetch(`${t.emu.url}/graph/v20.0/${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(form).toString(),
  });
  return { status: res.status, body: (await res.json()) as { success?: boolean; error?: { code: number } } };
}

describe('emulated SNS (query protocol)', () => {
  it('creates topics idempotently, reads and sets attributes, refuses unknown topics', async () => {
    const a = await sns.send(
      new CreateTopicCommand({ Name: 'wa-events-x', Tags: [{ Key: 'k', Value: 'v' }] }),
    );
    const b = await sns.send(new CreateTopicCommand({ Name: 'wa-events-x' }));
    expect(a.TopicArn).toBe('arn:aws:sns:us-east-1:123456789012:wa-events-x');
    expect(b.TopicArn).toBe(a.TopicArn);
    const attrs = (await sns.send(new GetTopicAttributesCommand({ TopicArn: a.TopicArn }))).Attributes!;
    expect(attrs).toMatchObject({ TopicArn: a.TopicArn, Owner: '123456789012', SubscriptionsConfirmed: '0' });
    expect(JSON.parse(attrs.Policy!)).toMatchObject({
      Statement: [expect.objectContaining({ Sid: '__default_statement_ID' })],
    });
    await sns.send(
      new SetTopicAttributesCommand({
        TopicArn: a.TopicArn,
        AttributeName: 'Policy',
        AttributeValue: policyFor(a.TopicArn!, 'x'),
      }),
    );
    const after = (await sns.send(new GetTopicAttributesCommand({ TopicArn: a.TopicArn }))).Attributes!;
    expect(JSON.parse(after.Policy!).Statement[0].Sid).toBe('x');
    await expect(
      sns.send(new GetTopicAttributesCommand({ TopicArn: `${a.TopicArn}-nope` })),
    ).rejects.toBeInstanceOf(NotFoundException);

    const fifo = await sns.send(
      new CreateTopicCommand({ Name: 'events.fifo', Attributes: { FifoTopic: 'true' } }),
    );
    const fifoAttrs = (await sns.send(new GetTopicAttributesCommand({ TopicArn: fifo.TopicArn })))
      .Attributes!;
    expect(fifoAttrs.FifoTopic).toBe('true');
    await expect(sns.send(new CreateTopicCommand({ Name: 'bad.fifo' }))).rejects.toThrow(
      /Fifo Topic names must end with .fifo/,
    );
  });

  it('subscribes an HTTP endpoint with the confirmation handshake and lists it', async () => {
    const endpoint = await subscriber.start();
    const { TopicArn } = await sns.send(new CreateTopicCommand({ Name: 'wa-events-sub' }));
    const sub = await sns.send(new SubscribeCommand({ TopicArn, Protocol: 'http', Endpoint: endpoint }));
    expect(sub.SubscriptionArn).toBe('pending confirmation');
    await until(
      'the subscription to be confirmed',
      async () => {
        const list = await sns.send(new ListSubscriptionsByTopicCommand({ TopicArn }));
        return list.Subscriptions?.[0]?.SubscriptionArn?.startsWith(`${TopicArn}:`);
      },
      EMULATOR_POLL,
    );
    const list = await sns.send(new ListSubscriptionsByTopicCommand({ TopicArn }));
    expect(list.Subscriptions).toEqual([
      expect.objectContaining({ TopicArn, Protocol: 'http', Endpoint: endpoint, Owner: '123456789012' }),
    ]);
    // Subscribing again changes nothing and answers the confirmed ARN.
    const again = await sns.send(new SubscribeCommand({ TopicArn, Protocol: 'http', Endpoint: endpoint }));
    expect(again.SubscriptionArn).toBe(list.Subscriptions![0]!.SubscriptionArn);
  });
});

describe('two-way SMS, verification codes and registration', () => {
  it('verifies a number by an SMS code that two-way SMS publishes, then registers it and announces it', async () => {
    const { TopicArn } = await sns.send(new CreateTopicCommand({ Name: 'wa-events-verify' }));
    await sns.send(
      new SubscribeCommand({ TopicArn, Protocol: 'http', Endpoint: await verifySubscriber.start() }),
    );
    await until(
      'the topic to count one confirmed subscription',
      async () =>
        (await sns.send(new GetTopicAttributesCommand({ TopicArn }))).Attributes?.SubscriptionsConfirmed ===
        '1',
      EMULATOR_POLL,
    );

    await expect(
      sms.send(
        new UpdatePhoneNumberCommand({
          PhoneNumberId: `phone-${'0'.repeat(32)}`,
          TwoWayEnabled: true,
          TwoWayChannelArn: TopicArn,
        }),
      ),
    ).rejects.toBeInstanceOf(ResourceNotFoundException);
    await expect(
      sms.send(new UpdatePhoneNumberCommand({ PhoneNumberId: SMS_ID, TwoWayEnabled: true })),
    ).rejects.toThrow(/TwoWayChannelArn is required/);
    const updated = await sms.send(
      new UpdatePhoneNumberCommand({
        PhoneNumberId: SMS_ID,
        TwoWayEnabled: true,
        TwoWayChannelArn: TopicArn,
      }),
    );
    expect(updated).toMatchObject({
      PhoneNumberId: SMS_ID,
      PhoneNumber: '+15550300001',
      TwoWayEnabled: true,
      TwoWayChannelArn: TopicArn,
    });

    const signup = await t.client.send(
      new AssociateWhatsAppBusinessAccountCommand({ signupCallback: { accessToken: 'token-verify' } }),
    );
    const [, account] = Object.entries(signup.signupCallbackResult!.linkedAccountsWithIncompleteSetup!)[0]!;
    const wabaId = account.wabaId!;
    const phone = account.unregisteredWhatsAppPhoneNumbers![0]!;
    const finalize = () =>
      t.client.send(
        new AssociateWhatsAppBusinessAccountCommand({
          setupFinalization: {
            associateInProgressToken: signup.signupCallbackResult!.associateInProgressToken,
            phoneNumbers: [{ id: phone.phoneNumberId, twoFactorPin: '123456' }],
            waba: { id: wabaId, eventDestinations: [{ eventDestinationArn: TopicArn! }] },
          },
        }),
      );
    await expect(finalize()).rejects.toThrow(/\(#133006\)/);

    expect(
      (await graph(`${phone.metaPhoneNumberId}/request_code`, 'someone-else', { code_method: 'SMS' })).body
        .error?.code,
    ).toBe(190);
    // The policy does not yet let SMS publish: the code arrives but goes nowhere.
    expect(
      (
        await graph(`${phone.metaPhoneNumberId}/request_code`, 'token-verify', {
          code_method: 'SMS',
          language: 'en_US',
        })
      ).body,
    ).toEqual({ success: true });
    let log = (await (await fetch(`${t.emu.url}/_emulator/sms`)).json()) as {
      inbound: { dropped?: string; publishedTo?: string }[];
    };
    expect(log.inbound.at(-1)?.dropped).toMatch(/does not let sms-voice.amazonaws.com publish/);

    await sns.send(
      new SetTopicAttributesCommand({
        TopicArn,
        AttributeName: 'Policy',
        AttributeValue: policyFor(TopicArn!, 'sms-voice.amazonaws.com'),
      }),
    );
    await graph(`${phone.metaPhoneNumberId}/request_code`, 'token-verify', { code_method: 'SMS' });
    log = (await (await fetch(`${t.emu.url}/_emulator/sms`)).json()) as typeof log;
    expect(log.inbound.at(-1)?.publishedTo).toBe(TopicArn);
    const delivered = await until(
      'the verification code SMS',
      () =>
        Promise.resolve(
          verifySubscriber.notifications().find((b) => b.Message.includes('destinationNumber')),
        ),
      EMULATOR_POLL,
    );
    const inbound = parseInboundSms(delivered.Message)!;
    expect(inbound).toMatchObject({
      destinationNumber: '+15550300001',
      originationNumber: expect.any(String),
    });
    expect(inbound.code).toMatch(/^\d{6}$/);

    expect(
      (
        await graph(`${phone.metaPhoneNumberId}/verify_code`, 'token-verify', {
          code: '000000' === inbound.code ? '111111' : '000000',
        })
      ).body.error?.code,
    ).toBe(136025);
    expect(
      (await graph(`${phone.metaPhoneNumberId}/verify_code`, 'token-verify', { code: inbound.code! })).body,
    ).toEqual({ success: true });

    // Social Messaging may publish too now, so the ONBOARDING update reaches the subscriber.
    await sns.send(
      new SetTopicAttributesCommand({
        TopicArn,
        AttributeName: 'Policy',
        AttributeValue: JSON.stringify({
          Version: '2012-10-17',
          Statement: [
            JSON.parse(policyFor(TopicArn!, 'sms-voice.amazonaws.com')).Statement[0],
            JSON.parse(policyFor(TopicArn!, 'social-messaging.amazonaws.com')).Statement[0],
          ],
        }),
      }),
    );
    await finalize();
    const onboardingEvent = await until(
      'the phone_number_quality_update event',
      () =>
        Promise.resolve(
          verifySubscriber.notifications().find((b) => b.Message.includes('phone_number_quality_update')),
        ),
      EMULATOR_POLL,
    );
    const entry = JSON.parse(
      (JSON.parse(onboardingEvent.Message) as { whatsAppWebhookEntry: string }).whatsAppWebhookEntry,
    ) as {
      changes: { value: { event: string; current_limit: string } }[];
    };
    expect(entry.changes[0]!.value).toMatchObject({ event: 'ONBOARDING', current_limit: 'TIER_1K' });
  });
});
