/**
 * The emulator held to AWS's published service models (test/contract/aws-models, botocore 1.44.8).
 * First the checker itself, on answers written out by hand: each kind of drift it must catch, among
 * them the signup answer the emulator used to give. Then every operation the emulator serves, called
 * through the real SDK clients, in success and in its modelled errors, with no finding allowed.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DescribePhoneNumbersCommand,
  PinpointSMSVoiceV2Client,
  UpdatePhoneNumberCommand,
} from '@aws-sdk/client-pinpoint-sms-voice-v2';
import {
  CreateTopicCommand,
  GetTopicAttributesCommand,
  ListSubscriptionsByTopicCommand,
  SetTopicAttributesCommand,
  SNSClient,
  SubscribeCommand,
} from '@aws-sdk/client-sns';
import {
  AssociateWhatsAppBusinessAccountCommand,
  DeleteWhatsAppMessageMediaCommand,
  GetLinkedWhatsAppBusinessAccountCommand,
  GetLinkedWhatsAppBusinessAccountPhoneNumberCommand,
  GetWhatsAppMessageTemplateCommand,
  ListLinkedWhatsAppBusinessAccountsCommand,
  ListWhatsAppFlowsCommand,
  ListWhatsAppMessageTemplatesCommand,
  PostWhatsAppMessageMediaCommand,
  PutWhatsAppBusinessAccountEventDestinationsCommand,
} from '@aws-sdk/client-socialmessaging';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_PHONE_NUMBER_ID, DEMO_WABA_ID, type HttpExchange } from '../../src/emulator';
import {
  expectAwsError,
  send,
  onboardingClients,
  startTestEmulator,
  templateMessage,
  TestSubscriber,
  waitFor,
  type TestEmulator,
} from '../emulator/helpers';
import { AwsContract } from './aws-contract';
import { loadServiceModel } from './service-model';

const WABA = 'waba-0d3a9c2e5f7b41a68e2c9d0f1b3a5c7e';
const META_WABA = '102290129340398';
/** A complete LinkedWhatsAppBusinessAccount, as GetLinkedWhatsAppBusinessAccount returns one. */
const ACCOUNT = {
  arn: `arn:aws:social-messaging:us-east-1:123456789012:waba/${WABA.slice(5)}`,
  id: WABA,
  wabaId: META_WABA,
  registrationStatus: 'COMPLETE',
  linkDate: 1_900_000_000,
  wabaName: 'Shop',
  eventDestinations: [],
  phoneNumbers: [],
};

/** A hand-written exchange: what a client sent and what came back. */
function exchange(over: Partial<HttpExchange> & { json?: unknown; requestJson?: unknown }): HttpExchange {
  const { json, requestJson, ...rest } = over;
  return {
    method: 'POST',
    path: '/v1/whatsapp/signup',
    query: new URLSearchParams(),
    requestHeaders: {},
    requestBody: Buffer.from(requestJson === undefined ? '' : JSON.stringify(requestJson)),
    status: 200,
    responseHeaders: { 'content-type': 'application/json' },
    responseBody: json === undefined ? '{}' : JSON.stringify(json),
    ...rest,
  };
}

function awsError(name: string, status: number, message = 'no'): Partial<HttpExchange> {
  return {
    status,
    responseHeaders: { 'x-amzn-errortype': `${name}:http://internal.amazon.com/coral/x/` },
    responseBody: JSON.stringify({ message }),
  };
}

function findings(...exchanges: HttpExchange[]): string {
  const contract = new AwsContract();
  for (const e of exchanges) contract.observe(e);
  return contract.report();
}

describe('the contract checker', () => {
  it('uses the vendored models, with their API versions', () => {
    expect(loadServiceModel('socialmessaging-2024-01-01').metadata.apiVersion).toBe('2024-01-01');
    expect(loadServiceModel('sns-2010-03-31').metadata.apiVersion).toBe('2010-03-31');
    expect(loadServiceModel('pinpoint-sms-voice-v2-2022-03-31').metadata.apiVersion).toBe('2022-03-31');
  });

  it("refuses the signup answer keyed by the AWS id with Meta's id as wabaId (the emulator's old answer)", () => {
    const entry = {
      accountName: 'Shop',
      registrationStatus: 'INCOMPLETE',
      unregisteredWhatsAppPhoneNumbers: [],
    };
    const answer = (map: Record<string, unknown>) =>
      exchange({
        requestJson: { signupCallback: { accessToken: 't' } },
        json: {
          statusCode: 200,
          signupCallbackResult: {
            associateInProgressToken: 'aipt-1',
            linkedAccountsWithIncompleteSetup: map,
          },
        },
      });
    const swapped = findings(answer({ [WABA]: { ...entry, wabaId: META_WABA } }));
    expect(swapped).toContain(`"${META_WABA}" does not match LinkedWhatsAppBusinessAccountId's pattern`);
    expect(findings(answer({ [META_WABA]: { ...entry, wabaId: WABA } }))).toBe('');
  });

  it('catches a request AWS would refuse that the emulator took: the engine reading an account by its Meta id', () => {
    const read = (id: string) =>
      exchange({
        method: 'GET',
        path: '/v1/whatsapp/waba/details',
        query: new URLSearchParams({ id }),
        json: { account: ACCOUNT },
      });
    expect(findings(read(META_WABA))).toMatch(
      /request .*\n.*does not match LinkedWhatsAppBusinessAccountId's pattern/,
    );
    expect(findings(read(WABA))).toBe('');
    // Refused with the framework's ValidationException, as AWS does, it is no finding.
    expect(findings({ ...read(META_WABA), ...awsError('ValidationException', 400) })).toBe('');
  });

  it("holds errors to the operation's list and each error to its status", () => {
    const sendMessage = {
      path: '/v1/whatsapp/send',
      requestBody: Buffer.from(
        JSON.stringify({
          originationPhoneNumberId: DEMO_PHONE_NUMBER_ID,
          message: Buffer.from('{}').toString('base64'),
          metaApiVersion: 'v20.0',
        }),
      ),
    };
    expect(findings(exchange({ ...sendMessage, ...awsError('AccessDeniedByMetaException', 403) }))).toContain(
      "AccessDeniedByMetaException is not among SendWhatsAppMessage's errors",
    );
    expect(findings(exchange({ ...sendMessage, ...awsError('AccessDeniedException', 403) }))).toBe('');
    expect(findings(exchange({ ...sendMessage, ...awsError('ValidationException', 413) }))).toContain(
      'ValidationException with HTTP 413, the model says 400',
    );
    expect(findings(exchange({ ...awsError('ResourceNotFoundException', 404) }))).toContain(
      "ResourceNotFoundException is not among AssociateWhatsAppBusinessAccount's errors",
    );
    // The framework's own answers, whatever the path: with their status only.
    expect(
      findings(
        exchange({
          path: '/v1/whatsapp/flow/list',
          method: 'GET',
          ...awsError('UnknownOperationException', 404),
        }),
      ),
    ).toBe('');
    expect(
      findings(exchange({ path: '/v1/nothing', ...awsError('UnknownOperationException', 400) })),
    ).toContain('UnknownOperationException with HTTP 400, AWS answers it with 404');
  });

  it('catches unknown and missing members, wrong types, enums and a success status other than the modelled one', () => {
    const detail = (json: unknown, status = 200) =>
      exchange({
        method: 'GET',
        path: '/v1/whatsapp/waba/phone/details',
        query: new URLSearchParams({ id: DEMO_PHONE_NUMBER_ID }),
        json,
        status,
      });
    const report = findings(
      detail({ phoneNumber: { qualityRating: 5, surprise: true }, linkedWhatsAppBusinessAccountId: WABA }),
      detail({ linkedWhatsAppBusinessAccountId: WABA }, 201),
    );
    expect(report).toContain('$.phoneNumber.surprise: WhatsAppPhoneNumberDetail has no member surprise');
    expect(report).toContain('$.phoneNumber.qualityRating: expected a string');
    expect(report).toContain('$.phoneNumber.arn: required by WhatsAppPhoneNumberDetail, missing');
    expect(report).toContain('HTTP 201, the model says 200');
  });

  it("reads SNS's XML: a missing RequestId, an unmodelled error code and a wrong member are caught", () => {
    const sns = (form: Record<string, string>, status: number, body: string) =>
      exchange({
        path: '/',
        requestBody: Buffer.from(new URLSearchParams(form).toString()),
        status,
        responseBody: body,
        responseHeaders: {},
      });
    const ok = `<CreateTopicResponse><CreateTopicResult><TopicArn>arn:aws:sns:us-east-1:123456789012:t</TopicArn></CreateTopicResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></CreateTopicResponse>`;
    expect(findings(sns({ Action: 'CreateTopic', Name: 't' }, 200, ok))).toBe('');
    expect(
      findings(
        sns(
          { Action: 'CreateTopic', Name: 't' },
          200,
          ok.replace('<ResponseMetadata><RequestId>r</RequestId></ResponseMetadata>', ''),
        ),
      ),
    ).toContain('no ResponseMetadata.RequestId');
    expect(
      findings(sns({ Action: 'CreateTopic', Name: 't' }, 200, ok.replaceAll('TopicArn>', 'Arn>'))),
    ).toContain('CreateTopicResponse has no member Arn');
    const notFound =
      '<ErrorResponse><Error><Type>Sender</Type><Code>NotFound</Code><Message>x</Message></Error><RequestId>r</RequestId></ErrorResponse>';
    expect(findings(sns({ Action: 'GetTopicAttributes', TopicArn: 'a' }, 404, notFound))).toBe('');
    expect(findings(sns({ Action: 'CreateTopic', Name: 't' }, 404, notFound))).toContain(
      "error code NotFound is not among CreateTopic's errors",
    );
    expect(
      findings(
        sns(
          { Action: 'GetTopicAttributes', TopicArn: 'a' },
          404,
          notFound.replace('<RequestId>r</RequestId>', ''),
        ),
      ),
    ).toContain('ErrorResponse has no RequestId');
  });
});

/** A value's skeleton: the keys of objects, the skeleton of list items, and each leaf's type. */
function skeleton(value: unknown): unknown {
  if (Array.isArray(value)) return value.length ? [skeleton(value[0])] : [];
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(
      Object.entries(value)
        .map(([k, v]) => [k, skeleton(v)])
        .sort(([a], [b]) => String(a).localeCompare(String(b))),
    );
  }
  return typeof value;
}

/** The event header of AWS's "Message and event format" page, with its example values. */
const DOCUMENTED_EVENT = {
  context: {
    MetaWabaIds: [
      {
        wabaId: '1234567890abcde',
        arn: 'arn:aws:social-messaging:us-east-1:123456789012:waba/fb2594b8a7974770b128a409e2example',
      },
    ],
    MetaPhoneNumberIds: [
      {
        metaPhoneNumberId: 'abcde1234567890',
        arn: 'arn:aws:social-messaging:us-east-1:123456789012:phone-number-id/976c72a700aac43eaf573ae050example',
      },
    ],
  },
  whatsAppWebhookEntry: '{"...JSON STRING....',
  aws_account_id: '123456789012',
  message_timestamp: '2025-01-08T23:30:43.271279391Z',
  messageId: '6d69f07a-c317-4278-9d5c-6a84078419ec',
};

describe('every operation the emulator serves, through the SDK clients', () => {
  const SMS_ID = `phone-${'7'.repeat(32)}`;
  let t: TestEmulator;
  let sns: SNSClient;
  let sms: PinpointSMSVoiceV2Client;
  let subscriber: TestSubscriber;
  let mediaDir: string;

  beforeAll(async () => {
    mediaDir = mkdtempSync(join(tmpdir(), 'wa-contract-'));
    mkdirSync(join(mediaDir, 'bucket'));
    writeFileSync(join(mediaDir, 'bucket', 'sale.jpg'), Buffer.alloc(1024, 1));
    t = await startTestEmulator({
      config: {
        media: { s3Root: mediaDir },
        smsNumbers: [{ id: SMS_ID, phoneNumber: '+15550400001' }],
      },
    });
    ({ sns, sms } = onboardingClients(t.emu.url));
    subscriber = new TestSubscriber();
  });

  afterAll(async () => {
    sns?.destroy();
    sms?.destroy();
    await subscriber?.close();
    // startTestEmulator's close() fails on any finding of the whole file as well.
    await t?.close();
  });

  it('answers Social Messaging as the model says, errors included', async () => {
    const c = t.client;
    // Onboarding: signup, read the account by the id the answer gives, finish setup.
    const signup = await c.send(
      new AssociateWhatsAppBusinessAccountCommand({ signupCallback: { accessToken: 'contract-token' } }),
    );
    const [metaId, entry] = Object.entries(
      signup.signupCallbackResult!.linkedAccountsWithIncompleteSetup!,
    )[0]!;
    expect(metaId).toMatch(/^\d+$/);
    const wabaId = entry.wabaId!;
    const { account } = await c.send(new GetLinkedWhatsAppBusinessAccountCommand({ id: wabaId }));
    expect(account?.wabaId).toBe(metaId);
    const phone = entry.unregisteredWhatsAppPhoneNumbers![0]!;
    await expectAwsError(
      c.send(
        new AssociateWhatsAppBusinessAccountCommand({
          setupFinalization: {
            associateInProgressToken: signup.signupCallbackResult!.associateInProgressToken!,
            phoneNumbers: [{ id: `phone-number-id-${'0'.repeat(32)}`, twoFactorPin: '123456' }],
          },
        }),
      ),
      'InvalidParametersException',
    );
    await c.send(
      new AssociateWhatsAppBusinessAccountCommand({
        setupFinalization: {
          associateInProgressToken: signup.signupCallbackResult!.associateInProgressToken!,
          phoneNumbers: [{ id: phone.phoneNumberId!, twoFactorPin: '123456' }],
          waba: { id: wabaId },
        },
      }),
    );
    await c.send(new GetLinkedWhatsAppBusinessAccountPhoneNumberCommand({ id: phone.arn! }));
    await expectAwsError(
      c.send(new GetLinkedWhatsAppBusinessAccountCommand({ id: `waba-${'0'.repeat(32)}` })),
      'ResourceNotFoundException',
    );
    const page = await c.send(new ListLinkedWhatsAppBusinessAccountsCommand({ maxResults: 1 }));
    expect(page.nextToken).toBeDefined();
    await c.send(new ListLinkedWhatsAppBusinessAccountsCommand({ nextToken: page.nextToken }));
    await c.send(
      new PutWhatsAppBusinessAccountEventDestinationsCommand({
        id: wabaId,
        eventDestinations: [{ eventDestinationArn: 'arn:aws:sns:us-east-1:123456789012:contract-events' }],
      }),
    );
    await expectAwsError(
      c.send(
        new PutWhatsAppBusinessAccountEventDestinationsCommand({
          id: `waba-${'1'.repeat(32)}`,
          eventDestinations: [],
        }),
      ),
      'InvalidParametersException',
    );

    // Templates.
    const list = await c.send(new ListWhatsAppMessageTemplatesCommand({ id: DEMO_WABA_ID }));
    expect(list.templates?.length).toBeGreaterThan(0);
    await c.send(
      new GetWhatsAppMessageTemplateCommand({
        id: DEMO_WABA_ID,
        metaTemplateId: list.templates![0]!.metaTemplateId!,
      }),
    );
    await expectAwsError(
      c.send(new GetWhatsAppMessageTemplateCommand({ id: DEMO_WABA_ID, metaTemplateId: '999999' })),
      'ResourceNotFoundException',
    );

    // Media: upload from the local S3, by object and by presigned URL, then delete.
    const { mediaId } = await c.send(
      new PostWhatsAppMessageMediaCommand({
        originationPhoneNumberId: DEMO_PHONE_NUMBER_ID,
        sourceS3File: { bucketName: 'bucket', key: 'sale.jpg' },
      }),
    );
    await c.send(
      new PostWhatsAppMessageMediaCommand({
        originationPhoneNumberId: DEMO_PHONE_NUMBER_ID,
        sourceS3PresignedUrl: {
          url: 'https://bucket.s3.us-east-1.amazonaws.com/sale.jpg?X-Amz-Signature=1',
          headers: {},
        },
      }),
    );
    await c.send(
      new DeleteWhatsAppMessageMediaCommand({
        mediaId: mediaId!,
        originationPhoneNumberId: DEMO_PHONE_NUMBER_ID,
      }),
    );
    await expectAwsError(
      c.send(
        new DeleteWhatsAppMessageMediaCommand({
          mediaId: mediaId!,
          originationPhoneNumberId: DEMO_PHONE_NUMBER_ID,
        }),
      ),
      'ResourceNotFoundException',
    );

    // Sending: accepted, a template error, an unknown number, and a locked account (131031).
    await send(c, templateMessage('447700900901', 'hello_world', 'en_US'));
    await expectAwsError(
      send(c, templateMessage('447700900902', 'no_such_template', 'en_US')),
      'InvalidParametersException',
      132001,
    );
    await expectAwsError(
      send(c, templateMessage('447700900903', 'hello_world', 'en_US'), `phone-number-id-${'2'.repeat(32)}`),
      'ResourceNotFoundException',
    );
    await t.control.post('/_emulator/faults', {
      faults: [{ type: 'error', code: 131031, times: 1 }],
      mode: 'replace',
    });
    await expectAwsError(
      send(c, templateMessage('447700900904', 'hello_world', 'en_US')),
      'AccessDeniedException',
      131031,
    );

    // Its status events come in AWS's documented envelope, member for member.
    const published = await waitFor(async () => {
      const page = await t.control.get<{ items: { field: string; message: string }[] }>('/_emulator/events');
      return page.items.find((e) => e.field === 'messages');
    });
    const envelope = JSON.parse(published.message) as typeof DOCUMENTED_EVENT;
    expect(skeleton(envelope)).toEqual(skeleton(DOCUMENTED_EVENT));
    expect(envelope.messageId).toMatch(
      /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    );
    expect(envelope.message_timestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/);
    expect(envelope.aws_account_id).toMatch(/^\d{12}$/);

    // An operation the emulator does not serve gets the framework's answer.
    await expectAwsError(
      c.send(new ListWhatsAppFlowsCommand({ id: DEMO_WABA_ID })),
      'UnknownOperationException',
    );

    expect(t.emu.contract.report()).toBe('');
    const answered = [...t.emu.contract.checked.keys()];
    for (const op of [
      'AssociateWhatsAppBusinessAccount',
      'GetLinkedWhatsAppBusinessAccount',
      'GetLinkedWhatsAppBusinessAccountPhoneNumber',
      'ListLinkedWhatsAppBusinessAccounts',
      'PutWhatsAppBusinessAccountEventDestinations',
      'ListWhatsAppMessageTemplates',
      'GetWhatsAppMessageTemplate',
      'PostWhatsAppMessageMedia',
      'DeleteWhatsAppMessageMedia',
      'SendWhatsAppMessage',
    ]) {
      expect(answered, op).toContain(`SocialMessaging.${op} 200`);
    }
  });

  it('answers SNS and SMS and voice as their models say', async () => {
    const { TopicArn } = await sns.send(
      new CreateTopicCommand({ Name: 'contract-topic', Tags: [{ Key: 'team', Value: 'x' }] }),
    );
    await sns.send(new GetTopicAttributesCommand({ TopicArn }));
    await sns.send(
      new SetTopicAttributesCommand({ TopicArn, AttributeName: 'DisplayName', AttributeValue: 'Contract' }),
    );
    await expectAwsError(
      sns.send(new GetTopicAttributesCommand({ TopicArn: `${TopicArn!}-missing` })),
      'NotFoundException',
    );
    const endpoint = await subscriber.start();
    await sns.send(new SubscribeCommand({ TopicArn, Protocol: 'http', Endpoint: endpoint }));
    // The subscriber confirms by GETting SubscribeURL: SNS's ConfirmSubscription.
    await waitFor(async () => {
      const { Subscriptions } = await sns.send(new ListSubscriptionsByTopicCommand({ TopicArn }));
      return Subscriptions?.[0]?.SubscriptionArn !== 'PendingConfirmation';
    });

    await sms.send(
      new UpdatePhoneNumberCommand({
        PhoneNumberId: SMS_ID,
        TwoWayEnabled: true,
        TwoWayChannelArn: TopicArn,
      }),
    );
    await sms.send(new DescribePhoneNumbersCommand({ PhoneNumberIds: [SMS_ID] }));
    await expectAwsError(
      sms.send(new UpdatePhoneNumberCommand({ PhoneNumberId: `phone-${'8'.repeat(32)}` })),
      'ResourceNotFoundException',
    );

    expect(t.emu.contract.report()).toBe('');
    const answered = [...t.emu.contract.checked.keys()];
    for (const key of [
      'SNS.CreateTopic 200',
      'SNS.GetTopicAttributes 200',
      'SNS.GetTopicAttributes 404',
      'SNS.SetTopicAttributes 200',
      'SNS.Subscribe 200',
      'SNS.ConfirmSubscription 200',
      'SNS.ListSubscriptionsByTopic 200',
      'Pinpoint SMS Voice V2.UpdatePhoneNumber 200',
      'Pinpoint SMS Voice V2.UpdatePhoneNumber 400',
      'Pinpoint SMS Voice V2.DescribePhoneNumbers 200',
    ]) {
      expect(answered).toContain(key);
    }
  });
});
