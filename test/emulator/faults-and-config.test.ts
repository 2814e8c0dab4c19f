import { ListWhatsAppMessageTemplatesCommand } from '@aws-sdk/client-socialmessaging';
import { afterEach, describe, expect, it } from 'vitest';
import { DEMO_PHONE_NUMBER_ID, DEMO_WABA_ID, startEmulator, type EmulatorConfig } from '../../src/emulator';
import {
  EMULATOR_POLL,
  expectAwsError,
  sdkClient,
  send,
  startTestEmulator,
  T0,
  templateMessage,
  type TestEmulator,
} from './helpers';
import { quietLogger } from '../helpers/logger';
import { until } from '../helpers/poll';

const running: TestEmulator[] = [];
async function emulator(config: EmulatorConfig = {}, seed = 5): Promise<TestEmulator> {
  const t = await startTestEmulator({
    config: {
      ...config,
      rules: { delivery: { sentDelayMs: 0, deliveredDelayMs: 0, readDelayMs: 0 }, ...config.rules },
    },
    seed,
    now: () => T0,
  });
  running.push(t);
  return t;
}
afterEach(async () => {
  await Promise.all(running.splice(0).map((t) => t.close()));
});

const hello = (n: number) => templateMessage(`4477009${String(n).padStart(5, '0')}`, 'hello_world', 'en_US');

describe('fault injection', () => {
  it('injects Meta errors from the config, a given number of times', async () => {
    const t = await emulator({ faults: [{ type: 'error', code: 131000, times: 1 }] });
    await expectAwsError(send(t.client, hello(1)), 'DependencyException', 131000);
    await expect(send(t.client, hello(2))).resolves.toHaveProperty('messageId');
    const [rejection] = await t.control.all('rejections');
    expect(rejection).toMatchObject({
      code: 131000,
      reason: 'fault',
      surface: 'sync',
      awsError: 'DependencyException',
    });
  });

  it('changes faults at run time, per operation, including plain AWS exceptions', async () => {
    const t = await emulator();
    await t.control.post('/_emulator/faults', {
      faults: [
        { type: 'error', code: 130429, times: 2, operation: 'SendWhatsAppMessage' },
        { type: 'error', awsError: 'InternalServiceException', operation: 'ListWhatsAppMessageTemplates' },
      ],
    });
    await expectAwsError(send(t.client, hello(1)), 'ThrottledRequestException', 130429);
    const listed = await t.control.get<{ faults: { remaining: number | null }[] }>('/_emulator/faults');
    expect(listed.faults[0]?.remaining).toBe(1);
    await expectAwsError(send(t.client, hello(2)), 'ThrottledRequestException', 130429);
    await expect(send(t.client, hello(3))).resolves.toHaveProperty('messageId');
    await expectAwsError(
      t.client.send(new ListWhatsAppMessageTemplatesCommand({ id: DEMO_WABA_ID })),
      'InternalServiceException',
    );

    await fetch(`${t.emu.url}/_emulator/faults`, { method: 'DELETE' });
    await expect(
      t.client.send(new ListWhatsAppMessageTemplatesCommand({ id: DEMO_WABA_ID })),
    ).resolves.toHaveProperty('templates');

    const bad = await fetch(`${t.emu.url}/_emulator/faults`, {
      method: 'POST',
      body: JSON.stringify({ faults: [{ type: 'error', rate: 2 }] }),
    });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: string }).error).toContain('faults[0]');
  });

  it('surfaces an injected code asynchronously as a failed status when asked', async () => {
    const t = await emulator({ faults: [{ type: 'error', code: 131026, surface: 'async' }] });
    const { messageId } = await send(t.client, hello(1));
    const failed = await until(
      'the failed status of the faulted send',
      async () => (await t.control.statuses()).find((s) => s.id === messageId),
      EMULATOR_POLL,
    );
    expect(failed).toMatchObject({ status: 'failed', errors: [{ code: 131026 }] });
    const [sendRecord] = await t.control.all('sends');
    expect(sendRecord).toMatchObject({ messageId, asyncFailureCode: 131026 });
  });

  it('adds latency', async () => {
    const t = await emulator({ faults: [{ type: 'latency', ms: 150 }] });
    const started = Date.now();
    await send(t.client, hello(1));
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
  });

  it('accepts a send and loses the response (connection destroyed): the send is recorded', async () => {
    const t = await emulator({ faults: [{ type: 'response-lost', times: 1 }] });
    const err = await send(t.client, hello(1)).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(err).toBeInstanceOf(Error);
    expect(err?.name).not.toMatch(/Exception$/);
    const sends = await t.control.all('sends');
    expect(sends).toHaveLength(1);
    await until(
      "the first send's sent status",
      async () =>
        (await t.control.statuses()).some((s) => s.id === sends[0]?.messageId && s.status === 'sent'),
      EMULATOR_POLL,
    );
  });

  it('accepts a send and never answers (hang): the client times out, the send is recorded', async () => {
    const t = await emulator({ faults: [{ type: 'response-lost', mode: 'hang', times: 1 }] });
    const client = sdkClient(t.emu.url, { requestTimeout: 200 });
    try {
      await expect(send(client, hello(1))).rejects.toThrow();
      expect(await t.control.all('sends')).toHaveLength(1);
    } finally {
      client.destroy();
    }
  });

  it('is deterministic under a seed: same ids and same random faults; another seed differs', async () => {
    const faults: EmulatorConfig['faults'] = [{ type: 'error', code: 131000, rate: 0.5 }];
    const run = async (seed: number) => {
      const t = await emulator({ faults }, seed);
      const outcomes: string[] = [];
      for (let i = 0; i < 20; i++) {
        outcomes.push(
          await send(t.client, hello(i)).then(
            (r) => r.messageId ?? '',
            (e: Error) => e.name,
          ),
        );
      }
      return outcomes;
    };
    const a = await run(42);
    const b = await run(42);
    const c = await run(43);
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
    expect(a.filter((o) => o === 'DependencyException').length).toBeGreaterThan(2);
    expect(a.filter((o) => o.startsWith('wamid.')).length).toBeGreaterThan(2);
  });
});

describe('configurable rules', () => {
  it('moves a Meta code to the async surface (errorSurfaces)', async () => {
    const t = await emulator({ errorSurfaces: { '131056': 'async' }, rules: { pairRate: { burst: 1 } } });
    await send(t.client, hello(1));
    const second = await send(t.client, hello(1));
    const failed = await until(
      "the second send's failed status",
      async () => (await t.control.statuses()).find((s) => s.id === second.messageId),
      EMULATOR_POLL,
    );
    expect(failed.errors?.[0]?.code).toBe(131056);
    const { errors } = await t.control.get<{ errors: { code: number; surface: string; awsError: string }[] }>(
      '/_emulator/errors',
    );
    expect(errors.find((e) => e.code === 131056)).toMatchObject({
      surface: 'async',
      awsError: 'ThrottledRequestException',
    });
    expect(errors.find((e) => e.code === 130429)).toMatchObject({ surface: 'sync' });
  });

  it('can refuse sends past the tier synchronously, and still lists them as violations', async () => {
    const t = await emulator({
      overLimit: { action: 'reject', code: 131048 },
      rules: { messagingLimit: { tier: 'TIER_50' } },
    });
    for (let i = 0; i < 50; i++) await send(t.client, hello(i));
    await expectAwsError(send(t.client, hello(50)), 'AccessDeniedException', 131048);
    expect(await t.control.all('violations')).toHaveLength(1);
  });

  it('shares one budget across the numbers of a business portfolio', async () => {
    const phone = (c: string) => `phone-number-id-${c.repeat(32)}`;
    const template = { name: 'hello_world', language: 'en_US', category: 'UTILITY' as const, body: 'Hello' };
    const t = await emulator({
      messagingLimitScope: 'portfolio',
      portfolios: [{ id: 'acme', tier: 'TIER_50' }],
      wabas: [
        {
          portfolioId: 'acme',
          phoneNumbers: [{ id: phone('1'), displayPhoneNumber: '+1 555-010-0101' }],
          templates: [template],
        },
        {
          portfolioId: 'acme',
          phoneNumbers: [{ id: phone('2'), displayPhoneNumber: '+1 555-010-0102' }],
          templates: [template],
        },
      ],
    });
    for (let i = 0; i < 30; i++) await send(t.client, hello(i), phone('1'));
    for (let i = 30; i < 50; i++) await send(t.client, hello(i), phone('2'));
    expect(await t.control.all('violations')).toEqual([]);
    await send(t.client, hello(50), phone('1'));
    const [violation] = await t.control.all('violations');
    expect(violation).toMatchObject({ scopeKey: 'portfolio:acme', used: 50, limit: 50 });
    const state = await t.control.state();
    expect(state.wabas[1]?.phoneNumbers[0]?.status).toBe('RESTRICTED');
  });

  it('applies the AWS account quota for SendWhatsAppMessage', async () => {
    const t = await emulator({ apiQuotas: { sendMessagePerSecond: 3 } });
    for (let i = 0; i < 3; i++) await send(t.client, hello(i));
    const err = await expectAwsError(send(t.client, hello(3)), 'ThrottledRequestException');
    expect(err.message).not.toContain('(#');
  });

  it('resets the world and its logs', async () => {
    const t = await emulator();
    await send(t.client, hello(1));
    await expectAwsError(
      send(t.client, templateMessage('447700900001', 'nope', 'en_US')),
      'InvalidParametersException',
      132001,
    );
    expect((await t.control.state()).counts).toMatchObject({ sends: 1, rejections: 1 });
    await t.control.post('/_emulator/reset');
    expect((await t.control.state()).counts).toMatchObject({ sends: 0, rejections: 0, events: 0 });
    // Same seed after a reset: the first message id repeats.
    const again = await send(t.client, hello(1));
    const fresh = await emulator();
    expect((await send(fresh.client, hello(1))).messageId).toBe(again.messageId);
  });

  it('rejects a bad configuration with an error naming each bad field', async () => {
    await expect(
      startEmulator({
        logger: quietLogger,
        config: { wabas: [{ phoneNumbers: [{ displayPhoneNumber: 'call me' }] }] },
      }),
    ).rejects.toThrow(/wabas\[0\]\.phoneNumbers\[0\]\.displayPhoneNumber/);
    await expect(
      startEmulator({ logger: quietLogger, config: { rulez: {} } as EmulatorConfig }),
    ).rejects.toThrow(/rulez/);
    await expect(
      startEmulator({ logger: quietLogger, config: { rules: { throughputMps: -1 } } }),
    ).rejects.toThrow(/rules\.throughputMps/);
    await expect(
      startEmulator({ logger: quietLogger, config: { messagingLimitScope: 'portfolio' } }),
    ).rejects.toThrow(/portfolioId/);
  });
});

describe('demo world defaults', () => {
  it('has a registered number at 80 messages/s and blocks marketing to +1', async () => {
    const t = await emulator();
    const state = await t.control.state();
    const number = state.wabas[0]?.phoneNumbers[0];
    expect(number).toMatchObject({
      id: DEMO_PHONE_NUMBER_ID,
      throughputMps: 80,
      status: 'CONNECTED',
      registered: true,
    });
    expect(number?.rules.pairRate).toEqual({ intervalMs: 6_000, burst: 45 });
    expect(state.wabas[0]?.templates.map((x) => x.bodyParameters)).toEqual(expect.arrayContaining([0, 1, 2]));

    const { messageId } = await send(
      t.client,
      templateMessage('+1 415 555 0100', 'spring_sale', 'en_US', ['10%']),
    );
    const failed = await until(
      "the capped send's failed status",
      async () => (await t.control.statuses()).find((s) => s.id === messageId),
      EMULATOR_POLL,
    );
    expect(failed.errors?.[0]?.code).toBe(131049);
  });
});
