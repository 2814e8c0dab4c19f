/**
 * The ingest service fed by the local emulator, as in demos: the emulator's own signed SNS messages
 * (subscription handshake, statuses, an inbound STOP, a template turning RED) reach the database and
 * the workflows. Campaign workflows themselves are stood in for by the fake Temporal client.
 */
import { SendWhatsAppMessageCommand, SocialMessagingClient } from '@aws-sdk/client-socialmessaging';
import type { Client } from '@temporalio/client';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DatabaseHandle } from '../../src/db/client';
import { queryRows } from '../../src/db/query';
import { DEMO_PHONE_NUMBER_ID, DEMO_TOPIC_ARN, type EmulatorHandle } from '../../src/emulator';
import { startCheckedEmulator } from '../helpers/emulator';
import { quietLogger } from '../helpers/logger';
import { until } from '../helpers/poll';
import { startIngestService, type IngestService } from '../../src/ingest/service';
import { bizOpaqueCallbackData } from '../../src/shared/ids';
import {
  FakeTemporal,
  openIngestTestDatabase,
  recipient,
  seedCampaign,
  setRecipient,
} from './helpers/harness';

let database: DatabaseHandle;
let ingest: IngestService;
let emulator: EmulatorHandle;
let client: SocialMessagingClient;
const temporal = new FakeTemporal();

/** The emulator's delivery timers are short: ask often, for ten seconds at most. */
const POLL = { timeoutMs: 10_000, everyMs: 50 };

beforeAll(async () => {
  database = await openIngestTestDatabase();
  ingest = await startIngestService({
    db: database.db,
    temporal: temporal as unknown as Client,
    host: '127.0.0.1',
    port: 0,
    allowedTopicArns: [DEMO_TOPIC_ARN],
    // The emulator's port is not known before it starts.
    trustedCertUrls: [/^http:\/\/127\.0\.0\.1:\d+\/_emulator\/sns\/cert\.pem$/],
    logger: quietLogger,
  });
  emulator = await startCheckedEmulator({
    logger: quietLogger,
    config: {
      sns: { subscribers: [{ endpoint: `http://127.0.0.1:${ingest.port}/sns` }] },
      rules: {
        delivery: {
          sentDelayMs: 0,
          deliveredDelayMs: [5, 10],
          readDelayMs: [5, 10],
          deliveredRate: 1,
          readRate: 1,
        },
      },
    },
  });
  client = new SocialMessagingClient({
    endpoint: emulator.url,
    region: 'us-east-1',
    credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'not-a-secret' },
    maxAttempts: 1,
  });
  await seedCampaign(database.db, {
    id: 'emu',
    phones: ['+447700900010'],
    phoneNumberId: DEMO_PHONE_NUMBER_ID,
    template: 'spring_sale',
    language: 'en_US',
  });
  await until(
    "the emulator's subscription to be confirmed",
    async () =>
      (await queryRows(database.db, sql`select 1 from events_raw where outcome = 'confirmed'`)).length > 0,
    POLL,
  );
});

afterAll(async () => {
  client?.destroy();
  await emulator?.close();
  await ingest?.close();
  await database?.close();
});

describe('ingest fed by the emulator', () => {
  it('confirms the subscription and settles a crash-ambiguous recipient from its statuses', async () => {
    // The send's outcome was never recorded (the worker died): only biz_opaque_callback_data ties it back.
    await setRecipient(database.db, 'emu', 0, { state: 'sending' });
    const message = {
      messaging_product: 'whatsapp',
      recipient_type: 'individual',
      to: '+447700900010',
      type: 'template',
      biz_opaque_callback_data: bizOpaqueCallbackData('emu', 0),
      template: {
        name: 'spring_sale',
        language: { policy: 'deterministic', code: 'en_US' },
        components: [{ type: 'body', parameters: [{ type: 'text', text: '20%' }] }],
      },
    };
    const out = await client.send(
      new SendWhatsAppMessageCommand({
        originationPhoneNumberId: DEMO_PHONE_NUMBER_ID,
        message: Buffer.from(JSON.stringify(message)),
        metaApiVersion: 'v20.0',
      }),
    );
    const row = await until(
      'the recipient to be read',
      async () => {
        const r = await recipient(database.db, 'emu', 0);
        return r.state === 'read' ? r : undefined;
      },
      POLL,
    );
    expect(row.message_id).toBe(out.messageId);
    expect(row.delivered_at).not.toBeNull();
  });

  it('an inbound STOP opens the service window and suppresses the user', async () => {
    const res = await fetch(`${emulator.url}/_emulator/inbound`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ phoneNumberId: DEMO_PHONE_NUMBER_ID, from: '+447700900011', text: 'STOP' }),
    });
    expect(res.status).toBe(200);
    await until(
      'the STOP to be suppressed',
      async () =>
        (await queryRows(database.db, sql`select 1 from suppressions where phone = '+447700900011'`)).length >
        0,
      POLL,
    );
    const windows = await queryRows<{ phone_number_id: string }>(
      database.db,
      sql`select phone_number_id from service_windows where phone = '+447700900011'`,
    );
    expect(windows.map((w) => w.phone_number_id)).toEqual([DEMO_PHONE_NUMBER_ID]);
  });

  it('a template turning RED signals the campaign that sends it', async () => {
    const res = await fetch(`${emulator.url}/_emulator/templates/quality`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'spring_sale', language: 'en_US', quality: 'RED' }),
    });
    expect(res.status).toBe(200);
    const call = await until(
      'the RED signal to the campaign',
      async () => {
        await ingest.signalsIdle();
        return temporal.calls.find(
          (c) => c.workflowId === 'campaign:emu' && (c.payload as { event: string }).event === 'RED',
        );
      },
      POLL,
    );
    expect(call.signal).toBe('templateStatus');
  });
});
