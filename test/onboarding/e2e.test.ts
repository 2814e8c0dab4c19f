/**
 * End to end, from `wa-campaigns onboard start` to a campaign sent from the new number: a real Temporal
 * dev server, the product worker with the payload codec, the emulator (Social Messaging, SNS, SMS and
 * Meta's Graph API) spoken to by the real AWS SDK clients, the ingest service receiving the signed SNS
 * deliveries, and the CLI run in-process. The number must first be verified by an SMS code, which
 * arrives through two-way SMS without anyone typing it.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PinpointSMSVoiceV2Client } from '@aws-sdk/client-pinpoint-sms-voice-v2';
import { SNSClient } from '@aws-sdk/client-sns';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { buildProgram } from '../../src/cli/main';
import { CampaignClient } from '../../src/client/campaign-client';
import { openDatabase, type DatabaseHandle } from '../../src/db/client';
import { queryRows } from '../../src/db/query';
import { type EmulatorHandle } from '../../src/emulator';
import { startCheckedEmulator } from '../helpers/emulator';
import { startIngestService, type IngestService } from '../../src/ingest';
import { createSocialMessagingClient } from '../../src/platform/aws-client';
import { parseCodecKeys, type CodecKeyring } from '../../src/shared/codec-keys';
import { logger } from '../../src/shared/logger';
import { onboardingWorkflowId } from '../../src/shared/ids';
import { OnboardingStep, type OnboardingStatus } from '../../src/workflows/definitions';
import { createDevServerEnv } from '../helpers/temporal';
import { until } from '../helpers/poll';
import { codecClient, ONBOARDING_POLL, startCodecWorker } from './harness';

const SMS_NUMBER_ID = `phone-${'7'.repeat(32)}`;
const ACCESS_TOKEN = `EAAG-e2e-${randomUUID()}`;
const PIN = '731946';
const quiet = logger.child({}, { level: 'silent' });

let env: TestWorkflowEnvironment;
let emulator: EmulatorHandle;
let database: DatabaseHandle;
let ingest: IngestService;
let stopWorker: () => Promise<void>;
let keyring: CodecKeyring;
const taskQueue = `onboarding-e2e-${randomUUID()}`;
const dir = mkdtempSync(path.join(tmpdir(), 'wa-onboard-'));

beforeAll(async () => {
  emulator = await startCheckedEmulator({
    config: {
      signups: [
        {
          accessToken: ACCESS_TOKEN,
          waba: { name: 'Onboarded Shop' },
          phoneNumbers: [{ displayPhoneNumber: '+1 555-030-0001', verified: false }],
          templates: [{ name: 'welcome', language: 'en_US', category: 'UTILITY', body: 'Welcome, {{1}}!' }],
        },
      ],
      smsNumbers: [{ id: SMS_NUMBER_ID, phoneNumber: '+15550300001' }],
      rules: { delivery: { sentDelayMs: [5, 20], deliveredDelayMs: [20, 50], readDelayMs: [20, 50] } },
    },
    logger: quiet,
  });
  // Only the SDKs' standard endpoint settings point the real clients at the emulator.
  Object.assign(process.env, {
    AWS_ENDPOINT_URL_SOCIALMESSAGING: emulator.url,
    AWS_ENDPOINT_URL_SNS: emulator.url,
    AWS_ENDPOINT_URL_PINPOINT_SMS_VOICE_V2: emulator.url,
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'test',
    AWS_SECRET_ACCESS_KEY: 'test',
  });
  env = await createDevServerEnv();
  database = await openDatabase({ dataDir: 'memory://' });
  const codecKeys = `e2e:${randomBytes(32).toString('base64')}`;
  keyring = parseCodecKeys(codecKeys)!;
  ingest = await startIngestService({
    db: database.db,
    temporal: codecClient(env, keyring),
    taskQueue,
    port: 0,
    host: '127.0.0.1',
    allowedTopicArns: ['arn:aws:sns:us-east-1:123456789012:*'],
    trustedCertUrls: [`${emulator.url}/_emulator/sns/cert.pem`],
    logger: quiet,
  });
  stopWorker = await startCodecWorker(env, {
    taskQueue,
    keyring,
    deps: {
      db: database.db,
      socialMessaging: createSocialMessagingClient(),
      sns: new SNSClient({}),
      smsVoice: new PinpointSMSVoiceV2Client({}),
      metaGraphUrl: `${emulator.url}/graph`,
      logger: quiet,
    },
  });
  // What the CLI reads: Temporal's own variables and the product's configuration.
  Object.assign(process.env, {
    TEMPORAL_ADDRESS: env.address,
    TEMPORAL_NAMESPACE: env.namespace ?? 'default',
    WA_TASK_QUEUE: taskQueue,
    WA_CODEC_KEYS: codecKeys,
    WA_INGEST_PUBLIC_URL: `http://127.0.0.1:${ingest.port}/sns`,
  });
});

afterAll(async () => {
  await ingest?.close();
  await stopWorker?.();
  await database?.close();
  await env?.teardown();
  await emulator?.close();
});

/** Runs `wa-campaigns …` in this process and returns what it printed. */
async function cli(...args: string[]): Promise<string> {
  let out = '';
  const write = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    out += chunk.toString();
    return true;
  });
  try {
    await buildProgram()
      .exitOverride()
      .parseAsync(['node', 'wa-campaigns', ...args]);
  } finally {
    write.mockRestore();
  }
  return out;
}

const status = async (id: string) =>
  JSON.parse(await cli('onboard', 'status', id, '--json')) as OnboardingStatus;

describe('onboarding end to end', () => {
  it('takes a signup from `onboard start` to a number a campaign sends from', async () => {
    const tokenFile = path.join(dir, 'token');
    const pinFile = path.join(dir, 'pin');
    writeFileSync(tokenFile, `${ACCESS_TOKEN}\n`);
    writeFileSync(pinFile, `${PIN}\n`);

    const started = JSON.parse(
      await cli(
        'onboard',
        'start',
        '--token-file',
        tokenFile,
        '--create-topic',
        '--sms-number',
        SMS_NUMBER_ID,
        '--json',
      ),
    ) as { onboardingId: string; started: boolean };
    expect(started.started).toBe(true);
    const id = started.onboardingId;

    const waiting = await until(
      'the onboarding to await input',
      async () => {
        const s = await status(id);
        return s.step === OnboardingStep.AwaitingInput ? s : undefined;
      },
      ONBOARDING_POLL,
    );
    const number = waiting.numbers[0]!;
    expect(waiting.eventDestination).toMatchObject({
      kind: 'new-topic',
      arn: `arn:aws:sns:us-east-1:123456789012:wa-events-${id}`,
    });
    expect(await cli('onboard', 'status', id)).toMatch(/waiting for a new 6-digit two-step verification PIN/);

    await cli('onboard', 'pin', id, '--pin-file', pinFile, '--region', 'DE');
    // 133006 → request_code → SMS → two-way SMS → SNS → ingest → archive → verify_code → registration
    // → ONBOARDING update → SNS → ingest → ready, without anyone typing the code.
    const ready = await until(
      'the onboarding to be ready',
      async () => {
        const s = await status(id);
        if (s.step === OnboardingStep.Failed) throw new Error(s.reason);
        return s.step === OnboardingStep.Ready ? s : undefined;
      },
      { ...ONBOARDING_POLL, timeoutMs: 60_000 },
    );
    expect(ready.numbers[0]).toMatchObject({
      registered: true,
      dataLocalizationRegion: 'DE',
      limits: { mps: 80, tierLimit: 1000, qualityRating: 'GREEN' },
    });
    expect(ready.eventDestination?.subscription).toBe('confirmed');

    const world = (await (await fetch(`${emulator.url}/_emulator/state`)).json()) as {
      wabas: { id: string; eventDestinations: { eventDestinationArn: string }[] }[];
    };
    expect(world.wabas.find((w) => w.id === ready.wabaId)?.eventDestinations).toEqual([
      { eventDestinationArn: ready.eventDestination!.arn },
    ]);
    const smsLog = (await (await fetch(`${emulator.url}/_emulator/sms`)).json()) as {
      inbound: { publishedTo?: string }[];
    };
    expect(smsLog.inbound).toEqual([expect.objectContaining({ publishedTo: ready.eventDestination!.arn })]);

    // The secrets never reached the server in clear.
    const history = JSON.stringify(
      await env.client.workflow.getHandle(onboardingWorkflowId(id)).fetchHistory(),
      (_k, v: unknown) =>
        v && typeof v === 'object' && (v as { type?: string }).type === 'Buffer'
          ? Buffer.from((v as { data: number[] }).data).toString('latin1')
          : v,
    );
    expect(history).not.toContain(PIN);
    expect(history).not.toContain(ACCESS_TOKEN);

    // Campaign-ready: the campaign engine sends from the new number with the limits onboarding stored.
    const list = path.join(dir, 'recipients.csv');
    writeFileSync(list, 'phone,name\n+4917612345601,Ann\n+4917612345602,Ben\n');
    const campaigns = new CampaignClient({
      db: database.db,
      temporal: codecClient(env, keyring),
      socialMessaging: createSocialMessagingClient(),
      taskQueue,
    });
    const campaign = await campaigns.start({
      templateName: 'welcome',
      templateLanguage: 'en_US',
      phoneNumberId: number.phoneNumberId,
      recipientsFile: list,
    });
    const final = await campaigns.waitForEnd(campaign.campaignId);
    expect(final.state).toBe('completed');
    expect(final.counts).toMatchObject({ total: 2, failed: 0, pending: 0 });
    const [row] = await queryRows<{ waba_id: string; tier_limit: number }>(
      database.db,
      sql`select waba_id, tier_limit from numbers where phone_number_id = ${number.phoneNumberId}`,
    );
    expect(row).toEqual({ waba_id: ready.wabaId, tier_limit: 1000 });
  });
});
