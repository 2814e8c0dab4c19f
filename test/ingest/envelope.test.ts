import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { OptOutKeywords, normalizeKeyword } from '../../src/ingest/apply/keywords';
import { tierLimitOf } from '../../src/platform/tiers';
import { UnrecognizedMessage, parsePlatformMessage } from '../../src/ingest/events/platform-message';
import { TrustedCertUrls, isConfirmableSubscribeUrl } from '../../src/ingest/sns/cert-urls';
import { MalformedSnsBody, parseSnsBody } from '../../src/ingest/sns/envelope';
import { TopicAllowList } from '../../src/ingest/sns/topics';
import { PHONE_NUMBER_ID, WABA_ID, platformMessage, statusChange } from './helpers/events';

const fixture = JSON.parse(
  readFileSync(path.join(__dirname, 'fixtures/inbound-text.sns.json'), 'utf8'),
) as Record<string, string>;

describe('envelope parsing', () => {
  it('reads the captured inbound text three levels deep', () => {
    const parsed = parsePlatformMessage(fixture.Message);
    expect(parsed.context).toEqual({ wabaIds: [WABA_ID], phoneNumberIds: [PHONE_NUMBER_ID] });
    expect(parsed.awsAccountId).toBe('210987654321');
    // Nanosecond precision in message_timestamp is accepted.
    expect(parsed.publishedAt?.toISOString()).toBe('2025-09-18T04:56:36.684Z');
    const [entry] = parsed.entries;
    expect(entry?.id).toBe('104729385610234');
    expect(entry?.changes[0]?.field).toBe('messages');
    const value = entry?.changes[0]?.value as { messages: { text: { body: string } }[]; contacts: unknown[] };
    expect(value.messages[0]?.text.body).toBe('Hello, is the spring offer still on?');
  });

  it("reads AWS's documented envelope, with its event id", () => {
    // The shape of the example in AWS's "Message and event format" page: nanosecond timestamp, messageId.
    const parsed = parsePlatformMessage(
      JSON.stringify({
        context: {
          MetaWabaIds: [
            {
              wabaId: '1234567890abcde',
              arn: `arn:aws:social-messaging:us-east-1:123456789012:waba/${WABA_ID.slice(5)}`,
            },
          ],
          MetaPhoneNumberIds: [
            {
              metaPhoneNumberId: 'abcde1234567890',
              arn: `arn:aws:social-messaging:us-east-1:123456789012:phone-number-id/${PHONE_NUMBER_ID.slice(16)}`,
            },
          ],
        },
        whatsAppWebhookEntry: JSON.stringify({
          id: '1234567890abcde',
          changes: [{ field: 'messages', value: {} }],
        }),
        aws_account_id: '123456789012',
        message_timestamp: '2025-01-08T23:30:43.271279391Z',
        messageId: '6d69f07a-c317-4278-9d5c-6a84078419ec',
      }),
    );
    expect(parsed.context).toEqual({ wabaIds: [WABA_ID], phoneNumberIds: [PHONE_NUMBER_ID] });
    expect(parsed.eventId).toBe('6d69f07a-c317-4278-9d5c-6a84078419ec');
    expect(parsed.publishedAt?.toISOString()).toBe('2025-01-08T23:30:43.271Z');
    // Captures from real accounts lack messageId: it stays optional.
    expect(parsePlatformMessage(fixture.Message).eventId).toBeUndefined();
  });

  it('tolerates an entry given as an object, as an array, or as Meta webhook body, and unknown fields', () => {
    const entry = {
      id: '1',
      changes: [{ field: 'messages', value: { statuses: [] }, surprise: true }],
      extra: 1,
    };
    const asObject = parsePlatformMessage(
      JSON.stringify({ context: {}, whatsAppWebhookEntry: entry, novel: 'x' }),
    );
    expect(asObject.entries).toHaveLength(1);
    expect(asObject.context).toEqual({ wabaIds: [], phoneNumberIds: [] });
    const asArray = parsePlatformMessage(
      JSON.stringify({ whatsAppWebhookEntry: JSON.stringify([entry, entry]) }),
    );
    expect(asArray.entries).toHaveLength(2);
    const asWebhook = parsePlatformMessage(
      JSON.stringify({
        whatsAppWebhookEntry: JSON.stringify({ object: 'whatsapp_business_account', entry: [entry] }),
      }),
    );
    expect(asWebhook.entries[0]?.changes[0]?.field).toBe('messages');
    // A change without a field is dropped, not fatal.
    const noField = parsePlatformMessage(
      JSON.stringify({ whatsAppWebhookEntry: { changes: [{ value: {} }, 'junk'] } }),
    );
    expect(noField.entries[0]?.changes).toEqual([]);
  });

  it('says why a Message is not a WhatsApp event', () => {
    expect(() => parsePlatformMessage('not json')).toThrow(UnrecognizedMessage);
    expect(() =>
      parsePlatformMessage(JSON.stringify({ originationNumber: '+1', messageBody: 'STOP' })),
    ).toThrow(/no whatsAppWebhookEntry/);
    expect(() => parsePlatformMessage(JSON.stringify({ whatsAppWebhookEntry: '{broken' }))).toThrow(
      UnrecognizedMessage,
    );
  });

  it('parses a generated status message', () => {
    const parsed = parsePlatformMessage(platformMessage([statusChange({ id: 'wamid.1', status: 'sent' })]));
    expect(parsed.entries[0]?.changes[0]?.value.statuses).toHaveLength(1);
  });

  it('checks the SNS body fields before anything else', () => {
    expect(() => parseSnsBody('{')).toThrow(MalformedSnsBody);
    expect(() => parseSnsBody('[]')).toThrow(/not a JSON object/);
    expect(() => parseSnsBody(JSON.stringify({ Type: 'Whatever' }))).toThrow(/unknown SNS message Type/);
    expect(() => parseSnsBody(JSON.stringify({ Type: 'Notification', MessageId: 'x' }))).toThrow(
      /lacks TopicArn/,
    );
    expect(() =>
      parseSnsBody(
        JSON.stringify({
          Type: 'SubscriptionConfirmation',
          MessageId: 'a',
          TopicArn: 'b',
          Message: 'c',
          Timestamp: 'd',
          SignatureVersion: '1',
          Signature: 'e',
          SigningCertURL: 'f',
        }),
      ),
    ).toThrow(/SubscribeURL/);
  });
});

describe('trust rules', () => {
  it('accepts only listed topics, with wildcards', () => {
    const topics = new TopicAllowList(['arn:aws:sns:eu-west-1:1:wa-events', 'arn:aws:sns:*:2:wa-*']);
    expect(topics.allows('arn:aws:sns:eu-west-1:1:wa-events')).toBe(true);
    expect(topics.allows('arn:aws:sns:us-east-1:2:wa-prod')).toBe(true);
    expect(topics.allows('arn:aws:sns:us-east-1:3:wa-prod')).toBe(false);
    expect(topics.allows('arn:aws:sns:eu-west-1:1:wa-events-other')).toBe(false);
    expect(new TopicAllowList([]).empty).toBe(true);
    expect(new TopicAllowList([' ', '']).allows('')).toBe(false);
  });

  it('visits SubscribeURLs only on SNS or on the trusted certificate service that signed', () => {
    const trusted = new TrustedCertUrls(['http://127.0.0.1:4566/_emulator/sns/cert.pem']);
    const awsCert =
      'https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-0123456789abcdef0123456789abcdef.pem';
    expect(
      isConfirmableSubscribeUrl(
        'https://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription',
        awsCert,
        trusted,
      ),
    ).toBe(true);
    expect(
      isConfirmableSubscribeUrl('https://evil.example.com/?Action=ConfirmSubscription', awsCert, trusted),
    ).toBe(false);
    expect(isConfirmableSubscribeUrl('http://sns.eu-west-1.amazonaws.com/', awsCert, trusted)).toBe(false);
    const emulatorCert = 'http://127.0.0.1:4566/_emulator/sns/cert.pem';
    expect(
      isConfirmableSubscribeUrl('http://127.0.0.1:4566/?Action=ConfirmSubscription', emulatorCert, trusted),
    ).toBe(true);
    expect(
      isConfirmableSubscribeUrl('http://127.0.0.1:9999/?Action=ConfirmSubscription', emulatorCert, trusted),
    ).toBe(false);
    expect(
      new TrustedCertUrls([/^http:\/\/localhost:\d+\/cert\.pem$/]).trusts('http://localhost:80/cert.pem'),
    ).toBe(true);
    expect(new TrustedCertUrls(['http://a/certs/*']).trusts('http://a/certs/x.pem')).toBe(true);
    expect(new TrustedCertUrls(['http://a/certs/*']).trusts('http://b/certs/x.pem')).toBe(false);
  });
});

describe('opt-out words', () => {
  const words = new OptOutKeywords();
  it.each([
    ['STOP', 'stop'],
    ['stop', 'stop'],
    ['  Stop!! ', 'stop'],
    ['Arrêt', 'stop'],
    ['ARRET', 'stop'],
    ['stopp', 'stop'],
    ['Baja', 'stop'],
    ['dar de baja', 'stop'],
    ['PARAR', 'stop'],
    ['Cancelar', 'stop'],
    ['descadastrar', 'stop'],
    ['Stop promotions', 'stop'],
    ['unsubscribe 🙏', 'stop'],
    ['START', 'resume'],
    ['Resume promotions', 'resume'],
  ])('%s → %s', (text, intent) => {
    expect(words.match(text)?.intent).toBe(intent);
  });

  it('ignores ordinary messages that merely contain a word', () => {
    expect(words.match("please don't stop")).toBeUndefined();
    expect(words.match('Hello')).toBeUndefined();
    expect(words.match('')).toBeUndefined();
    expect(words.match(undefined)).toBeUndefined();
  });

  it('can be configured, and a word on both lists opts out', () => {
    const custom = new OptOutKeywords(['HALT', 'SAME'], ['GO', 'SAME']);
    expect(custom.match('halt')?.intent).toBe('stop');
    expect(custom.match('STOP')).toBeUndefined();
    expect(custom.match('go')?.intent).toBe('resume');
    expect(custom.match('same')?.intent).toBe('stop');
    expect(normalizeKeyword('Désabonner-moi!')).toBe('DESABONNER MOI');
  });
});

describe('limits', () => {
  it('maps tiers to limits', () => {
    expect(tierLimitOf('TIER_50')).toBe(50);
    expect(tierLimitOf('TIER_250')).toBe(250);
    expect(tierLimitOf('TIER_1K')).toBe(1000);
    expect(tierLimitOf('TIER_2K')).toBe(2000);
    expect(tierLimitOf('TIER_10K')).toBe(10_000);
    expect(tierLimitOf('TIER_100K')).toBe(100_000);
    expect(tierLimitOf('TIER_UNLIMITED')).toBeNull();
    expect(tierLimitOf('TIER_WEIRD')).toBeUndefined();
    expect(tierLimitOf(undefined)).toBeUndefined();
  });
});
