import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { EmulatorConfig, SendRecord } from '../../src/emulator';
import {
  EMULATOR_POLL,
  expectAwsError,
  send as sendVia,
  startTestEmulator,
  T0,
  templateMessage,
  type LogPage,
  type PhoneView,
  type TestEmulator,
} from './helpers';
import { until } from '../helpers/poll';

const phone = (c: string): string => `phone-number-id-${c.repeat(32)}`;
const THROUGHPUT = phone('a'); // 5 messages/s
const TIERED = phone('b'); // TIER_50 over a 10 s window
const MARKETING = phone('c'); // marketing cap: 2 per user per window, no marketing to +1
const PAIR = phone('d'); // pair rate: burst 3, one per 6 s
const GENERAL = phone('e'); // the global rules

const send = (client: TestEmulator['client'], message: unknown, from = GENERAL) =>
  sendVia(client, message, from);

const config: EmulatorConfig = {
  apiQuotas: { sendMessagePerSecond: 0 },
  rules: {
    throughputMps: 1000,
    marketingCap: { blockUsMarketing: false },
    delivery: { sentDelayMs: 0, deliveredDelayMs: 0, readDelayMs: 0, deliveredRate: 1, readRate: 1 },
    messagingLimit: { tier: 'TIER_UNLIMITED' },
  },
  users: { undeliverable: ['+44 7700 900666'] },
  wabas: [
    {
      eventDestinations: [{ eventDestinationArn: 'arn:aws:sns:us-east-1:123456789012:rules' }],
      phoneNumbers: [
        { id: THROUGHPUT, displayPhoneNumber: '+1 555-010-0011', rules: { throughputMps: 5 } },
        {
          id: TIERED,
          displayPhoneNumber: '+1 555-010-0012',
          rules: { messagingLimit: { tier: 'TIER_50', windowMs: 10_000 } },
        },
        {
          id: MARKETING,
          displayPhoneNumber: '+1 555-010-0013',
          rules: { marketingCap: { maxPerUser: 2, blockUsMarketing: true } },
        },
        {
          id: PAIR,
          displayPhoneNumber: '+1 555-010-0014',
          rules: { pairRate: { intervalMs: 6_000, burst: 3 } },
        },
        { id: GENERAL, displayPhoneNumber: '+1 555-010-0015' },
      ],
      templates: [
        { name: 'hello_world', language: 'en_US', category: 'UTILITY', body: 'Hello!' },
        {
          name: 'order_update',
          language: 'en_US',
          category: 'UTILITY',
          body: 'Hi {{1}}, order {{2}} shipped.',
        },
        { name: 'spring_sale', language: 'en_US', category: 'MARKETING', body: 'Sale: {{1}} off.' },
        { name: 'pending_one', language: 'en_US', category: 'UTILITY', body: 'Soon', status: 'PENDING' },
        { name: 'paused_one', language: 'en_US', category: 'MARKETING', body: 'Paused', status: 'PAUSED' },
        { name: 'disabled_one', language: 'en_US', category: 'MARKETING', body: 'Off', status: 'DISABLED' },
        {
          name: 'greeting',
          language: 'en_US',
          category: 'UTILITY',
          header: { format: 'TEXT', text: 'Hi {{1}}' },
          body: 'Your code is {{1}}.',
        },
      ],
    },
  ],
};

let t: TestEmulator;
let now = T0;

beforeAll(async () => {
  t = await startTestEmulator({ config, now: () => now, seed: 11 });
});
afterAll(() => t?.close());
beforeEach(async () => {
  await t.control.post('/_emulator/reset');
});

const hello = (to: string) => templateMessage(to, 'hello_world', 'en_US');
const phoneState = async (id: string): Promise<PhoneView> =>
  (await t.control.state()).wabas[0]?.phoneNumbers.find((p) => p.id === id) as PhoneView;
const user = (n: number) => `4477009${String(n).padStart(5, '0')}`;

describe('throughput (130429): at most MPS messages in any sliding 1,000 ms window', () => {
  it('accepts exactly MPS at one instant, refuses the next until the oldest is 1,000 ms old', async () => {
    now += 60_000;
    const start = now;
    for (let i = 0; i < 5; i++) await send(t.client, hello(user(i)), THROUGHPUT);
    await expectAwsError(send(t.client, hello(user(5)), THROUGHPUT), 'ThrottledRequestException', 130429);
    now = start + 999;
    await expectAwsError(send(t.client, hello(user(6)), THROUGHPUT), 'ThrottledRequestException', 130429);
    now = start + 1_000;
    await expect(send(t.client, hello(user(7)), THROUGHPUT)).resolves.toHaveProperty('messageId');

    const rejections = await t.control.all('rejections');
    expect(rejections.map((r) => [r.code, r.surface, r.reason])).toEqual([
      [130429, 'sync', 'throughput'],
      [130429, 'sync', 'throughput'],
    ]);
  });

  it('never refuses a sender that spaces messages 1000/MPS ms apart', async () => {
    now += 60_000;
    for (let i = 0; i < 25; i++) {
      await send(t.client, hello(user(100 + i)), THROUGHPUT);
      now += 200;
    }
    expect(await t.control.all('rejections')).toEqual([]);
  });

  it('counts inbound messages too', async () => {
    now += 60_000;
    for (let i = 0; i < 5; i++) {
      await t.control.post('/_emulator/inbound', {
        phoneNumberId: THROUGHPUT,
        from: `+${user(200 + i)}`,
        text: 'hi',
      });
    }
    await expectAwsError(send(t.client, hello(user(300)), THROUGHPUT), 'ThrottledRequestException', 130429);
  });

  it('a throughput upgrade makes the number unavailable (131057), then raises it to 1,000/s', async () => {
    now += 60_000;
    await t.control.post('/_emulator/numbers/throughput-upgrade', {
      phoneNumberId: THROUGHPUT,
      durationMs: 5_000,
    });
    await expectAwsError(send(t.client, hello(user(400)), THROUGHPUT), 'DependencyException', 131057);
    await t.control.post('/_emulator/clock/advance', { ms: 5_000 });
    for (let i = 0; i < 20; i++) await send(t.client, hello(user(500 + i)), THROUGHPUT);
    expect((await phoneState(THROUGHPUT)).throughputMps).toBe(1_000);
    const updates = await t.control.changes('phone_number_quality_update');
    expect(updates.map((u) => u.value.event)).toContain('THROUGHPUT_UPGRADE');
  });
});

describe('pair rate (131056): one message per 6 s per user, burst 3 borrowing time', () => {
  it('allows the burst, then one message per interval', async () => {
    now += 60_000;
    const start = now;
    const u = user(600);
    for (let i = 0; i < 3; i++) await send(t.client, hello(u), PAIR);
    await expectAwsError(send(t.client, hello(u), PAIR), 'ThrottledRequestException', 131056);
    await expect(send(t.client, hello(user(601)), PAIR)).resolves.toHaveProperty('messageId');
    now = start + 5_999;
    await expectAwsError(send(t.client, hello(u), PAIR), 'ThrottledRequestException', 131056);
    now = start + 6_000;
    await send(t.client, hello(u), PAIR);
    await expectAwsError(send(t.client, hello(u), PAIR), 'ThrottledRequestException', 131056);
    now = start + 12_000;
    await send(t.client, hello(u), PAIR);
  });
});

describe('template checks (1320xx)', () => {
  it('refuses unknown names, languages and unapproved, paused or disabled templates', async () => {
    const to = user(700);
    await expectAwsError(
      send(t.client, templateMessage(to, 'no_such', 'en_US')),
      'InvalidParametersException',
      132001,
    );
    const lang = await expectAwsError(
      send(t.client, templateMessage(to, 'hello_world', 'fr')),
      'InvalidParametersException',
      132001,
    );
    expect(lang.message).toContain('fr');
    await expectAwsError(
      send(t.client, templateMessage(to, 'pending_one', 'en_US')),
      'InvalidParametersException',
      132001,
    );
    await expectAwsError(
      send(t.client, templateMessage(to, 'paused_one', 'en_US')),
      'InvalidParametersException',
      132015,
    );
    await expectAwsError(
      send(t.client, templateMessage(to, 'disabled_one', 'en_US')),
      'InvalidParametersException',
      132016,
    );
  });

  it('checks the number and shape of parameters', async () => {
    const to = user(701);
    await expectAwsError(
      send(t.client, templateMessage(to, 'order_update', 'en_US', ['Ann'])),
      'InvalidParametersException',
      132000,
    );
    await expectAwsError(
      send(t.client, templateMessage(to, 'hello_world', 'en_US', ['extra'])),
      'InvalidParametersException',
      132000,
    );
    await expectAwsError(
      send(t.client, templateMessage(to, 'order_update', 'en_US', ['Ann', 'line\nbreak'])),
      'InvalidParametersException',
      132018,
    );
    const noText = templateMessage(to, 'order_update', 'en_US');
    (noText.template as { components: unknown[] }).components = [
      { type: 'body', parameters: [{ type: 'text', text: 'Ann' }, { type: 'text' }] },
    ];
    await expectAwsError(send(t.client, noText), 'InvalidParametersException', 100);

    const header = templateMessage(to, 'greeting', 'en_US', ['1234']);
    await expectAwsError(send(t.client, header), 'InvalidParametersException', 132000);
    (header.template as { components: unknown[] }).components.push({
      type: 'header',
      parameters: [{ type: 'text', text: 'Ann' }],
    });
    await expect(send(t.client, header)).resolves.toHaveProperty('messageId');
    await expect(
      send(t.client, templateMessage(to, 'order_update', 'en_US', ['Ann', 'A-1'])),
    ).resolves.toHaveProperty('messageId');
  });
});

describe('customer-service windows', () => {
  it('refuses free-form messages outside a window asynchronously (131047) and allows them inside one', async () => {
    const to = user(800);
    const text = {
      messaging_product: 'whatsapp',
      recipient_type: 'individual',
      to,
      type: 'text',
      text: { body: 'Hello there' },
    };
    const outside = await send(t.client, text);
    const failed = await until(
      'the failed status of the send outside the window',
      async () => (await t.control.statuses()).find((s) => s.id === outside.messageId),
      EMULATOR_POLL,
    );
    expect(failed.status).toBe('failed');
    expect(failed.errors?.[0]?.code).toBe(131047);
    const rejections = await t.control.all('rejections');
    expect(rejections[0]).toMatchObject({ code: 131047, surface: 'async', messageId: outside.messageId });

    await t.control.post('/_emulator/inbound', { phoneNumberId: GENERAL, from: to, text: 'hi' });
    // The window belongs to the number the user wrote to.
    const otherNumber = await send(t.client, text, THROUGHPUT);
    const stillClosed = await until(
      'the failed status of the send from the other number',
      async () => (await t.control.statuses()).find((s) => s.id === otherNumber.messageId),
      EMULATOR_POLL,
    );
    expect(stillClosed.errors?.[0]?.code).toBe(131047);
    const inside = await send(t.client, text);
    await until(
      'the read status of the send inside the window',
      async () => (await t.control.statuses()).find((s) => s.id === inside.messageId && s.status === 'read'),
      EMULATOR_POLL,
    );
    const statuses = (await t.control.statuses())
      .filter((s) => s.id === inside.messageId)
      .map((s) => s.status);
    expect(statuses).toEqual(['sent', 'delivered', 'read']);
    const pricing = (await t.control.statuses()).find(
      (s) => s.id === inside.messageId && s.status === 'sent',
    )?.pricing;
    expect(pricing).toMatchObject({ billable: false, category: 'service' });
  });
});

describe('recipients: undeliverable (131026), stopped marketing (131050), marketing cap (131049)', () => {
  const failureOf = async (messageId: string | undefined) =>
    until(
      "the send's failed status",
      async () => (await t.control.statuses()).find((s) => s.id === messageId && s.status === 'failed'),
      EMULATOR_POLL,
    );

  it('fails undeliverable numbers asynchronously', async () => {
    const { messageId } = await send(t.client, hello('447700900666'));
    expect((await failureOf(messageId)).errors?.[0]?.code).toBe(131026);
  });

  it('fails marketing to a user who stopped it, until they resume', async () => {
    const to = user(900);
    await t.control.post('/_emulator/users/preferences', {
      phoneNumberId: THROUGHPUT,
      from: to,
      value: 'stop',
    });
    const sale = await send(t.client, templateMessage(to, 'spring_sale', 'en_US', ['20%']), PAIR);
    expect((await failureOf(sale.messageId)).errors?.[0]?.code).toBe(131050);
    // Utility templates still reach them.
    const utility = await send(t.client, hello(to), PAIR);
    await until(
      "the utility send's delivered status",
      async () =>
        (await t.control.statuses()).find((s) => s.id === utility.messageId && s.status === 'delivered'),
      EMULATOR_POLL,
    );

    await t.control.post('/_emulator/users/preferences', {
      phoneNumberId: THROUGHPUT,
      from: to,
      value: 'resume',
    });
    const again = await send(t.client, templateMessage(to, 'spring_sale', 'en_US', ['20%']), PAIR);
    await until(
      "the second send's delivered status",
      async () =>
        (await t.control.statuses()).find((s) => s.id === again.messageId && s.status === 'delivered'),
      EMULATOR_POLL,
    );
    const prefs = await t.control.changes('user_preferences');
    expect(prefs.map((p) => p.value.user_preferences?.[0]?.value)).toEqual(['stop', 'resume']);
  });

  it('caps marketing per user (not in exempt countries) and blocks marketing to +1', async () => {
    const us = await send(
      t.client,
      templateMessage('15550009999', 'spring_sale', 'en_US', ['10%']),
      MARKETING,
    );
    expect((await failureOf(us.messageId)).errors?.[0]?.code).toBe(131049);

    const india = '919800000001';
    const ids = [];
    for (let i = 0; i < 3; i++)
      ids.push(
        (await send(t.client, templateMessage(india, 'spring_sale', 'en_US', ['10%']), MARKETING)).messageId,
      );
    expect((await failureOf(ids[2])).errors?.[0]?.code).toBe(131049);

    const uk = user(950); // the UK is exempt from the cap
    for (let i = 0; i < 3; i++)
      await send(t.client, templateMessage(uk, 'spring_sale', 'en_US', ['10%']), MARKETING);
    const rejections = await t.control.all('rejections');
    expect(rejections.filter((r) => r.to === uk)).toEqual([]);
  });
});

describe('messaging limit (tier)', () => {
  it('lets 50 users be reached, then records a violation, fails the send and shows the number Restricted', async () => {
    now += 60_000;
    const start = now;
    for (let i = 0; i < 50; i++) await send(t.client, hello(user(1000 + i)), TIERED);
    const number = await phoneState(TIERED);
    expect(number.messagingLimit).toMatchObject({ tier: 'TIER_50', limit: 50, used: 50 });
    expect(number.status).toBe('RESTRICTED');
    expect(await t.control.all('violations')).toEqual([]);

    // Users already reached, and users inside a service window, cost nothing more.
    await send(t.client, hello(user(1000)), TIERED);
    await t.control.post('/_emulator/inbound', { phoneNumberId: TIERED, from: user(1100), text: 'hello?' });
    await send(t.client, hello(user(1100)), TIERED);
    expect(await t.control.all('violations')).toEqual([]);

    const over = await send(t.client, hello(user(1101)), TIERED);
    const violations = await t.control.all('violations');
    expect(violations).toHaveLength(1);
    expect(violations[0]).toMatchObject({
      kind: 'messaging-limit',
      to: user(1101),
      tier: 'TIER_50',
      used: 50,
      limit: 50,
    });
    const failed = await until(
      "the over-limit send's failed status",
      async () => (await t.control.statuses()).find((s) => s.id === over.messageId && s.status === 'failed'),
      EMULATOR_POLL,
    );
    expect(failed.errors?.[0]?.code).toBe(131048);

    // The window rolls: after 10 s the first users leave it and the number is Connected again.
    now = start + 10_001;
    await send(t.client, hello(user(1102)), TIERED);
    expect((await phoneState(TIERED)).status).toBe('CONNECTED');
    expect(await t.control.all('violations')).toHaveLength(1);
  });
});

describe('sends log', () => {
  it('records every accepted send in order, with paging by index', async () => {
    for (let i = 0; i < 7; i++) {
      await send(t.client, {
        ...templateMessage(user(1200 + i), 'order_update', 'en_US', ['Ann', `O-${i}`]),
        biz_opaque_callback_data: `c1:${i}`,
      });
    }
    const first = await t.control.get<LogPage<SendRecord>>('/_emulator/sends?since=0&limit=3');
    expect(first.items).toHaveLength(3);
    expect(first.next).toBe(3);
    expect(first.total).toBe(7);
    const rest = await t.control.get<LogPage<SendRecord>>(`/_emulator/sends?since=${first.next}`);
    expect(rest.items.map((s) => s.index)).toEqual([3, 4, 5, 6]);
    const s = rest.items[0] as SendRecord & {
      body: { template: { components: { parameters: { text: string }[] }[] } };
    };
    expect(s).toMatchObject({
      originationPhoneNumberId: GENERAL,
      to: user(1203),
      template: { name: 'order_update', language: 'en_US' },
      bizOpaqueCallbackData: 'c1:3',
      acceptedAtMs: now,
    });
    expect(s.messageId).toMatch(/^wamid\./);
    expect(s.body.template.components[0]?.parameters[1]?.text).toBe('O-3');
  });
});
