import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { PinpointSMSVoiceV2Client } from '@aws-sdk/client-pinpoint-sms-voice-v2';
import { SNSClient } from '@aws-sdk/client-sns';
import { SendWhatsAppMessageCommand, SocialMessagingClient } from '@aws-sdk/client-socialmessaging';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import type SnsPayloadValidator from 'sns-payload-validator';
import { expect } from 'vitest';
import {
  DEMO_PHONE_NUMBER_ID,
  type EventRecord,
  type RejectionRecord,
  type SendRecord,
  type StartEmulatorOptions,
  type ViolationRecord,
} from '../../src/emulator';
import { startCheckedEmulator, type CheckedEmulator } from '../helpers/emulator';
import { quietLogger } from '../helpers/logger';
import { until, type PollOptions } from '../helpers/poll';

/** Fixed start time for tests that control the clock. */
export const T0 = Date.UTC(2030, 0, 1, 12);

export interface TestEmulator {
  emu: CheckedEmulator;
  client: SocialMessagingClient;
  control: Control;
  close(): Promise<void>;
}

/** Starts an emulator with an SDK client that does not retry (so each call is one attempt). */
export async function startTestEmulator(opts: StartEmulatorOptions = {}): Promise<TestEmulator> {
  const emu = await startCheckedEmulator({ logger: quietLogger, ...opts });
  const client = sdkClient(emu.url);
  return {
    emu,
    client,
    control: new Control(emu.url),
    close: async () => {
      client.destroy();
      await emu.close();
    },
  };
}

/** The SNS and SMS-and-voice SDK clients onboarding uses, pointed at the emulator, one attempt per call. */
export function onboardingClients(url: string): { sns: SNSClient; sms: PinpointSMSVoiceV2Client } {
  const options = {
    endpoint: url,
    region: 'us-east-1',
    credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'not-a-secret' },
    maxAttempts: 1,
  };
  return { sns: new SNSClient(options), sms: new PinpointSMSVoiceV2Client(options) };
}

/** The real AWS SDK client pointed at the emulator through the standard endpoint setting only. */
export function sdkClient(url: string, extra: { requestTimeout?: number } = {}): SocialMessagingClient {
  return new SocialMessagingClient({
    endpoint: url,
    region: 'us-east-1',
    credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'not-a-secret' },
    maxAttempts: 1,
    ...(extra.requestTimeout
      ? {
          requestHandler: new NodeHttpHandler({
            requestTimeout: extra.requestTimeout,
            throwOnRequestTimeout: true,
          }),
        }
      : {}),
  });
}

/** A message status as published in `value.statuses[]`. */
export interface StatusEvent {
  id: string;
  status: string;
  timestamp: string;
  recipient_id: string;
  biz_opaque_callback_data?: string;
  conversation?: { id: string; expiration_timestamp?: string; origin: { type: string } };
  pricing?: { billable: boolean; pricing_model: string; category: string; type: string };
  errors?: { code: number; title: string; message: string; error_data: { details: string } }[];
}

/** The `value` of a published Meta change (the members the tests look at). */
export interface ChangeValue {
  metadata?: { display_phone_number: string; phone_number_id: string };
  statuses?: StatusEvent[];
  messages?: { from: string; id: string; type: string; text?: { body: string } }[];
  contacts?: { profile: { name: string }; wa_id: string }[];
  user_preferences?: { wa_id: string; value: string; category: string }[];
  event?: string;
  other_info?: { title: string; description: string };
  previous_quality_score?: string;
  new_quality_score?: string;
  message_template_name?: string;
  current_limit?: string;
  display_phone_number?: string;
}

/** The AWS envelope an SNS `Message` carries. */
export interface EventEnvelope {
  context: {
    MetaWabaIds: { wabaId: string; arn: string }[];
    MetaPhoneNumberIds: { metaPhoneNumberId: string; arn: string }[];
  };
  whatsAppWebhookEntry: string;
  aws_account_id: string;
  message_timestamp: string;
}

export interface PublishedChange {
  field: string;
  value: ChangeValue;
  envelope: EventEnvelope;
  entry: { id: string; changes: { field: string; value: ChangeValue }[] };
}

/** Parses an SNS `Message` string down to its one Meta change (the three parses a consumer does). */
export function parseEventMessage(message: string): PublishedChange {
  const envelope = JSON.parse(message) as EventEnvelope;
  const entry = JSON.parse(envelope.whatsAppWebhookEntry) as PublishedChange['entry'];
  const change = entry.changes[0] as { field: string; value: ChangeValue };
  return { field: change.field, value: change.value, envelope, entry };
}

export interface PhoneView {
  id: string;
  status: string;
  registered: boolean;
  throughputMps: number;
  messagingLimit: { scopeKey: string; tier: string; limit: number | null; used: number };
  rules: { pairRate: { intervalMs: number; burst: number } };
}

export interface StateView {
  seed: number;
  counts: Record<string, number>;
  wabas: { id: string; phoneNumbers: PhoneView[]; templates: { name: string; bodyParameters: number }[] }[];
}

export interface SubscriptionView {
  subscriptionArn: string;
  topicArn: string;
  status: string;
  delivered: number;
  failed: number;
}

export interface LogPage<T> {
  items: T[];
  next: number;
  total: number;
}

interface Logs {
  sends: SendRecord;
  rejections: RejectionRecord;
  violations: ViolationRecord;
  events: EventRecord;
}

/** Plain-HTTP access to /_emulator/. */
export class Control {
  constructor(readonly url: string) {}

  async get<T>(path: string): Promise<T> {
    const res = await fetch(`${this.url}${path}`);
    if (!res.ok) throw new Error(`GET ${path}: ${res.status} ${await res.text()}`);
    return (await res.json()) as T;
  }

  async post<T = Record<string, unknown>>(path: string, body: unknown = {}): Promise<T> {
    const res = await fetch(`${this.url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    if (!res.ok) throw new Error(`POST ${path}: ${res.status} ${await res.text()}`);
    return (await res.json()) as T;
  }

  state(): Promise<StateView> {
    return this.get<StateView>('/_emulator/state');
  }

  async subscriptions(): Promise<SubscriptionView[]> {
    return (await this.get<{ subscriptions: SubscriptionView[] }>('/_emulator/sns/subscriptions'))
      .subscriptions;
  }

  /** Every entry of a paged log. */
  async all<K extends keyof Logs>(log: K): Promise<Logs[K][]> {
    const out: Logs[K][] = [];
    for (let since = 0; ;) {
      const page = await this.get<LogPage<Logs[K]>>(`/_emulator/${log}?since=${since}`);
      out.push(...page.items);
      if (page.next >= page.total) return out;
      since = page.next;
    }
  }

  /** Published changes, optionally of one field. */
  async changes(field?: string): Promise<PublishedChange[]> {
    const events = await this.all('events');
    return events
      .filter((e) => field === undefined || e.field === field)
      .map((e) => parseEventMessage(e.message));
  }

  /** Status objects published so far. */
  async statuses(): Promise<StatusEvent[]> {
    return (await this.changes('messages')).flatMap((c) => c.value.statuses ?? []);
  }
}

/** A Cloud API template message. */
export function templateMessage(
  to: string,
  name: string,
  language: string,
  params: string[] = [],
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    messaging_product: 'whatsapp',
    recipient_type: 'individual',
    to,
    type: 'template',
    template: {
      name,
      language: { policy: 'deterministic', code: language },
      components: params.length
        ? [{ type: 'body', parameters: params.map((text) => ({ type: 'text', text })) }]
        : [],
    },
    ...extra,
  };
}

/** Sends a message object through the SDK from a number (the demo number by default). */
export function send(
  client: SocialMessagingClient,
  message: unknown,
  phoneNumberId = DEMO_PHONE_NUMBER_ID,
): Promise<{ messageId?: string | undefined }> {
  return client.send(
    new SendWhatsAppMessageCommand({
      originationPhoneNumberId: phoneNumberId,
      message: Buffer.from(typeof message === 'string' ? message : JSON.stringify(message)),
      metaApiVersion: 'v20.0',
    }),
  );
}

/** Expects a promise to reject with a typed AWS SDK exception, optionally carrying `(#code)`. */
export async function expectAwsError(promise: Promise<unknown>, name: string, code?: number): Promise<Error> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e as Error,
  );
  expect(err, `expected ${name}${code ? ` (#${code})` : ''}`).toBeInstanceOf(Error);
  expect(err?.name).toBe(name);
  if (code !== undefined) expect(err?.message).toContain(`(#${code})`);
  return err as Error;
}

/** How the emulator tests poll: the emulator's timers are short, so ask often and not for long. */
export const EMULATOR_POLL: PollOptions = { timeoutMs: 5_000, everyMs: 20 };

/**
 * {@link until} with {@link EMULATOR_POLL}, for test/contract, whose calls name nothing; new code
 * calls `until` and says what it waits for.
 */
export function waitFor<T>(check: () => Promise<T | undefined | false>, timeoutMs = 5_000): Promise<T> {
  return until('a condition', check, { ...EMULATOR_POLL, timeoutMs });
}

/** An SNS message as POSTed to a subscriber. */
export type SnsBody = SnsPayloadValidator.SnsPayload;

/** An SNS HTTP subscriber for tests: records what it receives, can confirm and can fail on purpose. */
export class TestSubscriber {
  readonly received: { headers: http.IncomingHttpHeaders; body: SnsBody; raw: string }[] = [];
  /** Answer these statuses to the next requests (then 200). */
  failWith: number[] = [];
  /** Visit SubscribeURL on a SubscriptionConfirmation. */
  autoConfirm = true;
  private server = http.createServer((req, res) => {
    let raw = '';
    req.on('data', (c: Buffer) => (raw += c.toString()));
    req.on('end', () => {
      const body = JSON.parse(raw) as SnsBody;
      this.received.push({ headers: req.headers, body, raw });
      const status = this.failWith.shift() ?? 200;
      res.writeHead(status).end();
      if (
        status === 200 &&
        this.autoConfirm &&
        body.Type === 'SubscriptionConfirmation' &&
        body.SubscribeURL
      ) {
        void fetch(body.SubscribeURL);
      }
    });
  });

  async start(): Promise<string> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/sns`;
  }

  notifications(): SnsBody[] {
    return this.received.filter((r) => r.body.Type === 'Notification').map((r) => r.body);
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}
