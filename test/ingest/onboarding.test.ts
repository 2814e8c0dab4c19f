/**
 * The ingest service and number onboarding: events of an onboarding's WABA or numbers, and verification
 * codes in inbound two-way SMS, reach the onboarding's workflow through the outbox; the service's real
 * Temporal client carries the payload codec, so the codes it signals are encrypted.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { Client, type ConnectionLike } from '@temporalio/client';
import type { Payload } from '@temporalio/common';
import { sql } from 'drizzle-orm';
import { register } from 'tsx/cjs/api';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { findOnboardingEvent } from '../../src/activities/onboarding/event-archive';
import { recordOnboarding } from '../../src/db/onboardings';
import { deliverVerificationCode } from '../../src/client/onboarding-client';
import { hasPayloadCodec } from '../../src/ingest/service';
import { ingestClientOptions } from '../../src/ingest/run-service';
import { AesGcmPayloadCodec, ENCRYPTED_ENCODING } from '../../src/shared/codec';
import { parseCodecKeys } from '../../src/shared/codec-keys';
import { loadConfig } from '../../src/shared/config';
import { OnboardingStep } from '../../src/workflows/definitions';
import {
  ACCOUNT_ID,
  PHONE_NUMBER_ID,
  WABA_ID,
  inboundChange,
  phoneQualityChange,
  platformMessage,
  statusChange,
} from './helpers/events';
import { startHarness, type Harness } from './helpers/harness';

// Temporal loads the failure converter of the product's data converter by path with Node's own require.
register();

const SMS_NUMBER = '+15550300001';
const SMS_TOPIC_ARN = `arn:aws:sns:eu-west-1:${ACCOUNT_ID}:sms-inbound`;
const DEADLINE = new Date(Date.now() + 14 * 86400_000).toISOString();

/** The SNS `Message` AWS End User Messaging SMS publishes for an inbound two-way SMS. */
function inboundSms(body: string, to = SMS_NUMBER): string {
  return JSON.stringify({
    originationNumber: '+14255550182',
    destinationNumber: to,
    messageKeyword: body.trim().split(/\s+/)[0]?.toUpperCase() ?? '',
    messageBody: body,
    inboundMessageId: randomUUID(),
    previousPublishedMessageId: '',
  });
}

interface OutboxRow {
  workflow_id: string;
  mode: string;
  signal_name: string;
  outcome: string | null;
  event_id: number;
}

let h: Harness;
beforeAll(async () => {
  // The fake client has no data converter: the test says it stands for one that encrypts.
  h = await startHarness({ payloadsEncrypted: true, smsTopicArns: [SMS_TOPIC_ARN] });
  // Mirrors as the onboarding workflow writes them (recordOnboarding is its activity).
  await recordOnboarding(h.db, {
    onboardingId: 'ob-verifying',
    step: OnboardingStep.Verifying,
    deadline: DEADLINE,
    wabaId: WABA_ID,
    numbers: [{ phoneNumberId: PHONE_NUMBER_ID, displayPhoneNumber: '+44 7700 900123', state: 'registered' }],
  });
  await recordOnboarding(h.db, {
    onboardingId: 'ob-by-number',
    step: OnboardingStep.Registering,
    deadline: DEADLINE,
    wabaId: 'waba-another',
    numbers: [{ phoneNumberId: PHONE_NUMBER_ID, displayPhoneNumber: '+44 7700 900123', state: 'registered' }],
  });
  await recordOnboarding(h.db, {
    onboardingId: 'ob-finished',
    step: OnboardingStep.Ready,
    deadline: DEADLINE,
    wabaId: WABA_ID,
    final: true,
  });
  await recordOnboarding(h.db, {
    onboardingId: 'ob-awaiting-code',
    step: OnboardingStep.AwaitingCode,
    deadline: DEADLINE,
    wabaId: 'waba-code',
    smsNumber: SMS_NUMBER,
  });
  // Shares the SMS number but waits for its PINs, not for a code.
  await recordOnboarding(h.db, {
    onboardingId: 'ob-awaiting-pin',
    step: OnboardingStep.AwaitingInput,
    deadline: DEADLINE,
    wabaId: 'waba-pin',
    smsNumber: SMS_NUMBER,
  });
  await recordOnboarding(h.db, {
    onboardingId: 'ob-finalizing',
    step: OnboardingStep.Finalizing,
    deadline: DEADLINE,
    wabaId: 'waba-finalizing',
    smsNumber: '+1 (555) 030-0002',
  });
});
afterAll(async () => {
  await h.close();
});
beforeEach(() => {
  h.temporal.calls.length = 0;
  h.temporal.down = false;
  h.temporal.missing.clear();
});

const outbox = (eventId: number) =>
  h.rows<OutboxRow>(
    sql`select workflow_id, mode, signal_name, outcome, event_id from ingest_signals
        where event_id = ${eventId} order by workflow_id`,
  );

describe('events of a WABA or number being onboarded', () => {
  it('signal onboardingEventSeen to each running onboarding of the WABA or number, through the outbox', async () => {
    const reply = await h.notify(platformMessage([phoneQualityChange('ONBOARDING', 'TIER_1K')]));
    expect(reply.status).toBe(200);
    expect(reply.body.outcome).toBe('applied');
    await h.service.signalsIdle();
    const eventId = reply.body.eventId!;

    const seen = {
      field: 'phone_number_quality_update',
      wabaId: WABA_ID,
      phoneNumberId: PHONE_NUMBER_ID,
      currentLimit: 'TIER_1K',
      eventId,
    };
    // By WABA and by number; never the finished one.
    expect(h.temporal.calls.sort((a, b) => a.workflowId.localeCompare(b.workflowId))).toEqual([
      { workflowId: 'onboarding:ob-by-number', signal: 'onboardingEventSeen', payload: seen },
      { workflowId: 'onboarding:ob-verifying', signal: 'onboardingEventSeen', payload: seen },
    ]);
    // The event was stored first; the signals went through the outbox in its transaction.
    expect(await outbox(eventId)).toEqual([
      {
        workflow_id: 'onboarding:ob-by-number',
        mode: 'onboarding-event',
        signal_name: 'onboardingEventSeen',
        outcome: 'delivered',
        event_id: eventId,
      },
      {
        workflow_id: 'onboarding:ob-verifying',
        mode: 'onboarding-event',
        signal_name: 'onboardingEventSeen',
        outcome: 'delivered',
        event_id: eventId,
      },
    ]);
  });

  it('any message of the account counts, even one that concerns no campaign', async () => {
    const reply = await h.notify(
      platformMessage([inboundChange({ from: '447700900777', id: `wamid.${randomUUID()}`, text: 'hi' })], {
        phone: false,
      }),
    );
    await h.service.signalsIdle();
    expect(h.temporal.calls).toEqual([
      {
        workflowId: 'onboarding:ob-verifying',
        signal: 'onboardingEventSeen',
        payload: { field: 'messages', wabaId: WABA_ID, eventId: reply.body.eventId },
      },
    ]);
  });

  it('a Temporal outage loses nothing: the event is acknowledged, the signal sent by a later sweep', async () => {
    h.temporal.down = true;
    const reply = await h.notify(
      platformMessage([statusChange({ id: `wamid.${randomUUID()}`, status: 'sent' })]),
    );
    expect(reply.status).toBe(200);
    await h.service.signalsIdle();
    expect(h.temporal.calls).toEqual([]);
    expect((await outbox(reply.body.eventId!)).map((r) => r.outcome)).toEqual([null, null]);

    h.temporal.down = false;
    await h.db.execute(sql`update ingest_signals set next_attempt_at = now() where done_at is null`);
    await h.service.sweepSignals();
    expect(h.temporal.calls.map((c) => [c.workflowId, c.signal]).sort()).toEqual([
      ['onboarding:ob-by-number', 'onboardingEventSeen'],
      ['onboarding:ob-verifying', 'onboardingEventSeen'],
    ]);
    expect((await outbox(reply.body.eventId!)).map((r) => r.outcome)).toEqual(['delivered', 'delivered']);
  });

  it('an onboarding whose workflow has ended counts as done', async () => {
    h.temporal.missing.add('onboarding:ob-by-number');
    const reply = await h.notify(platformMessage([phoneQualityChange('UPGRADE', 'TIER_10K')]));
    await h.service.signalsIdle();
    expect((await outbox(reply.body.eventId!)).map((r) => [r.workflow_id, r.outcome])).toEqual([
      ['onboarding:ob-by-number', 'gone'],
      ['onboarding:ob-verifying', 'delivered'],
    ]);
  });
});

describe('verification codes in inbound SMS', () => {
  it('are delivered to the onboarding waiting for a code on that SMS number', async () => {
    const reply = await h.notify(inboundSms('123-456 is your WhatsApp code. Do not share it.'));
    expect(reply.status).toBe(200);
    expect(reply.body).toMatchObject({ kind: 'inbound-sms', outcome: 'applied' });
    await h.service.signalsIdle();
    expect(h.temporal.calls).toEqual([
      {
        workflowId: 'onboarding:ob-awaiting-code',
        signal: 'verificationCode',
        payload: { code: '123456', destinationNumber: SMS_NUMBER, inboundMessageId: expect.any(String) },
      },
    ]);
    expect(await outbox(reply.body.eventId!)).toEqual([
      {
        workflow_id: 'onboarding:ob-awaiting-code',
        mode: 'verification-code',
        signal_name: 'verificationCode',
        outcome: 'delivered',
        event_id: reply.body.eventId,
      },
    ]);
  });

  it('go to every running onboarding of the number while none has said yet that it waits', async () => {
    // ob-finalizing has asked for the code but not yet mirrored that it waits for it.
    const reply = await h.notify(inboundSms('WhatsApp code 654 321', '+15550300002'));
    await h.service.signalsIdle();
    expect(reply.body.outcome).toBe('applied');
    expect(h.temporal.calls).toEqual([
      {
        workflowId: 'onboarding:ob-finalizing',
        signal: 'verificationCode',
        payload: { code: '654321', destinationNumber: '+15550300002', inboundMessageId: expect.any(String) },
      },
    ]);
  });

  it('arrive on the SMS-only topic too; SMS without a code or for no onboarding are archived only', async () => {
    const viaSmsTopic = await h.notify(inboundSms('Your code: 777888'), { topicArn: SMS_TOPIC_ARN });
    await h.service.signalsIdle();
    expect(viaSmsTopic.body.outcome).toBe('applied');
    expect(h.temporal.calls.map((c) => (c.payload as { code: string }).code)).toEqual(['777888']);
    h.temporal.calls.length = 0;

    const noCode = await h.notify(inboundSms('STOP'));
    const nobody = await h.notify(inboundSms('code 111222', '+15550309999'));
    await h.service.signalsIdle();
    expect(h.temporal.calls).toEqual([]);
    const rows = await h.rows<{ id: number; kind: string; outcome: string; error: string }>(
      sql`select id, kind, outcome, error from events_raw where id in (${noCode.body.eventId!}, ${nobody.body.eventId!}) order by id`,
    );
    expect(rows.map((r) => [r.kind, r.outcome, r.error])).toEqual([
      ['inbound-sms', 'ignored', 'inbound SMS without a verification code'],
      ['inbound-sms', 'unmatched', 'no running onboarding uses this two-way SMS number'],
    ]);
  });

  it('the SMS-only topic does not apply WhatsApp events, and other topics stay refused', async () => {
    const onSmsTopic = await h.notify(platformMessage([phoneQualityChange('FLAGGED', 'TIER_1K')]), {
      topicArn: SMS_TOPIC_ARN,
    });
    await h.service.signalsIdle();
    expect(onSmsTopic.status).toBe(200);
    expect(onSmsTopic.body.outcome).toBe('ignored');
    expect(h.temporal.calls).toEqual([]);
    // Nor does an onboarding's fallback take it as its WABA's first event: anyone publishing SMS there
    // could have sent it. The same event on the event topic does count.
    const since = { wabaId: WABA_ID, phoneNumberIds: [PHONE_NUMBER_ID], sinceMs: Date.now() - 60_000 };
    const found = await findOnboardingEvent(h.db, since);
    expect(found?.eventId).not.toBe(onSmsTopic.body.eventId);
    const onEventTopic = await h.notify(platformMessage([phoneQualityChange('FLAGGED', 'TIER_1K')]));
    expect((await findOnboardingEvent(h.db, since))?.eventId).toBe(onEventTopic.body.eventId);
    const stranger = await h.notify(inboundSms('123456'), {
      topicArn: `arn:aws:sns:eu-west-1:${ACCOUNT_ID}:someone-elses`,
    });
    expect(stranger.status).toBe(403);
  });

  it('are not signalled through a client without the payload codec', async () => {
    const plain = await startHarness();
    try {
      await recordOnboarding(plain.db, {
        onboardingId: 'ob-plain',
        step: OnboardingStep.AwaitingCode,
        deadline: DEADLINE,
        smsNumber: SMS_NUMBER,
      });
      const reply = await plain.notify(inboundSms('123-456'));
      await plain.service.signalsIdle();
      expect(reply.body.outcome).toBe('stored');
      expect(plain.temporal.calls).toEqual([]);
      expect(await plain.rows(sql`select 1 from ingest_signals`)).toEqual([]);
    } finally {
      await plain.close();
    }
  });
});

describe("the ingest service's Temporal client", () => {
  /** Stands in for a gRPC connection: records what the client would send. */
  function recordingConnection(sent: { signalName: string; payloads: Payload[] }[]): ConnectionLike {
    return {
      workflowService: {
        signalWorkflowExecution: (req: { signalName: string; input?: { payloads?: Payload[] } }) => {
          sent.push({ signalName: req.signalName, payloads: req.input?.payloads ?? [] });
          return Promise.resolve({});
        },
      },
      operatorService: {},
      plugins: [],
      close: () => Promise.resolve(),
      ensureConnected: () => Promise.resolve(),
      withDeadline: (_d: unknown, fn: () => Promise<unknown>) => fn(),
      withMetadata: (_m: unknown, fn: () => Promise<unknown>) => fn(),
      withAbortSignal: (_s: unknown, fn: () => Promise<unknown>) => fn(),
    } as unknown as ConnectionLike;
  }

  it('carries the payload codec of WA_CODEC_KEYS: a verification code it signals is encrypted', async () => {
    const keys = `k1:${randomBytes(32).toString('base64')}`;
    const config = loadConfig({ WA_CODEC_KEYS: keys });
    const warnings: string[] = [];
    const sent: { signalName: string; payloads: Payload[] }[] = [];
    const options = ingestClientOptions({
      config,
      connection: recordingConnection(sent),
      namespace: 'default',
      logger: { warn: (msg: string) => warnings.push(msg) },
    });
    expect(options.dataConverter?.payloadCodecs?.[0]).toBeInstanceOf(AesGcmPayloadCodec);
    expect(options.dataConverter?.failureConverterPath).toMatch(/failure-converter/);
    expect(warnings).toEqual([]);

    const client = new Client(options);
    expect(hasPayloadCodec(client)).toBe(true);
    await deliverVerificationCode(client, 'ob-1', { code: '314159', destinationNumber: SMS_NUMBER });
    expect(sent.map((s) => s.signalName)).toEqual(['verificationCode']);
    const payload = sent[0]!.payloads[0]!;
    expect(Buffer.from(payload.metadata!.encoding!).toString()).toBe(ENCRYPTED_ENCODING);
    expect(Buffer.from(payload.data!).toString('latin1')).not.toContain('314159');
    const [opened] = await new AesGcmPayloadCodec(parseCodecKeys(keys)!).decode([payload]);
    expect(JSON.parse(Buffer.from(opened!.data!).toString())).toEqual({
      code: '314159',
      destinationNumber: SMS_NUMBER,
    });
  });

  it('without keys still works, in clear, and says so once', () => {
    const warnings: string[] = [];
    const options = ingestClientOptions({
      config: loadConfig({}),
      connection: recordingConnection([]),
      namespace: 'default',
      logger: { warn: (msg: string) => warnings.push(msg) },
    });
    expect(options.dataConverter).toBeUndefined();
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/WA_CODEC_KEYS is not set/);
    expect(hasPayloadCodec(new Client(options))).toBe(false);
  });
});
