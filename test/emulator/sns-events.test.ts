import { createVerify, X509Certificate } from 'node:crypto';
import SnsPayloadValidator from 'sns-payload-validator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DEMO_META_PHONE_NUMBER_ID,
  DEMO_META_WABA_ID,
  DEMO_PHONE_NUMBER_ID,
  DEMO_TOPIC_ARN,
} from '../../src/emulator';
import {
  EMULATOR_POLL,
  expectAwsError,
  parseEventMessage,
  send,
  startTestEmulator,
  templateMessage,
  TestSubscriber,
  type SnsBody,
  type TestEmulator,
} from './helpers';
import { until } from '../helpers/poll';

// Independent of the emulator's signer: the canonical string as AWS documents it.
function verifySns(msg: SnsBody, certPem: string): boolean {
  const fields = msg as unknown as Record<string, string | undefined>;
  const keys =
    msg.Type === 'Notification'
      ? ['Message', 'MessageId', 'Subject', 'Timestamp', 'TopicArn', 'Type']
      : ['Message', 'MessageId', 'SubscribeURL', 'Timestamp', 'Token', 'TopicArn', 'Type'];
  const canonical = keys
    .filter((k) => fields[k] !== undefined)
    .map((k) => `${k}\n${fields[k]}\n`)
    .join('');
  const verifier = createVerify(msg.SignatureVersion === '1' ? 'RSA-SHA1' : 'RSA-SHA256');
  verifier.update(canonical);
  return verifier.verify(certPem, msg.Signature, 'base64');
}

type Change = ReturnType<typeof parseEventMessage>;
type Published = { messageId: string; recipients: number };

/** SNS body → Message → whatsAppWebhookEntry, the three parses a consumer does. */
const unwrap = (notification: SnsBody) => parseEventMessage(notification.Message);

let t: TestEmulator;
let subscriber: TestSubscriber;

/** The platform events the subscriber received (not the raw messages replayed through /sns/publish). */
const platformEvents = () =>
  subscriber
    .notifications()
    .filter((n) => n.Message.includes('whatsAppWebhookEntry'))
    .map(unwrap);

beforeAll(async () => {
  subscriber = new TestSubscriber();
  const endpoint = await subscriber.start();
  t = await startTestEmulator({
    config: {
      sns: { subscribers: [{ endpoint }], retry: { maxAttempts: 3, minDelayMs: 20, maxDelayMs: 50 } },
      templatePauses: { firstPauseMs: 1_000, secondPauseMs: 2_000 },
      rules: {
        delivery: {
          sentDelayMs: 0,
          deliveredDelayMs: [5, 10],
          readDelayMs: [5, 10],
          deliveredRate: 1,
          readRate: 1,
        },
      },
    },
  });
  await until(
    'the subscription to be confirmed',
    async () => (await t.control.subscriptions())[0]?.status === 'Confirmed',
    EMULATOR_POLL,
  );
});
afterAll(async () => {
  await t?.close();
  await subscriber?.close();
});

describe('SNS subscription handshake and signatures', () => {
  it('sends a signed SubscriptionConfirmation first; SubscribeURL on the emulator confirms', async () => {
    const first = subscriber.received[0] as (typeof subscriber.received)[number];
    expect(first.body.Type).toBe('SubscriptionConfirmation');
    expect(first.headers['x-amz-sns-message-type']).toBe('SubscriptionConfirmation');
    expect(first.body.TopicArn).toBe(DEMO_TOPIC_ARN);
    expect(first.body.SubscribeURL).toContain(`${t.emu.url}/?Action=ConfirmSubscription`);

    const cert = await (await fetch(first.body.SigningCertURL)).text();
    expect(cert).toBe(t.emu.certificatePem);
    expect(new X509Certificate(cert).subject).toContain('sns.emulator.local');
    expect(verifySns(first.body, cert)).toBe(true);
    expect(verifySns({ ...first.body, Token: 'tampered' }, cert)).toBe(false);

    const subs = await t.control.subscriptions();
    expect(subs[0]).toMatchObject({ status: 'Confirmed', topicArn: DEMO_TOPIC_ARN });
  });

  it('publishes status events sent → delivered → read as signed notifications in the AWS envelope', async () => {
    const { messageId } = await send(
      t.client,
      templateMessage('447700900010', 'order_update', 'en_US', ['Ann', 'A-7'], {
        biz_opaque_callback_data: 'campaign-1:recipient-9',
      }),
    );
    const mine = () =>
      subscriber
        .notifications()
        .filter(
          (n) =>
            n.Message.includes('whatsAppWebhookEntry') && unwrap(n).value.statuses?.[0]?.id === messageId,
        );
    await until('three statuses of the message', () => Promise.resolve(mine().length === 3), EMULATOR_POLL);
    const cert = t.emu.certificatePem;
    for (const n of mine()) {
      expect(verifySns(n, cert)).toBe(true);
      expect(n.SignatureVersion).toBe('1');
      expect(n.UnsubscribeURL).toContain('Action=Unsubscribe');
    }
    const [sent, delivered, read] = mine().map((n) => unwrap(n)) as [Change, Change, Change];
    expect(sent.envelope.context).toEqual({
      MetaWabaIds: [{ wabaId: DEMO_META_WABA_ID, arn: expect.stringMatching(/:waba\/[0-9a-f]{32}$/) }],
      MetaPhoneNumberIds: [
        {
          metaPhoneNumberId: DEMO_META_PHONE_NUMBER_ID,
          arn: expect.stringContaining(DEMO_PHONE_NUMBER_ID.slice('phone-number-id-'.length)),
        },
      ],
    });
    expect(sent.envelope.aws_account_id).toBe('123456789012');
    expect(Date.parse(sent.envelope.message_timestamp)).not.toBeNaN();
    expect(sent.entry.id).toBe(DEMO_META_WABA_ID);
    expect(sent.field).toBe('messages');
    expect(sent.value.metadata?.phone_number_id).toBe(DEMO_META_PHONE_NUMBER_ID);
    const statuses = [sent, delivered, read].map((x) => x.value.statuses?.[0]);
    expect(statuses.map((s) => s?.status)).toEqual(['sent', 'delivered', 'read']);
    for (const s of statuses) {
      expect(s).toMatchObject({
        id: messageId,
        recipient_id: '447700900010',
        biz_opaque_callback_data: 'campaign-1:recipient-9',
      });
    }
    expect(statuses[0]?.pricing).toMatchObject({ billable: true, category: 'utility', pricing_model: 'PMP' });
    expect(statuses[0]?.conversation).toMatchObject({
      origin: { type: 'utility' },
      expiration_timestamp: expect.any(String),
    });
  });

  it('publishes failed statuses with errors[]', async () => {
    const { messageId } = await send(
      t.client,
      templateMessage('15550001234', 'spring_sale', 'en_US', ['15%']),
    );
    const failed = await until(
      'the failed status event',
      () => Promise.resolve(platformEvents().find((x) => x.value.statuses?.[0]?.id === messageId)),
      EMULATOR_POLL,
    );
    const status = failed.value.statuses?.[0];
    expect(status?.status).toBe('failed');
    expect(status?.errors?.[0]).toMatchObject({
      code: 131049,
      title: expect.any(String),
      error_data: { details: expect.any(String) },
    });
  });

  it('publishes inbound messages, user preferences and phone quality updates', async () => {
    await t.control.post('/_emulator/inbound', {
      phoneNumberId: DEMO_PHONE_NUMBER_ID,
      from: '+447700900020',
      text: 'STOP',
      name: 'Ann',
    });
    await t.control.post('/_emulator/users/preferences', {
      phoneNumberId: DEMO_PHONE_NUMBER_ID,
      from: '447700900020',
      value: 'stop',
    });
    await t.control.post('/_emulator/numbers/quality', {
      phoneNumberId: DEMO_PHONE_NUMBER_ID,
      quality: 'YELLOW',
      tier: 'TIER_10K',
    });
    const fields = platformEvents;
    const inbound = await until(
      'the inbound STOP',
      () => Promise.resolve(fields().find((x) => x.value.messages?.[0]?.text?.body === 'STOP')),
      EMULATOR_POLL,
    );
    expect(inbound.value.messages?.[0]).toMatchObject({ from: '447700900020', type: 'text' });
    expect(inbound.value.contacts?.[0]).toEqual({ profile: { name: 'Ann' }, wa_id: '447700900020' });
    const prefs = await until(
      'the user_preferences change',
      () => Promise.resolve(fields().find((x) => x.field === 'user_preferences')),
      EMULATOR_POLL,
    );
    expect(prefs.value.user_preferences?.[0]).toMatchObject({
      wa_id: '447700900020',
      value: 'stop',
      category: 'marketing_messages',
    });
    const quality = await until(
      'the phone_number_quality_update change',
      () => Promise.resolve(fields().find((x) => x.field === 'phone_number_quality_update')),
      EMULATOR_POLL,
    );
    expect(quality.value).toMatchObject({
      event: 'UPGRADE',
      current_limit: 'TIER_10K',
      display_phone_number: '15550100001',
    });
  });

  it('delivers an arbitrary Message string from /_emulator/sns/publish, signed', async () => {
    const captured = JSON.stringify({ replay: true });
    const out = await t.control.post<Published>('/_emulator/sns/publish', {
      message: captured,
      subject: 'replay',
    });
    expect(out.recipients).toBe(1);
    const n = await until(
      'the replayed notification',
      () => Promise.resolve(subscriber.notifications().find((x) => x.MessageId === out.messageId)),
      EMULATOR_POLL,
    );
    expect(n.Message).toBe(captured);
    expect(n.Subject).toBe('replay');
    expect(verifySns(n, t.emu.certificatePem)).toBe(true);
  });

  it('retries 5xx answers with backoff and gives up on other 4xx', async () => {
    subscriber.failWith = [500, 503];
    const out = await t.control.post<Published>('/_emulator/sns/publish', { message: 'retry me' });
    const attempts = () => subscriber.received.filter((r) => r.body.MessageId === out.messageId);
    await until('three delivery attempts', () => Promise.resolve(attempts().length === 3), EMULATOR_POLL);
    const before = (await t.control.subscriptions())[0]?.failed ?? 0;

    subscriber.failWith = [400];
    const rejected = await t.control.post<Published>('/_emulator/sns/publish', { message: 'bad request' });
    await until(
      'the 400 to count as a failed delivery',
      async () => (await t.control.subscriptions())[0]?.failed === before + 1,
      EMULATOR_POLL,
    );
    await new Promise((r) => setTimeout(r, 100));
    expect(subscriber.received.filter((r) => r.body.MessageId === rejected.messageId)).toHaveLength(1);
  });

  it('does not deliver to a subscription until it is confirmed', async () => {
    const lazy = new TestSubscriber();
    lazy.autoConfirm = false;
    const endpoint = await lazy.start();
    try {
      const sub = await t.control.post<{ status: string; subscriptionArn: string }>(
        '/_emulator/sns/subscribe',
        { endpoint },
      );
      expect(sub.status).toBe('PendingConfirmation');
      await until(
        "the lazy subscriber's confirmation request",
        () => Promise.resolve(lazy.received.length === 1),
        EMULATOR_POLL,
      );
      await t.control.post('/_emulator/sns/publish', { message: 'not for you' });
      await new Promise((r) => setTimeout(r, 100));
      expect(lazy.notifications()).toEqual([]);

      await fetch(lazy.received[0]?.body.SubscribeURL ?? '');
      await t.control.post('/_emulator/sns/publish', { message: 'now for you' });
      await until(
        "the lazy subscriber's first notification",
        () => Promise.resolve(lazy.notifications().length === 1),
        EMULATOR_POLL,
      );
      await t.control.post('/_emulator/sns/unsubscribe', { subscriptionArn: sub.subscriptionArn });
    } finally {
      await lazy.close();
    }
  });
});

describe('template quality and pauses', () => {
  const statusEvents = async () =>
    (await t.control.changes('message_template_status_update')).filter(
      (c) => c.value.message_template_name === 'spring_sale',
    );
  const sale = () => send(t.client, templateMessage('447700900030', 'spring_sale', 'en_US', ['30%']));

  it('RED pauses (FIRST_PAUSE), unpauses after the pause, pauses again (SECOND_PAUSE), then disables', async () => {
    await t.control.post('/_emulator/templates/quality', {
      name: 'spring_sale',
      language: 'en_US',
      quality: 'YELLOW',
    });
    const red = await t.control.post('/_emulator/templates/quality', {
      name: 'spring_sale',
      language: 'en_US',
      quality: 'RED',
    });
    expect(red).toMatchObject({ status: 'PAUSED', pauseCount: 1 });
    await expectAwsError(sale(), 'InvalidParametersException', 132015);

    const quality = await t.control.changes('message_template_quality_update');
    expect(quality.map((q) => [q.value.previous_quality_score, q.value.new_quality_score])).toEqual([
      ['GREEN', 'YELLOW'],
      ['YELLOW', 'RED'],
    ]);

    await t.control.post('/_emulator/clock/advance', { ms: 1_000 });
    await expect(sale()).resolves.toHaveProperty('messageId');

    await t.control.post('/_emulator/templates/quality', {
      name: 'spring_sale',
      language: 'en_US',
      quality: 'RED',
    });
    // This emulator runs on real time plus jumps, so stay clear of the exact boundary.
    await t.control.post('/_emulator/clock/advance', { ms: 1_500 });
    await expectAwsError(sale(), 'InvalidParametersException', 132015);
    await t.control.post('/_emulator/clock/advance', { ms: 500 });
    await t.control.post('/_emulator/templates/quality', {
      name: 'spring_sale',
      language: 'en_US',
      quality: 'RED',
    });
    await expectAwsError(sale(), 'InvalidParametersException', 132016);

    const events = (await statusEvents()).map((e) => [e.value.event, e.value.other_info?.title]);
    expect(events).toEqual([
      ['PAUSED', 'FIRST_PAUSE'],
      ['APPROVED', 'UNPAUSE'],
      ['PAUSED', 'SECOND_PAUSE'],
      ['APPROVED', 'UNPAUSE'],
      ['DISABLED', 'DISABLED'],
    ]);
    // The same events reached the subscriber.
    await until(
      'the DISABLED template event',
      () =>
        Promise.resolve(
          platformEvents().some(
            (x) => x.field === 'message_template_status_update' && x.value.event === 'DISABLED',
          ),
        ),
      EMULATOR_POLL,
    );
  });

  it('sets a status directly and publishes it', async () => {
    await t.control.post('/_emulator/templates/quality', {
      name: 'hello_world',
      language: 'en_US',
      status: 'PAUSED',
    });
    await expectAwsError(
      send(t.client, templateMessage('447700900031', 'hello_world', 'en_US')),
      'InvalidParametersException',
      132015,
    );
    await t.control.post('/_emulator/templates/quality', {
      name: 'hello_world',
      language: 'en_US',
      status: 'APPROVED',
    });
    await expect(
      send(t.client, templateMessage('447700900031', 'hello_world', 'en_US')),
    ).resolves.toHaveProperty('messageId');
  });
});

describe('a real SNS validator accepts the signatures', () => {
  it('sns-payload-validator verifies SignatureVersion 2 notifications (certificate URL in AWS form)', async () => {
    const awsShapedUrl =
      'https://sns.us-east-1.amazonaws.com/SimpleNotificationService-0123456789abcdef0123456789abcdef.pem';
    const sub = new TestSubscriber();
    const endpoint = await sub.start();
    const v2 = await startTestEmulator({
      config: { sns: { subscribers: [{ endpoint }], signatureVersion: '2', signingCertUrl: awsShapedUrl } },
    });
    try {
      await until(
        'the v2 subscription to be confirmed',
        async () => (await v2.control.subscriptions())[0]?.status === 'Confirmed',
        EMULATOR_POLL,
      );
      await v2.control.post('/_emulator/sns/publish', { message: 'validate me' });
      const n = await until(
        "the v2 subscriber's first notification",
        () => Promise.resolve(sub.notifications()[0]),
        EMULATOR_POLL,
      );
      expect(n.SignatureVersion).toBe('2');
      expect(n.SigningCertURL).toBe(awsShapedUrl);

      // The validator only fetches certificates from amazonaws.com; hand it the emulator's through its cache.
      const validator = new SnsPayloadValidator();
      const cert = await (await fetch(`${v2.emu.url}/_emulator/sns/cert.pem`)).text();
      (validator as unknown as { certCache: { set(k: string, v: string): void } }).certCache.set(
        awsShapedUrl,
        cert,
      );
      await expect(validator.validate(n)).resolves.toMatchObject({ Message: 'validate me' });
      await expect(validator.validate(sub.received[0]?.body as SnsBody)).resolves.toMatchObject({
        Type: 'SubscriptionConfirmation',
      });
      await expect(validator.validate({ ...n, Message: 'tampered' })).rejects.toThrow('Invalid Signature');
    } finally {
      await v2.close();
      await sub.close();
    }
  });
});
