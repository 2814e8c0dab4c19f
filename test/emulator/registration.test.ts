import {
  AssociateWhatsAppBusinessAccountCommand,
  GetLinkedWhatsAppBusinessAccountCommand,
  ListLinkedWhatsAppBusinessAccountsCommand,
  type SocialMessagingClient,
} from '@aws-sdk/client-socialmessaging';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectAwsError, send, startTestEmulator, T0, templateMessage, type TestEmulator } from './helpers';

const HOUR = 3_600_000;
const TOPIC = 'arn:aws:sns:us-east-1:123456789012:onboarded';

let t: TestEmulator;
let now = T0;

beforeAll(async () => {
  t = await startTestEmulator({
    now: () => now,
    config: {
      registration: { signupTtlMs: 60_000 },
      signups: [
        {
          accessToken: 'token-import',
          waba: { name: 'Imported Shop' },
          phoneNumbers: [
            { displayPhoneNumber: '+44 20 7946 0001', existingPin: '654321' },
            { displayPhoneNumber: '+44 20 7946 0002' },
          ],
          templates: [{ name: 'welcome', language: 'en_GB', category: 'UTILITY', body: 'Welcome!' }],
        },
      ],
    },
  });
});
afterAll(() => t?.close());

async function signup(client: SocialMessagingClient, accessToken: string) {
  const out = await client.send(
    new AssociateWhatsAppBusinessAccountCommand({ signupCallback: { accessToken } }),
  );
  const token = out.signupCallbackResult?.associateInProgressToken as string;
  const [metaWabaId, account] =
    Object.entries(out.signupCallbackResult?.linkedAccountsWithIncompleteSetup ?? {})[0] ?? [];
  return { token, wabaId: account?.wabaId as string, metaWabaId, account };
}

function finalize(
  client: SocialMessagingClient,
  token: string,
  numbers: { id: string; pin: string }[],
  topic?: string,
) {
  return client.send(
    new AssociateWhatsAppBusinessAccountCommand({
      setupFinalization: {
        associateInProgressToken: token,
        phoneNumbers: numbers.map((n) => ({ id: n.id, twoFactorPin: n.pin, dataLocalizationRegion: 'GB' })),
        ...(topic ? { waba: { eventDestinations: [{ eventDestinationArn: topic }] } } : {}),
      },
    }),
  );
}

describe('AssociateWhatsAppBusinessAccount', () => {
  it('signupCallback returns an in-progress token and the accounts whose setup is incomplete', async () => {
    const { token, wabaId, metaWabaId, account } = await signup(t.client, 'token-import');
    expect(token).toBeTruthy();
    // The model's map: keyed by Meta's numeric WABA id, the AWS id in the value's `wabaId`.
    expect(metaWabaId).toMatch(/^\d+$/);
    expect(wabaId).toMatch(/^waba-[0-9a-f]{32}$/);
    expect(account?.registrationStatus).toBe('INCOMPLETE');
    expect(account?.accountName).toBe('Imported Shop');
    expect(account?.unregisteredWhatsAppPhoneNumbers?.map((p) => p.displayPhoneNumber)).toEqual([
      '+44 20 7946 0001',
      '+44 20 7946 0002',
    ]);
    const { account: linked } = await t.client.send(
      new GetLinkedWhatsAppBusinessAccountCommand({ id: wabaId }),
    );
    expect(linked?.registrationStatus).toBe('INCOMPLETE');
    const list = await t.client.send(new ListLinkedWhatsAppBusinessAccountsCommand({}));
    expect(list.linkedAccounts?.map((a) => a.id)).toContain(wabaId);
  });

  it('checks PINs: 6 digits (#100), the existing PIN of an imported number (133005), atomically', async () => {
    const { token, account, wabaId } = await signup(t.client, 'token-import');
    const [imported, fresh] = account?.unregisteredWhatsAppPhoneNumbers ?? [];
    const importedId = imported?.phoneNumberId as string;
    const freshId = fresh?.phoneNumberId as string;

    await expectAwsError(
      finalize(t.client, token, [{ id: freshId, pin: '12345' }]),
      'InvalidParametersException',
      100,
    );
    await expectAwsError(
      finalize(t.client, token, [
        { id: freshId, pin: '222222' },
        { id: importedId, pin: '111111' },
      ]),
      'InvalidParametersException',
      133005,
    );
    // Nothing was registered by the refused call.
    const sendFromFresh = send(t.client, templateMessage('447700900001', 'welcome', 'en_GB'), freshId);
    await expectAwsError(sendFromFresh, 'AccessDeniedException', 133010);

    const first = await finalize(t.client, token, [{ id: freshId, pin: '222222' }], TOPIC);
    expect(first.linkedWhatsAppBusinessAccountId).toBe(wabaId);
    let { account: linked } = await t.client.send(
      new GetLinkedWhatsAppBusinessAccountCommand({ id: wabaId }),
    );
    expect(linked?.registrationStatus).toBe('INCOMPLETE');
    expect(linked?.eventDestinations?.[0]?.eventDestinationArn).toBe(TOPIC);
    await expect(
      send(t.client, templateMessage('447700900001', 'welcome', 'en_GB'), freshId),
    ).resolves.toHaveProperty('messageId');

    await finalize(t.client, token, [{ id: importedId, pin: '654321' }]);
    ({ account: linked } = await t.client.send(new GetLinkedWhatsAppBusinessAccountCommand({ id: wabaId })));
    expect(linked?.registrationStatus).toBe('COMPLETE');
    expect(linked?.phoneNumbers?.every((p) => p.dataLocalizationRegion === 'GB')).toBe(true);

    // A registered number keeps its PIN: registering again with another one is a mismatch.
    const again = await signup(t.client, 'token-import');
    await expectAwsError(
      finalize(t.client, again.token, [{ id: freshId, pin: '999999' }]),
      'InvalidParametersException',
      133005,
    );
  });

  it('allows 10 register attempts per number in 72 hours, then refuses with 133016', async () => {
    const { token, account } = await signup(t.client, 'token-many-attempts');
    const id = account?.unregisteredWhatsAppPhoneNumbers?.[0]?.phoneNumberId as string;
    // The first attempt sets the PIN; nine more wrong ones make ten.
    await finalize(t.client, token, [{ id, pin: '123123' }]);
    for (let i = 0; i < 9; i++) {
      await expectAwsError(
        finalize(t.client, token, [{ id, pin: '000000' }]),
        'InvalidParametersException',
        133005,
      );
    }
    await expectAwsError(
      finalize(t.client, token, [{ id, pin: '123123' }]),
      'ThrottledRequestException',
      133016,
    );
    now += 72 * HOUR + 1;
    const fresh = await signup(t.client, 'token-many-attempts');
    await expect(finalize(t.client, fresh.token, [{ id, pin: '123123' }])).resolves.toHaveProperty(
      'statusCode',
      200,
    );
  });

  it('expires signups (register within the deadline) and refuses unknown tokens', async () => {
    const { token, account } = await signup(t.client, 'token-slow');
    const id = account?.unregisteredWhatsAppPhoneNumbers?.[0]?.phoneNumberId as string;
    now += 60_001;
    await expectAwsError(finalize(t.client, token, [{ id, pin: '123456' }]), 'InvalidParametersException');
    await expectAwsError(
      finalize(t.client, 'not-a-token', [{ id, pin: '123456' }]),
      'InvalidParametersException',
    );
  });

  it('needs exactly one of signupCallback and setupFinalization', async () => {
    await expectAwsError(
      t.client.send(new AssociateWhatsAppBusinessAccountCommand({})),
      'ValidationException',
    );
  });

  it('refuses unknown access tokens when configured to (#190)', async () => {
    const strict = await startTestEmulator({ config: { registration: { acceptAnyAccessToken: false } } });
    try {
      await expectAwsError(signup(strict.client, 'whatever'), 'InvalidParametersException', 190);
    } finally {
      await strict.close();
    }
  });
});
