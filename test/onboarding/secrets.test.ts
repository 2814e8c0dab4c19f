/**
 * Secrets stay secret: an onboarding's access token and PIN are fetched back from the server's history
 * and must not appear anywhere in it in plaintext (nor in the activities' logs or the database), while
 * the key holder can still read them and a client without the key cannot.
 */
import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import type { Client } from '@temporalio/client';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import pino from 'pino';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OnboardingClient, reportOnboardingEvent } from '../../src/client/onboarding-client';
import { openDatabase, type DatabaseHandle } from '../../src/db/client';
import { queryRows } from '../../src/db/query';
import { AesGcmPayloadCodec } from '../../src/shared/codec';
import type { CodecKeyring } from '../../src/shared/codec-keys';
import { onboardingWorkflowId } from '../../src/shared/ids';
import {
  EventDestinationKind,
  OnboardingStep,
  WabaMode,
  onboardingStatusQuery,
  type OnboardingWorkflowInput,
} from '../../src/workflows/definitions';
import { virtualActivityClock } from '../helpers/fake-platform';
import { createTimeSkippingEnv } from '../helpers/temporal';
import { FakeOnboardingPlatform } from './fake-onboarding-platform';
import { quietLogger } from '../helpers/logger';
import { until } from '../helpers/poll';
import {
  codecClient,
  ONBOARDING_POLL,
  startCodecWorker,
  testKeyring,
  timeSkippingCodecClient,
} from './harness';

const ACCESS_TOKEN = `EAAG-secret-signup-token-${randomUUID()}`;
const PIN = '482913';

let env: TestWorkflowEnvironment;
let database: DatabaseHandle;
let keyring: CodecKeyring;
let platform: FakeOnboardingPlatform;
let stopWorker: () => Promise<void>;
let onboarding: OnboardingClient;
let temporal: Pick<Client, 'workflow'>;
const logLines: string[] = [];
const taskQueue = `secrets-${randomUUID()}`;

beforeAll(async () => {
  env = await createTimeSkippingEnv();
  database = await openDatabase({ dataDir: 'memory://' });
  keyring = testKeyring('2030-01');
  const clock = virtualActivityClock();
  platform = new FakeOnboardingPlatform(clock);
  // Everything the activities log, at every level, is kept for inspection.
  const capture = new Writable({
    write(chunk: Buffer, _encoding, done) {
      logLines.push(chunk.toString());
      done();
    },
  });
  stopWorker = await startCodecWorker(env, {
    taskQueue,
    keyring,
    deps: {
      db: database.db,
      socialMessaging: platform.socialMessaging(),
      sns: platform.sns(),
      logger: pino({ level: 'trace' }, capture),
      clock,
    },
  });
  temporal = timeSkippingCodecClient(env, keyring);
  onboarding = new OnboardingClient({ temporal, taskQueue });
});

afterAll(async () => {
  await stopWorker?.();
  await database?.close();
  await env?.teardown();
});

/** The stored history as text: every byte string as UTF-8 and as base64, everything else as JSON. */
async function historyText(workflowId: string): Promise<string> {
  const history = await env.client.workflow.getHandle(workflowId).fetchHistory();
  // Converted before JSON.stringify, which would otherwise turn Buffers into arrays of numbers.
  const bytesAsText = (value: unknown): unknown => {
    if (value instanceof Uint8Array) {
      return `${Buffer.from(value).toString('utf8')}|${Buffer.from(value).toString('base64')}`;
    }
    if (Array.isArray(value)) return value.map(bytesAsText);
    if (value && typeof value === 'object') {
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, bytesAsText(v)]));
    }
    return value;
  };
  return JSON.stringify(bytesAsText(history));
}

async function firstPayloads(workflowId: string) {
  const history = await env.client.workflow.getHandle(workflowId).fetchHistory();
  const events = history.events ?? [];
  const start = events.find(
    (e) => e.workflowExecutionStartedEventAttributes,
  )?.workflowExecutionStartedEventAttributes;
  const update = events.find(
    (e) => e.workflowExecutionUpdateAcceptedEventAttributes,
  )?.workflowExecutionUpdateAcceptedEventAttributes;
  return {
    start: start?.input?.payloads?.[0] as Payload,
    update: update?.acceptedRequest?.input?.args?.payloads?.[0] as Payload,
    events,
  };
}

describe('secrets in an onboarding', () => {
  let onboardingId: string;

  beforeAll(async () => {
    onboardingId = `ob-${randomUUID().slice(0, 8)}`;
    await onboarding.start({
      onboardingId,
      accessToken: ACCESS_TOKEN,
      signupCompletedAt: new Date(await env.currentTimeMs()),
      wabaMode: WabaMode.New,
      eventDestination: { kind: EventDestinationKind.NewTopic },
      ingestUrl: 'https://ingest.example.com/sns',
    });
    await until(
      'the onboarding to await the PIN',
      async () => (await onboarding.status(onboardingId)).step === OnboardingStep.AwaitingInput,
      ONBOARDING_POLL,
    );
    await onboarding.submitPin(onboardingId, { pin: PIN });
    await until(
      'the onboarding to verify the number',
      async () => (await onboarding.status(onboardingId)).step === OnboardingStep.Verifying,
      ONBOARDING_POLL,
    );
    await reportOnboardingEvent(temporal, onboardingId, { field: 'messages' });
    expect((await onboarding.result(onboardingId)).step).toBe(OnboardingStep.Ready);
  });

  it('keeps the PIN and the access token out of the history the server stores', async () => {
    const text = await historyText(onboardingWorkflowId(onboardingId));
    expect(text).not.toContain(PIN);
    expect(text).not.toContain(ACCESS_TOKEN);
    expect(text).not.toContain(Buffer.from(PIN).toString('base64'));
    expect(text).toContain('binary/encrypted');
    // The platform did get the PIN, so the secret really went through Temporal, encrypted.
    expect(platform.numbers[0]!.pin).toBe(PIN);
  });

  it('lets the key holder read the secrets back', async () => {
    const { start, update } = await firstPayloads(onboardingWorkflowId(onboardingId));
    const codec = new AesGcmPayloadCodec(keyring);
    const [input] = await codec.decode([start]);
    expect(defaultPayloadConverter.fromPayload<OnboardingWorkflowInput>(input!).accessToken).toBe(
      ACCESS_TOKEN,
    );
    const [pinInput] = await codec.decode([update]);
    expect(defaultPayloadConverter.fromPayload<{ pin: string }>(pinInput!).pin).toBe(PIN);
  });

  it('gives a client without the key nothing it can read', async () => {
    const keyless = codecClient(env, undefined).workflow.getHandle(onboardingWorkflowId(onboardingId));
    await expect(keyless.result()).rejects.toThrow(/binary\/encrypted|Unknown encoding/i);
    await expect(keyless.query(onboardingStatusQuery)).rejects.toThrow();
    const otherKey = codecClient(env, testKeyring('someone-else')).workflow.getHandle(
      onboardingWorkflowId(onboardingId),
    );
    await expect(otherKey.result()).rejects.toThrow(
      /encrypted with key "2030-01", which is not in WA_CODEC_KEYS/,
    );
    const { start } = await firstPayloads(onboardingWorkflowId(onboardingId));
    await expect(new AesGcmPayloadCodec(testKeyring('2030-01')).decode([start])).rejects.toThrow(
      /failed authentication/,
    );
  });

  it('logs neither secret and stores no PIN in the database', async () => {
    const logs = logLines.join('');
    expect(logs).toContain(onboardingId);
    expect(logs).not.toContain(PIN);
    expect(logs).not.toContain(ACCESS_TOKEN);
    const dump = JSON.stringify(
      await Promise.all(
        ['onboardings', 'onboarding_numbers', 'numbers'].map((table) =>
          queryRows(database.db, sql`select * from ${sql.identifier(table)}`),
        ),
      ),
    );
    expect(dump).toContain(onboardingId);
    expect(dump).not.toContain(PIN);
    expect(dump).not.toContain(ACCESS_TOKEN);
  });

  it('encodes failure messages too', async () => {
    // A platform of its own: the first onboarding registered the shared one's number.
    const failingQueue = `${taskQueue}-fifo`;
    const fresh = new FakeOnboardingPlatform(virtualActivityClock());
    const stop = await startCodecWorker(env, {
      taskQueue: failingQueue,
      keyring,
      deps: {
        db: database.db,
        socialMessaging: fresh.socialMessaging(),
        sns: fresh.sns(),
        logger: quietLogger,
      },
    });
    try {
      const failing = `ob-${randomUUID().slice(0, 8)}`;
      await new OnboardingClient({ temporal, taskQueue: failingQueue }).start({
        onboardingId: failing,
        accessToken: `${ACCESS_TOKEN}-2`,
        wabaMode: WabaMode.New,
        signupCompletedAt: new Date(await env.currentTimeMs()),
        eventDestination: {
          kind: EventDestinationKind.ExistingTopic,
          topicArn: 'arn:aws:sns:us-east-1:123456789012:events.fifo',
        },
      });
      const result = await onboarding.result(failing);
      expect(result.step).toBe(OnboardingStep.Failed);
      expect(result.reason).toMatch(/FIFO topic/);
      const { events } = await firstPayloads(onboardingWorkflowId(failing));
      const failure = events.find((e) => e.activityTaskFailedEventAttributes)
        ?.activityTaskFailedEventAttributes?.failure;
      expect(failure?.message).toBe('Encoded failure');
      expect(await historyText(onboardingWorkflowId(failing))).not.toMatch(/FIFO topic/);
    } finally {
      await stop();
    }
  });
});
