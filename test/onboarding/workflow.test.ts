/**
 * The onboarding workflow on Temporal's time-skipping server with the real activities, the embedded
 * database and an in-memory platform whose clock follows skipped time: the 14-day deadline, the 72-hour
 * registration block and daily reminders run in seconds.
 */
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ActivityDeps } from '../../src/activities';
import {
  OnboardingClient,
  OnboardingInputRefused,
  deliverVerificationCode,
  reportOnboardingEvent,
} from '../../src/client/onboarding-client';
import { openDatabase, type DatabaseHandle } from '../../src/db/client';
import { activeOnboardingsFor } from '../../src/db/onboardings';
import { queryRows } from '../../src/db/query';
import { logger } from '../../src/shared/logger';
import type { CodecKeyring } from '../../src/shared/codec-keys';
import {
  EventDestinationKind,
  OnboardingStep,
  WabaMode,
  submitPinUpdate,
  type EventDestinationChoice,
  type OnboardingStatus,
  type OnboardingTuning,
} from '../../src/workflows/definitions';
import { virtualActivityClock } from '../helpers/fake-platform';
import { createTimeSkippingEnv } from '../helpers/temporal';
import { FakeOnboardingPlatform } from './fake-onboarding-platform';
import { until } from '../helpers/poll';
import { ONBOARDING_POLL, startCodecWorker, testKeyring, timeSkippingCodecClient } from './harness';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

let env: TestWorkflowEnvironment;
let database: DatabaseHandle;
let keyring: CodecKeyring;
const clock = virtualActivityClock();
const quiet = logger.child({}, { level: 'silent' });

beforeAll(async () => {
  await new Promise<void>((resolve) => graph.server.listen(0, '127.0.0.1', resolve));
  graph.url = `http://127.0.0.1:${(graph.server.address() as AddressInfo).port}`;
  env = await createTimeSkippingEnv();
  database = await openDatabase({ dataDir: 'memory://' });
  keyring = testKeyring();
});

afterAll(async () => {
  await new Promise((resolve) => graph.server.close(resolve));
  await database?.close();
  await env?.teardown();
});

function depsFor(platform: FakeOnboardingPlatform): ActivityDeps {
  return {
    db: database.db,
    socialMessaging: platform.socialMessaging(),
    sns: platform.sns(),
    logger: quiet,
    clock,
    metaGraphUrl: graph.url,
  };
}

/** Meta's request_code / verify_code, answering like the Graph API; the right code is 314159. */
const graph = {
  url: '',
  calls: [] as string[],
  server: http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const edge = req.url?.split('/').pop() ?? '';
      graph.calls.push(edge);
      const ok = edge === 'request_code' || new URLSearchParams(body).get('code') === '314159';
      res.writeHead(ok ? 200 : 400, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify(ok ? { success: true } : { error: { message: 'Verify code error', code: 136025 } }),
      );
    });
  }),
};

/** One onboarding against its own fake platform, worker and task queue. */
async function setUp(options: { numbers?: { suffix: string; pin?: string }[] } = {}) {
  const taskQueue = `onboarding-${randomUUID()}`;
  const platform = new FakeOnboardingPlatform(clock, options.numbers);
  let stop = await startCodecWorker(env, { taskQueue, deps: depsFor(platform), keyring, uncached: true });
  const temporal = timeSkippingCodecClient(env, keyring);
  const onboarding = new OnboardingClient({ temporal, taskQueue });
  return {
    platform,
    onboarding,
    temporal,
    /** Stops the worker and starts a fresh one (empty cache: the workflow is rebuilt from history). */
    async restartWorker() {
      await stop();
      stop = await startCodecWorker(env, { taskQueue, deps: depsFor(platform), keyring, uncached: true });
    },
    stop: () => stop(),
  };
}

async function start(
  onboarding: OnboardingClient,
  options: {
    signupCompletedAt?: number;
    tuning?: Partial<OnboardingTuning>;
    eventDestination?: EventDestinationChoice;
  } = {},
) {
  const onboardingId = `ob-${randomUUID().slice(0, 8)}`;
  await onboarding.start({
    onboardingId,
    accessToken: `token-${onboardingId}`,
    signupCompletedAt: new Date(options.signupCompletedAt ?? (await env.currentTimeMs())),
    wabaMode: WabaMode.New,
    eventDestination: options.eventDestination ?? { kind: EventDestinationKind.NewTopic },
    ingestUrl: 'https://ingest.example.com/sns',
    ...(options.tuning ? { tuning: options.tuning } : {}),
  });
  return onboardingId;
}

async function closeTimeOf(onboardingId: string): Promise<number> {
  const description = await env.client.workflow.getHandle(`onboarding:${onboardingId}`).describe();
  return description.closeTime?.getTime() ?? Number.NaN;
}

const waitForStep = (
  onboarding: OnboardingClient,
  id: string,
  step: OnboardingStep,
  extra?: (s: OnboardingStatus) => boolean,
) =>
  until(
    `the onboarding to reach ${step}`,
    async () => {
      const s = await onboarding.status(id);
      return s.step === step && (extra?.(s) ?? true) ? s : undefined;
    },
    ONBOARDING_POLL,
  );

describe('onboarding workflow (time-skipping)', () => {
  it('goes from signup to a campaign-ready number: topic, policy, subscription, PIN, registration, first event, limits', async () => {
    const t = await setUp();
    try {
      const id = await start(t.onboarding);
      const waiting = await waitForStep(t.onboarding, id, OnboardingStep.AwaitingInput);
      expect(waiting.waitingFor).toMatch(/6-digit two-step verification PIN/);
      expect(waiting.numbers).toEqual([
        expect.objectContaining({
          phoneNumberId: t.platform.numbers[0]!.id,
          pinProvided: false,
          registered: false,
        }),
      ]);
      const topicArn = 'arn:aws:sns:us-east-1:123456789012:wa-events-' + id;
      expect(waiting.eventDestination).toEqual({ arn: topicArn, kind: 'new-topic', subscription: 'pending' });
      const policy = JSON.parse(t.platform.topics.get(topicArn)!.Policy!) as {
        Statement: Record<string, unknown>[];
      };
      expect(policy.Statement).toContainEqual(
        expect.objectContaining({
          Principal: { Service: 'social-messaging.amazonaws.com' },
          Action: 'sns:Publish',
          Condition: {
            StringEquals: { 'aws:SourceAccount': '123456789012' },
            ArnLike: { 'aws:SourceArn': 'arn:aws:social-messaging:us-east-1:123456789012:*' },
          },
        }),
      );
      expect(t.platform.subscriptions).toEqual([
        { topicArn, endpoint: 'https://ingest.example.com/sns', confirmed: false },
      ]);
      // The ingest service finds the running onboarding by its WABA and number.
      expect(await activeOnboardingsFor(database.db, { wabaId: t.platform.wabaId })).toEqual([id]);
      expect(await activeOnboardingsFor(database.db, { phoneNumberId: t.platform.numbers[0]!.id })).toEqual([
        id,
      ]);

      const afterPin = await t.onboarding.submitPin(id, { pin: '246810', dataLocalizationRegion: 'DE' });
      expect(afterPin.numbers[0]).toMatchObject({ pinProvided: true, dataLocalizationRegion: 'DE' });
      await waitForStep(t.onboarding, id, OnboardingStep.Verifying);
      await reportOnboardingEvent(t.temporal, id, {
        field: 'phone_number_quality_update',
        phoneNumberId: t.platform.numbers[0]!.id,
        currentLimit: 'TIER_1K',
      });
      const result = await t.onboarding.result(id);
      expect(result.step).toBe(OnboardingStep.Ready);
      expect(result.numbers[0]).toMatchObject({
        registered: true,
        limits: { mps: 80, tierLimit: 1000, qualityRating: 'GREEN' },
      });
      const [row] = await queryRows<{ waba_id: string; tier_limit: number; mps: number; status: string }>(
        database.db,
        sql`select waba_id, tier_limit, mps, status from numbers where phone_number_id = ${t.platform.numbers[0]!.id}`,
      );
      expect(row).toEqual({ waba_id: t.platform.wabaId, tier_limit: 1000, mps: 80, status: 'CONNECTED' });
      expect(await activeOnboardingsFor(database.db, { wabaId: t.platform.wabaId })).toEqual([]);
    } finally {
      await t.stop();
    }
  });

  it('refuses malformed input in the update validator, with the reason, and keeps waiting', async () => {
    const t = await setUp({ numbers: [{ suffix: 'b' }, { suffix: 'c' }] });
    try {
      const id = await start(t.onboarding);
      await waitForStep(t.onboarding, id, OnboardingStep.AwaitingInput);
      const first = t.platform.numbers[0]!;
      await expect(t.onboarding.submitPin(id, { phoneNumberId: first.id, pin: '12345' })).rejects.toThrow(
        new OnboardingInputRefused('the two-step verification PIN must be exactly 6 digits'),
      );
      await expect(
        t.onboarding.submitPin(id, { phoneNumberId: first.id, pin: '123456', dataLocalizationRegion: 'FR' }),
      ).rejects.toThrow(/dataLocalizationRegion must be one of AU, ID, IN/);
      // Past the client's own check: the workflow's validator refuses, and says why.
      const handle = t.temporal.workflow.getHandle(`onboarding:${id}`);
      const refused = await handle
        .executeUpdate(submitPinUpdate, { args: [{ phoneNumberId: first.id, pin: 'abcdef' }] })
        .catch((err: unknown) => err);
      expect(refused).toBeInstanceOf(WorkflowUpdateFailedError);
      expect((refused as WorkflowUpdateFailedError).cause?.message).toBe(
        'the two-step verification PIN must be exactly 6 digits',
      );
      await expect(t.onboarding.submitPin(id, { pin: '123456' })).rejects.toThrow(/name the number: one of/);
      await expect(
        t.onboarding.submitPin(id, { phoneNumberId: 'phone-number-id-nope', pin: '123456' }),
      ).rejects.toThrow(/is not one of this onboarding's numbers/);
      await t.onboarding.submitPin(id, { phoneNumberId: first.id, pin: '111111' });
      // With one number left the id may be left out.
      const s = await t.onboarding.submitPin(id, { pin: '222222' });
      expect(s.numbers.map((n) => n.pinProvided)).toEqual([true, true]);
      await waitForStep(t.onboarding, id, OnboardingStep.Verifying);
      expect(t.platform.numbers.map((n) => n.pin)).toEqual(['111111', '222222']);
      await t.onboarding.cancel(id, 'test over');
      expect((await t.onboarding.result(id)).step).toBe(OnboardingStep.Cancelled);
    } finally {
      await t.stop();
    }
  });

  it('reminds daily while waiting for PINs and ends at the 14-day deadline saying signup must be redone', async () => {
    const t = await setUp();
    try {
      const startedAt = await env.currentTimeMs();
      // Signup finished ten days ago: four days are left.
      const id = await start(t.onboarding, { signupCompletedAt: startedAt - 10 * DAY });
      const waiting = await waitForStep(t.onboarding, id, OnboardingStep.AwaitingInput);
      expect(waiting.deadline).toBe(new Date(startedAt + 4 * DAY).toISOString());
      expect(waiting.reminders.sent).toBe(0);
      await env.sleep(2 * DAY + HOUR);
      const later = await t.onboarding.status(id);
      expect(later.reminders.sent).toBe(2);
      expect(later.waitingFor).toMatch(/PIN/);
      const result = await t.onboarding.result(id);
      expect(result.step).toBe(OnboardingStep.Expired);
      expect(result.reason).toMatch(
        /not registered within 14 days of embedded signup .* signup must be redone/,
      );
      // The clock may run far ahead once a result is in; when the workflow closed is what counts.
      const closedAt = await closeTimeOf(id);
      expect(closedAt).toBeGreaterThanOrEqual(startedAt + 4 * DAY);
      expect(closedAt).toBeLessThan(startedAt + 4 * DAY + HOUR);
      expect(t.platform.calls.filter((c) => c === 'AssociateWhatsAppBusinessAccount')).toHaveLength(1);
    } finally {
      await t.stop();
    }
  });

  it('ends at once when signup finished more than 14 days ago, without touching the platform', async () => {
    const t = await setUp();
    try {
      const id = await start(t.onboarding, { signupCompletedAt: (await env.currentTimeMs()) - 15 * DAY });
      const result = await t.onboarding.result(id);
      expect(result.step).toBe(OnboardingStep.Expired);
      expect(result.reason).toMatch(/signup must be redone/);
      expect(t.platform.calls).toEqual([]);
    } finally {
      await t.stop();
    }
  });

  it('asks again after a PIN mismatch (133005) instead of retrying, then registers with the right PIN', async () => {
    const t = await setUp({ numbers: [{ suffix: 'd', pin: '654321' }] });
    try {
      const number = t.platform.numbers[0]!;
      const id = await start(t.onboarding);
      await waitForStep(t.onboarding, id, OnboardingStep.AwaitingInput);
      await t.onboarding.submitPin(id, { pin: '111111' });
      const asked = await waitForStep(
        t.onboarding,
        id,
        OnboardingStep.AwaitingInput,
        (s) => s.numbers[0]?.problem !== undefined,
      );
      expect(asked.numbers[0]).toMatchObject({
        pinProvided: false,
        problem: expect.stringMatching(/PIN mismatch \(133005\)/),
      });
      // Time passes; nothing is retried without a new PIN.
      await env.sleep(6 * HOUR);
      expect(t.platform.attempts.get(number.id)).toHaveLength(1);
      await t.onboarding.submitPin(id, { pin: '222222' });
      await waitForStep(
        t.onboarding,
        id,
        OnboardingStep.AwaitingInput,
        (s) => s.numbers[0]?.pinProvided === false && t.platform.attempts.get(number.id)?.length === 2,
      );
      await t.onboarding.submitPin(id, { pin: '654321' });
      await waitForStep(t.onboarding, id, OnboardingStep.Verifying);
      expect(t.platform.attempts.get(number.id)).toHaveLength(3);
      await reportOnboardingEvent(t.temporal, id, { field: 'messages' });
      expect((await t.onboarding.result(id)).step).toBe(OnboardingStep.Ready);
    } finally {
      await t.stop();
    }
  });

  it('waits out the 72-hour block (133016) and then registers', async () => {
    const t = await setUp();
    try {
      const number = t.platform.numbers[0]!;
      t.platform.exhaustAttempts(number.id, await env.currentTimeMs());
      const id = await start(t.onboarding);
      await waitForStep(t.onboarding, id, OnboardingStep.AwaitingInput);
      const refusedAt = await env.currentTimeMs();
      await t.onboarding.submitPin(id, { pin: '135790' });
      const blocked = await waitForStep(t.onboarding, id, OnboardingStep.Blocked);
      expect(blocked.lastError).toMatch(/133016/);
      expect(Date.parse(blocked.blockedUntil!)).toBeGreaterThanOrEqual(refusedAt + 72 * HOUR);
      // The worker dies during the block; a new one picks the workflow up from its history.
      await t.restartWorker();
      await env.sleep(72 * HOUR + MINUTE);
      await waitForStep(t.onboarding, id, OnboardingStep.Verifying);
      expect(t.platform.attempts.get(number.id)!.at(-1)).toBeGreaterThanOrEqual(refusedAt + 72 * HOUR);
      await reportOnboardingEvent(t.temporal, id, { field: 'messages' });
      expect((await t.onboarding.result(id)).step).toBe(OnboardingStep.Ready);
    } finally {
      await t.stop();
    }
  });

  it('fails by the deadline when the 72-hour block outlasts it', async () => {
    const t = await setUp();
    try {
      t.platform.exhaustAttempts(t.platform.numbers[0]!.id, await env.currentTimeMs());
      const now = await env.currentTimeMs();
      const id = await start(t.onboarding, { signupCompletedAt: now - 13 * DAY });
      await waitForStep(t.onboarding, id, OnboardingStep.AwaitingInput);
      await t.onboarding.submitPin(id, { pin: '135790' });
      await waitForStep(t.onboarding, id, OnboardingStep.Blocked);
      const result = await t.onboarding.result(id);
      expect(result.step).toBe(OnboardingStep.Expired);
      expect(await closeTimeOf(id)).toBeLessThan(now + DAY + HOUR);
    } finally {
      await t.stop();
    }
  });

  it('retries 5 minutes after 133015 (number deleted recently)', async () => {
    const t = await setUp();
    try {
      t.platform.failNext.push(133015);
      const id = await start(t.onboarding);
      await waitForStep(t.onboarding, id, OnboardingStep.AwaitingInput);
      const before = await env.currentTimeMs();
      await t.onboarding.submitPin(id, { pin: '975310' });
      const blocked = await waitForStep(t.onboarding, id, OnboardingStep.Blocked);
      expect(Date.parse(blocked.blockedUntil!) - before).toBeGreaterThanOrEqual(5 * MINUTE);
      expect(Date.parse(blocked.blockedUntil!) - before).toBeLessThan(6 * MINUTE);
      await env.sleep(5 * MINUTE + 1_000);
      await waitForStep(t.onboarding, id, OnboardingStep.Verifying);
      await reportOnboardingEvent(t.temporal, id, { field: 'messages' });
      expect((await t.onboarding.result(id)).step).toBe(OnboardingStep.Ready);
    } finally {
      await t.stop();
    }
  });

  it('verifies a number that needs it (133006) with the code the ingest service hands over', async () => {
    const t = await setUp();
    try {
      t.platform.failNext.push(133006);
      const id = await start(t.onboarding);
      await waitForStep(t.onboarding, id, OnboardingStep.AwaitingInput);
      await t.onboarding.submitPin(id, { pin: '192837' });
      const awaiting = await waitForStep(
        t.onboarding,
        id,
        OnboardingStep.AwaitingCode,
        (s) => s.waitingFor !== undefined,
      );
      expect(awaiting.waitingFor).toMatch(/verification code sent by SMS to .*onboard code/);
      expect(graph.calls).toContain('request_code');
      // A malformed code is dropped; a wrong one is refused by Meta and asked for again.
      await deliverVerificationCode(t.temporal, id, { code: 'nope' });
      await deliverVerificationCode(t.temporal, id, { code: '271828', destinationNumber: '+15550300001' });
      const refused = await waitForStep(t.onboarding, id, OnboardingStep.AwaitingCode, (s) =>
        /136025/.test(s.numbers[0]?.problem ?? ''),
      );
      expect(refused.numbers[0]?.problem).not.toContain('271828');
      await expect(t.onboarding.submitCode(id, { code: '12' })).rejects.toThrow(/must be 6 digits/);
      await t.onboarding.submitCode(id, { code: '314159' });
      await waitForStep(t.onboarding, id, OnboardingStep.Verifying);
      expect(t.platform.calls.filter((c) => c === 'AssociateWhatsAppBusinessAccount')).toHaveLength(3);
      // Awaited to the end: a workflow left with a task and no worker would stop the server skipping time.
      await t.onboarding.cancel(id);
      expect((await t.onboarding.result(id)).step).toBe(OnboardingStep.Cancelled);
    } finally {
      await t.stop();
    }
  });

  it('retries throttled AWS calls with backoff, and ends with the reason when AWS refuses', async () => {
    const t = await setUp();
    try {
      t.platform.throttle.set('CreateTopic', 3);
      const id = await start(t.onboarding);
      // The retries wait 2, 4 and 8 s of server time.
      await env.sleep(MINUTE);
      await waitForStep(t.onboarding, id, OnboardingStep.AwaitingInput);
      expect(t.platform.calls.filter((c) => c === 'CreateTopic')).toHaveLength(4);
      await t.onboarding.cancel(id);
      expect((await t.onboarding.result(id)).step).toBe(OnboardingStep.Cancelled);

      const missing = await start(t.onboarding, {
        eventDestination: {
          kind: EventDestinationKind.ExistingTopic,
          topicArn: 'arn:aws:sns:us-east-1:123456789012:missing',
        },
      });
      expect(await t.onboarding.result(missing)).toMatchObject({
        step: OnboardingStep.Failed,
        reason: expect.stringMatching(
          /reading topic arn:aws:sns:us-east-1:123456789012:missing: Topic does not exist/,
        ),
      });
      const elsewhere = await start(t.onboarding, {
        eventDestination: {
          kind: EventDestinationKind.ExistingTopic,
          topicArn: 'arn:aws:sns:eu-west-1:123456789012:events',
        },
      });
      expect((await t.onboarding.result(elsewhere)).reason).toMatch(
        /must be in the WABA's account 123456789012 and region us-east-1/,
      );
    } finally {
      await t.stop();
    }
  });

  it('resumes after a worker restart while waiting for the PIN, with its reminders and state intact', async () => {
    const t = await setUp();
    try {
      const id = await start(t.onboarding);
      await waitForStep(t.onboarding, id, OnboardingStep.AwaitingInput);
      await env.sleep(DAY + HOUR);
      const before = await t.onboarding.status(id);
      expect(before.reminders.sent).toBe(1);
      await t.restartWorker();
      const after = await t.onboarding.status(id);
      expect(after).toEqual(before);
      await t.onboarding.submitPin(id, { pin: '864209' });
      await waitForStep(t.onboarding, id, OnboardingStep.Verifying);
      await t.restartWorker();
      await reportOnboardingEvent(t.temporal, id, { field: 'messages' });
      const result = await t.onboarding.result(id);
      expect(result.step).toBe(OnboardingStep.Ready);
      // One signup callback, one topic, one registration: nothing was repeated by the restarts.
      expect(t.platform.calls.filter((c) => c === 'AssociateWhatsAppBusinessAccount')).toHaveLength(2);
      expect(t.platform.calls.filter((c) => c === 'CreateTopic')).toHaveLength(1);
    } finally {
      await t.stop();
    }
  });
});
