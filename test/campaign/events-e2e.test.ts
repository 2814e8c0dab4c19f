/**
 * Campaigns and platform events together, end to end: a real dev server and worker, the emulator
 * publishing signed SNS events, and the ingest service turning them into recipient states and workflow
 * signals. Statuses reach the report; an inbound STOP keeps the user out of the next marketing campaign;
 * a template turning RED brakes a running campaign within about a second.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { CampaignClient, type CampaignStatus } from '../../src/client/campaign-client';
import { openDatabase, type DatabaseHandle } from '../../src/db/client';
import { updateNumber } from '../../src/db/numbers';
import { fetchSendLog } from '../../tools/send-log-audit';
import { DEMO_PHONE_NUMBER_ID, DEMO_TOPIC_ARN, type EmulatorHandle } from '../../src/emulator';
import { startCheckedEmulator } from '../helpers/emulator';
import type { IngestService } from '../../src/ingest';
import { startIngestForEmulator } from '../../tools/ingest-for-emulator';
import { createSocialMessagingClient } from '../../src/platform/aws-client';
import { logger } from '../../src/shared/logger';
import { until as pollUntil } from '../helpers/poll';
import { createDevServerEnv } from '../helpers/temporal';
import { runProductWorker } from '../helpers/product-worker';

const MPS = 80;
const quiet = logger.child({ level: 'error' });

let env: TestWorkflowEnvironment;
let emulator: EmulatorHandle;
let database: DatabaseHandle;
let ingest: IngestService;
let stopWorker: () => Promise<void>;
let campaigns: CampaignClient;
const taskQueue = `events-e2e-${randomUUID()}`;
const dir = mkdtempSync(path.join(tmpdir(), 'wa-events-'));

beforeAll(async () => {
  emulator = await startCheckedEmulator({
    config: {
      rules: {
        throughputMps: MPS,
        messagingLimit: { tier: 'TIER_UNLIMITED' },
        delivery: { sentDelayMs: [5, 20], deliveredDelayMs: [20, 100], readDelayMs: [50, 200], readRate: 1 },
      },
    },
    logger: quiet,
  });
  process.env.AWS_ENDPOINT_URL_SOCIALMESSAGING = emulator.url;
  process.env.AWS_ACCESS_KEY_ID ??= 'test';
  process.env.AWS_SECRET_ACCESS_KEY ??= 'test';
  env = await createDevServerEnv();
  database = await openDatabase({ dataDir: 'memory://' });
  await updateNumber(database.db, DEMO_PHONE_NUMBER_ID, { mps: MPS, tierLimit: null });
  const client = createSocialMessagingClient();
  stopWorker = await runProductWorker(env, {
    taskQueue,
    deps: { db: database.db, socialMessaging: client, logger: quiet },
  });
  campaigns = new CampaignClient({
    db: database.db,
    temporal: env.client,
    socialMessaging: client,
    taskQueue,
  });
  ingest = await startIngestForEmulator({
    db: database.db,
    temporal: env.client,
    taskQueue,
    emulatorUrl: emulator.url,
    topicArn: DEMO_TOPIC_ARN,
    logger: quiet,
  });
});

afterAll(async () => {
  await ingest?.close();
  await stopWorker?.();
  await database?.close();
  await env?.teardown();
  await emulator?.close();
});

async function control(route: string, body: unknown): Promise<void> {
  const res = await fetch(`${emulator.url}${route}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`${route}: HTTP ${res.status} ${await res.text()}`);
}

function recipientsFile(name: string, phones: string[]): string {
  const file = path.join(dir, `${name}.csv`);
  writeFileSync(file, ['phone,discount', ...phones.map((p) => `${p},10%`)].join('\n'));
  return file;
}

const phones = (from: number, n: number) =>
  Array.from({ length: n }, (_, i) => `+4917${String(700000000 + from + i)}`);

const until = <T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> =>
  pollUntil(what, probe, { timeoutMs, everyMs: 200 });

describe('campaigns with platform events', () => {
  it('carries delivery and read receipts into the status and the report', async () => {
    const started = await campaigns.start({
      templateName: 'spring_sale',
      templateLanguage: 'en_US',
      phoneNumberId: DEMO_PHONE_NUMBER_ID,
      recipientsFile: recipientsFile('receipts', phones(0, 20)),
    });
    await campaigns.waitForEnd(started.campaignId);
    const status = await until('every recipient read', async () => {
      const s = await campaigns.status(started.campaignId);
      return s.counts.read === 20 ? s : undefined;
    });
    expect(status.counts).toMatchObject({ total: 20, read: 20, sent: 0, delivered: 0, failed: 0 });
    const out = new PassThrough();
    let csv = '';
    out.on('data', (d: Buffer) => (csv += d.toString()));
    expect(await campaigns.report(started.campaignId, out)).toBe(20);
    const [header, first] = csv.trim().split('\n');
    expect(header).toBe(
      'line,phone,state,message_id,error_code,error_message,attempts,sent_at,delivered_at,read_at,failed_at',
    );
    expect(first).toMatch(/^2,\+4917700000000,read,[^,]+,,,1,\d{4}-[^,]+,\d{4}-[^,]+,\d{4}-[^,]+,$/);
  });

  it('keeps a user who wrote STOP out of the next marketing campaign', async () => {
    const [stopper, ...others] = phones(100, 3);
    await control('/_emulator/inbound', {
      phoneNumberId: DEMO_PHONE_NUMBER_ID,
      from: stopper!.slice(1),
      text: 'STOP',
    });
    // The ingest service applies the opt-out; the import then refuses the user with the reason.
    const started = await until('the opt-out to be applied', async () => {
      const plan = await campaigns.plan({
        templateName: 'spring_sale',
        templateLanguage: 'en_US',
        phoneNumberId: DEMO_PHONE_NUMBER_ID,
        recipientsFile: recipientsFile('after-stop', [stopper!, ...others]),
      });
      return plan.rejectedCount === 1 ? plan : undefined;
    });
    expect(started.rejected).toEqual([
      expect.objectContaining({ line: 2, reason: 'opted out of marketing' }),
    ]);
    const result = await campaigns.start({
      templateName: 'spring_sale',
      templateLanguage: 'en_US',
      phoneNumberId: DEMO_PHONE_NUMBER_ID,
      recipientsFile: recipientsFile('after-stop', [stopper!, ...others]),
    });
    expect(result).toMatchObject({ accepted: 2, rejected: 1 });
    await campaigns.waitForEnd(result.campaignId);
    const sentTo = (await fetchSendLog(emulator.url)).filter((s) =>
      s.bizOpaqueCallbackData?.includes(result.campaignId),
    );
    expect(sentTo.map((s) => `+${s.to}`).sort()).toEqual([...others].sort());
  });

  it('brakes a running campaign within about a second when its template turns RED', async () => {
    const started = await campaigns.start({
      templateName: 'spring_sale',
      templateLanguage: 'en_US',
      phoneNumberId: DEMO_PHONE_NUMBER_ID,
      recipientsFile: recipientsFile('red', phones(1000, 1500)),
    });
    await until('sending to be under way', async () => {
      const s = await campaigns.status(started.campaignId);
      return s.counts.total - s.counts.pending > 100 ? s : undefined;
    });
    const redAt = Date.now();
    await control('/_emulator/templates/quality', { name: 'spring_sale', language: 'en_US', quality: 'RED' });
    const paused: CampaignStatus = await until('the campaign to pause', async () => {
      const s = await campaigns.status(started.campaignId);
      return s.state === 'paused' ? s : undefined;
    });
    expect(paused.reason).toMatch(/RED|paused/);
    const acceptedAfter = (await fetchSendLog(emulator.url)).filter(
      (s) => s.bizOpaqueCallbackData?.includes(started.campaignId) && s.acceptedAtMs > redAt,
    ).length;
    // Brake distance: what was already claimed for the next moments, no more than about a second's worth.
    expect(acceptedAfter).toBeLessThanOrEqual(MPS * 1.5);
    expect(paused.counts.pending).toBeGreaterThan(0);
    const cancelled = await campaigns.cancel(started.campaignId, 'template quality');
    expect(cancelled.state).toBe('cancelled');
    expect(cancelled.counts.pending).toBe(0);
    // Sends already in flight when the pause was reported still finish; everything else is cancelled.
    const c = cancelled.counts;
    expect(c.cancelled).toBeGreaterThan(paused.counts.pending - MPS);
    expect(c.sent + c.delivered + c.read + c.failed + c.cancelled).toBe(1500);
  });
});
