import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DeleteWhatsAppMessageMediaCommand,
  GetLinkedWhatsAppBusinessAccountCommand,
  GetLinkedWhatsAppBusinessAccountPhoneNumberCommand,
  GetWhatsAppMessageTemplateCommand,
  ListLinkedWhatsAppBusinessAccountsCommand,
  ListWhatsAppMessageTemplatesCommand,
  PostWhatsAppMessageMediaCommand,
  PutWhatsAppBusinessAccountEventDestinationsCommand,
  SendWhatsAppMessageCommand,
} from '@aws-sdk/client-socialmessaging';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_PHONE_NUMBER_ID, DEMO_TOPIC_ARN, DEMO_WABA_ID } from '../../src/emulator';
import { expectAwsError, send, startTestEmulator, templateMessage, type TestEmulator } from './helpers';

let t: TestEmulator;
let mediaDir: string;

beforeAll(async () => {
  mediaDir = await mkdtemp(join(tmpdir(), 'emu-media-'));
  t = await startTestEmulator({ config: { maxBodyBytes: 64 * 1024, media: { s3Root: mediaDir } } });
});
afterAll(async () => {
  await t.close();
  await rm(mediaDir, { recursive: true, force: true });
});

describe('the demo world through the AWS SDK', () => {
  it('lists and describes the linked WABA and its number', async () => {
    const list = await t.client.send(new ListLinkedWhatsAppBusinessAccountsCommand({}));
    expect(list.linkedAccounts?.map((a) => a.id)).toEqual([DEMO_WABA_ID]);

    const { account } = await t.client.send(
      new GetLinkedWhatsAppBusinessAccountCommand({ id: DEMO_WABA_ID }),
    );
    expect(account?.registrationStatus).toBe('COMPLETE');
    expect(account?.linkDate).toBeInstanceOf(Date);
    expect(account?.eventDestinations).toEqual([{ eventDestinationArn: DEMO_TOPIC_ARN }]);
    expect(account?.phoneNumbers?.[0]?.phoneNumberId).toMatch(/^phone-number-id-[0-9a-f]{32}$/);

    const phone = await t.client.send(
      new GetLinkedWhatsAppBusinessAccountPhoneNumberCommand({ id: DEMO_PHONE_NUMBER_ID }),
    );
    expect(phone.linkedWhatsAppBusinessAccountId).toBe(DEMO_WABA_ID);
    expect(phone.phoneNumber?.arn).toMatch(/:phone-number-id\/[0-9a-f]{32}$/);
    expect(phone.phoneNumber?.qualityRating).toBe('GREEN');

    // The ARN names the same number.
    const byArn = await t.client.send(
      new GetLinkedWhatsAppBusinessAccountPhoneNumberCommand({ id: phone.phoneNumber?.arn }),
    );
    expect(byArn.phoneNumber?.phoneNumberId).toBe(DEMO_PHONE_NUMBER_ID);
  });

  it('lists templates with status, quality, category and language, and pages them', async () => {
    const all = await t.client.send(new ListWhatsAppMessageTemplatesCommand({ id: DEMO_WABA_ID }));
    const names = all.templates?.map((x) => `${x.templateName}/${x.templateLanguage}`);
    expect(names).toEqual(
      expect.arrayContaining([
        'hello_world/en_US',
        'order_update/en_US',
        'order_update/es',
        'spring_sale/en_US',
      ]),
    );
    expect(
      all.templates?.every((x) => x.templateStatus === 'APPROVED' && x.templateQualityScore === 'GREEN'),
    ).toBe(true);
    expect(all.templates?.find((x) => x.templateName === 'spring_sale')?.templateCategory).toBe('MARKETING');

    const first = await t.client.send(
      new ListWhatsAppMessageTemplatesCommand({ id: DEMO_WABA_ID, maxResults: 2 }),
    );
    expect(first.templates).toHaveLength(2);
    const second = await t.client.send(
      new ListWhatsAppMessageTemplatesCommand({
        id: DEMO_WABA_ID,
        maxResults: 2,
        nextToken: first.nextToken,
      }),
    );
    expect(second.templates?.[0]?.templateName).toBe(all.templates?.[2]?.templateName);
  });

  it('returns the template definition with its body and parameter count', async () => {
    const byName = await t.client.send(
      new GetWhatsAppMessageTemplateCommand({
        id: DEMO_WABA_ID,
        templateName: 'order_update',
        templateLanguageCode: 'en_US',
      }),
    );
    const def = JSON.parse(byName.template ?? '{}') as {
      id: string;
      components: { type: string; text?: string }[];
    };
    expect(def).toMatchObject({
      name: 'order_update',
      language: 'en_US',
      status: 'APPROVED',
      category: 'UTILITY',
    });
    const body = def.components.find((c) => c.type === 'BODY');
    expect(body?.text?.match(/\{\{\d+\}\}/g)).toHaveLength(2);

    const byId = await t.client.send(
      new GetWhatsAppMessageTemplateCommand({ id: DEMO_WABA_ID, metaTemplateId: def.id }),
    );
    expect(JSON.parse(byId.template ?? '{}')).toHaveProperty('name', 'order_update');

    await expectAwsError(
      t.client.send(
        new GetWhatsAppMessageTemplateCommand({
          id: DEMO_WABA_ID,
          templateName: 'nope',
          templateLanguageCode: 'en_US',
        }),
      ),
      'ResourceNotFoundException',
    );
  });

  it('sets one event destination and refuses FIFO topics and a second destination', async () => {
    const other = 'arn:aws:sns:us-east-1:123456789012:other-topic';
    await t.client.send(
      new PutWhatsAppBusinessAccountEventDestinationsCommand({
        id: DEMO_WABA_ID,
        eventDestinations: [{ eventDestinationArn: other }],
      }),
    );
    const { account } = await t.client.send(
      new GetLinkedWhatsAppBusinessAccountCommand({ id: DEMO_WABA_ID }),
    );
    expect(account?.eventDestinations?.[0]?.eventDestinationArn).toBe(other);

    await expectAwsError(
      t.client.send(
        new PutWhatsAppBusinessAccountEventDestinationsCommand({
          id: DEMO_WABA_ID,
          eventDestinations: [{ eventDestinationArn: 'arn:aws:sns:us-east-1:123456789012:events.fifo' }],
        }),
      ),
      'InvalidParametersException',
    );
    await expectAwsError(
      t.client.send(
        new PutWhatsAppBusinessAccountEventDestinationsCommand({
          id: DEMO_WABA_ID,
          eventDestinations: [{ eventDestinationArn: other }, { eventDestinationArn: DEMO_TOPIC_ARN }],
        }),
      ),
      'ValidationException',
    );
    await t.client.send(
      new PutWhatsAppBusinessAccountEventDestinationsCommand({
        id: DEMO_WABA_ID,
        eventDestinations: [{ eventDestinationArn: DEMO_TOPIC_ARN }],
      }),
    );
  });

  it('uploads media from a local "S3" file, uses it only from the same number, and deletes it', async () => {
    const dir = join(mediaDir, 'media-bucket');
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'banner.png'), Buffer.alloc(1024, 1));
    await writeFile(join(dir, 'notes.exe'), 'x');

    const { mediaId } = await t.client.send(
      new PostWhatsAppMessageMediaCommand({
        originationPhoneNumberId: DEMO_PHONE_NUMBER_ID,
        sourceS3File: { bucketName: 'media-bucket', key: 'banner.png' },
      }),
    );
    expect(mediaId).toMatch(/^\d+$/);

    // An image-header template accepts the uploaded media id.
    const withHeader = templateMessage('447700900123', 'new_arrivals', 'en_US', ['Ann']);
    (withHeader.template as { components: unknown[] }).components.push({
      type: 'header',
      parameters: [{ type: 'image', image: { id: mediaId } }],
    });
    await expect(send(t.client, withHeader)).resolves.toHaveProperty('messageId');

    // Missing header media is a format mismatch.
    await expectAwsError(
      send(t.client, templateMessage('447700900124', 'new_arrivals', 'en_US', ['Ann'])),
      'InvalidParametersException',
      132012,
    );

    // Absolute keys read the file as is; both sources at once are refused.
    const abs = await t.client.send(
      new PostWhatsAppMessageMediaCommand({
        originationPhoneNumberId: DEMO_PHONE_NUMBER_ID,
        sourceS3File: { bucketName: 'ignored', key: join(dir, 'banner.png') },
      }),
    );
    expect(abs.mediaId).toBeDefined();
    // A presigned URL names an object of the same local S3, virtual-hosted or path style; anything
    // but an https S3 URL breaks the model's pattern.
    for (const url of [
      'https://media-bucket.s3.us-east-1.amazonaws.com/banner.png?X-Amz-Signature=abc',
      'https://s3.us-east-1.amazonaws.com/media-bucket/banner.png',
    ]) {
      const presigned = await t.client.send(
        new PostWhatsAppMessageMediaCommand({
          originationPhoneNumberId: DEMO_PHONE_NUMBER_ID,
          sourceS3PresignedUrl: { url, headers: {} },
        }),
      );
      expect(presigned.mediaId).toMatch(/^\d+$/);
    }
    await expectAwsError(
      t.client.send(
        new PostWhatsAppMessageMediaCommand({
          originationPhoneNumberId: DEMO_PHONE_NUMBER_ID,
          sourceS3PresignedUrl: { url: `file://${join(dir, 'banner.png')}`, headers: {} },
        }),
      ),
      'ValidationException',
    );
    await expectAwsError(
      t.client.send(
        new PostWhatsAppMessageMediaCommand({
          originationPhoneNumberId: DEMO_PHONE_NUMBER_ID,
          sourceS3File: { bucketName: 'media-bucket', key: 'banner.png' },
          sourceS3PresignedUrl: {
            url: 'https://media-bucket.s3.us-east-1.amazonaws.com/banner.png',
            headers: {},
          },
        }),
      ),
      'InvalidParametersException',
    );
    await expectAwsError(
      t.client.send(
        new PostWhatsAppMessageMediaCommand({
          originationPhoneNumberId: DEMO_PHONE_NUMBER_ID,
          sourceS3File: { bucketName: 'media-bucket', key: 'notes.exe' },
        }),
      ),
      'InvalidParametersException',
      131053,
    );
    await expectAwsError(
      t.client.send(
        new PostWhatsAppMessageMediaCommand({
          originationPhoneNumberId: DEMO_PHONE_NUMBER_ID,
          sourceS3File: { bucketName: 'media-bucket', key: 'missing.png' },
        }),
      ),
      'ResourceNotFoundException',
    );

    const deleted = await t.client.send(
      new DeleteWhatsAppMessageMediaCommand({ originationPhoneNumberId: DEMO_PHONE_NUMBER_ID, mediaId }),
    );
    expect(deleted.success).toBe(true);
    await expectAwsError(
      t.client.send(
        new DeleteWhatsAppMessageMediaCommand({ originationPhoneNumberId: DEMO_PHONE_NUMBER_ID, mediaId }),
      ),
      'ResourceNotFoundException',
    );
  });
});

describe('bad requests get the AWS error a real client would see', () => {
  it('unknown number → ResourceNotFoundException', async () => {
    await expectAwsError(
      send(
        t.client,
        templateMessage('447700900001', 'hello_world', 'en_US'),
        'phone-number-id-0123456789abcdef0123456789abcdef',
      ),
      'ResourceNotFoundException',
    );
    await expectAwsError(
      t.client.send(
        new GetLinkedWhatsAppBusinessAccountCommand({ id: 'waba-0123456789abcdef0123456789abcdef' }),
      ),
      'ResourceNotFoundException',
    );
  });

  it('missing fields and wrong types → ValidationException naming the field', async () => {
    const missing = await expectAwsError(
      t.client.send(
        new SendWhatsAppMessageCommand({ message: Buffer.from('{}'), metaApiVersion: 'v20.0' } as never),
      ),
      'ValidationException',
    );
    expect(missing.message).toContain('originationPhoneNumberId');

    const wrongType = await fetch(`${t.emu.url}/v1/whatsapp/send`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ originationPhoneNumberId: 42, message: 'e30=', metaApiVersion: 'v20.0' }),
    });
    expect(wrongType.status).toBe(400);
    expect(wrongType.headers.get('x-amzn-errortype')).toMatch(/^ValidationException/);
    expect(((await wrongType.json()) as { message: string }).message).toContain("'originationPhoneNumberId'");

    await expectAwsError(
      t.client.send(
        new SendWhatsAppMessageCommand({
          originationPhoneNumberId: DEMO_PHONE_NUMBER_ID,
          message: Buffer.from('{}'),
          metaApiVersion: 'twenty',
        }),
      ),
      'ValidationException',
    );
  });

  it('malformed Meta message JSON → InvalidParametersException (#100)', async () => {
    await expectAwsError(send(t.client, '{not json'), 'InvalidParametersException', 100);
    const noProduct = await expectAwsError(
      send(t.client, {
        to: '447700900001',
        type: 'template',
        template: { name: 'hello_world', language: { code: 'en_US' } },
      }),
      'InvalidParametersException',
      100,
    );
    expect(noProduct.message).toContain('messaging_product');
    // What Meta's Message schema requires, the emulator requires: recipient_type, language.policy, and
    // components of the three kinds the schema names.
    const ok = templateMessage('447700900001', 'hello_world', 'en_US');
    const { recipient_type: _omitted, ...noRecipientType } = ok;
    for (const body of [
      noRecipientType,
      { ...ok, template: { name: 'hello_world', language: { code: 'en_US' } } },
      { ...ok, template: { name: 'hello_world', language: { policy: 'fallback', code: 'en_US' } } },
      { ...ok, template: { ...(ok.template as object), components: [{ type: 'footer', parameters: [] }] } },
    ]) {
      await expectAwsError(send(t.client, body), 'InvalidParametersException', 100);
    }
    await expectAwsError(
      send(t.client, {
        messaging_product: 'whatsapp',
        to: '447700900001',
        type: 'template',
        template: { name: 'hello_world' },
      }),
      'InvalidParametersException',
      100,
    );
    await expectAwsError(
      send(t.client, {
        ...templateMessage('447700900001', 'hello_world', 'en_US'),
        biz_opaque_callback_data: 'x'.repeat(513),
      }),
      'InvalidParametersException',
      100,
    );
  });

  it('an oversize body → ValidationException with status 400, and the server keeps serving', async () => {
    const huge = templateMessage('447700900001', 'hello_world', 'en_US', [], {
      padding: 'x'.repeat(100 * 1024),
    });
    const err = await expectAwsError(send(t.client, huge), 'ValidationException');
    expect((err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode).toBe(400);
    await expect(
      send(t.client, templateMessage('447700900002', 'hello_world', 'en_US')),
    ).resolves.toHaveProperty('messageId');
  });

  it('unknown operations and bodies that are not JSON get AWS-style errors, not a crash', async () => {
    const unknown = await fetch(`${t.emu.url}/v1/whatsapp/teleport`, { method: 'POST', body: '{}' });
    expect(unknown.status).toBe(404);
    expect(unknown.headers.get('x-amzn-errortype')).toMatch(/^UnknownOperationException/);
    expect(await unknown.json()).toHaveProperty('message');

    const wrongMethod = await fetch(`${t.emu.url}/v1/whatsapp/send`, { method: 'GET' });
    expect(wrongMethod.headers.get('x-amzn-errortype')).toMatch(/^UnknownOperationException/);

    const notJson = await fetch(`${t.emu.url}/v1/whatsapp/send`, { method: 'POST', body: '{{{' });
    expect(notJson.status).toBe(400);
    expect(notJson.headers.get('x-amzn-errortype')).toMatch(/^SerializationException/);

    const control = await fetch(`${t.emu.url}/_emulator/nothing-here`);
    expect(control.status).toBe(404);
    expect(await control.json()).toHaveProperty('error');

    const health = await fetch(`${t.emu.url}/_emulator/health`);
    expect(await health.json()).toEqual({ ok: true });
  });

  it('the SDK also finds the emulator through AWS_ENDPOINT_URL_SOCIALMESSAGING alone', async () => {
    const { SocialMessagingClient } = await import('@aws-sdk/client-socialmessaging');
    const previous = process.env.AWS_ENDPOINT_URL_SOCIALMESSAGING;
    process.env.AWS_ENDPOINT_URL_SOCIALMESSAGING = t.emu.url;
    try {
      const client = new SocialMessagingClient({
        region: 'eu-west-1',
        credentials: { accessKeyId: 'x', secretAccessKey: 'y' },
        maxAttempts: 1,
      });
      const list = await client.send(new ListLinkedWhatsAppBusinessAccountsCommand({}));
      expect(list.linkedAccounts?.[0]?.id).toBe(DEMO_WABA_ID);
      client.destroy();
    } finally {
      if (previous === undefined) delete process.env.AWS_ENDPOINT_URL_SOCIALMESSAGING;
      else process.env.AWS_ENDPOINT_URL_SOCIALMESSAGING = previous;
    }
  });
});
