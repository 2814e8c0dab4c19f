/**
 * End to end: a real Temporal dev server, the product's worker, the embedded database, the platform
 * emulator spoken to over HTTP by the real AWS SDK client, and a campaign started through the client API
 * from a CSV file with bad rows and duplicates. The emulator's send log is the judge.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { CampaignClient } from '../../src/client/campaign-client';
import type { DatabaseHandle } from '../../src/db/client';
import { openTestDatabase } from '../helpers/databases';
import { updateNumber } from '../../src/db/numbers';
import { auditSendLog, fetchSendLog } from '../../tools/send-log-audit';
import { DEMO_PHONE_NUMBER_ID, type EmulatorHandle } from '../../src/emulator';
import { demoWabasWith, extraNumber } from '../helpers/demo-world';
import { startCheckedEmulator } from '../helpers/emulator';
import { until } from '../helpers/poll';
import { createSocialMessagingClient } from '../../src/platform/aws-client';
import { logger } from '../../src/shared/logger';
import { createDevServerEnv } from '../helpers/temporal';
import { runProductWorker } from '../helpers/product-worker';

const MPS = 200;
const TIER = 1_000;
const TIER_WINDOW_MS = 4_000;
// Each test sends on a number of its own, so none starts inside another's tier window.
const SHARED_NUMBER = extraNumber(1);
const BRAKE_NUMBER = extraNumber(2);
const NUMBER_IDS = [DEMO_PHONE_NUMBER_ID, SHARED_NUMBER.id, BRAKE_NUMBER.id];

let env: TestWorkflowEnvironment;
let emulator: EmulatorHandle;
let database: DatabaseHandle;
let stopWorker: () => Promise<void>;
let campaigns: CampaignClient;
const taskQueue = `e2e-${randomUUID()}`;
const dir = mkdtempSync(path.join(tmpdir(), 'wa-e2e-'));

beforeAll(async () => {
  emulator = await startCheckedEmulator({
    config: {
      rules: { throughputMps: MPS, messagingLimit: { tier: 'TIER_1K', windowMs: TIER_WINDOW_MS } },
      wabas: demoWabasWith([SHARED_NUMBER, BRAKE_NUMBER]),
    },
    logger: logger.child({ level: 'warn' }),
  });
  env = await createDevServerEnv();
  // A real PostgreSQL server, as in production: the embedded database runs in this process and its
  // queries would stall the event loop the pacer dispatches from.
  database = await openTestDatabase('postgres');
  for (const phoneNumberId of NUMBER_IDS) {
    await updateNumber(database.db, phoneNumberId, {
      mps: MPS,
      tierLimit: TIER,
      tierWindowSeconds: TIER_WINDOW_MS / 1000,
    });
  }
  // Only the SDK's standard endpoint setting points the real client at the emulator.
  const client = createClientFor(emulator.url);
  stopWorker = await runProductWorker(env, {
    taskQueue,
    deps: { db: database.db, socialMessaging: client, logger: logger.child({ level: 'warn' }) },
  });
  campaigns = new CampaignClient({
    db: database.db,
    temporal: env.client,
    socialMessaging: client,
    taskQueue,
  });
});

afterAll(async () => {
  await stopWorker?.();
  await database?.close();
  await env?.teardown();
  await emulator?.close();
});

/** The real SDK client, pointed at the emulator only through the standard endpoint variable. */
function createClientFor(url: string) {
  process.env.AWS_ENDPOINT_URL_SOCIALMESSAGING = url;
  process.env.AWS_ACCESS_KEY_ID ??= 'test';
  process.env.AWS_SECRET_ACCESS_KEY ??= 'test';
  return createSocialMessagingClient();
}

describe('campaign end to end', () => {
  it(
    'sends two thousand recipients exactly once, within rate and tier, with exact counts',
    { timeout: 180_000 },
    async () => {
      const good = 2_000;
      const lines = ['phone,discount'];
      for (let i = 0; i < good; i++) lines.push(`+4917${String(610000000 + i)},${i % 50}%`);
      lines.push('+4917610000005,5%', '+4917610000006,6%', 'garbage,1%', '+4917699999999,', '+1 555,1%');
      const file = path.join(dir, 'list.csv');
      writeFileSync(file, lines.join('\n'));

      const started = await campaigns.start({
        templateName: 'spring_sale',
        templateLanguage: 'en_US',
        phoneNumberId: DEMO_PHONE_NUMBER_ID,
        recipientsFile: file,
      });
      expect(started).toMatchObject({ accepted: good, rejected: 5 });
      expect(started.rejections.map((r) => r.reason)).toEqual([
        'duplicate of an earlier row',
        'duplicate of an earlier row',
        expect.stringMatching(/international prefix/),
        'parameter "discount" is empty',
        expect.stringMatching(/not a valid number/),
      ]);

      const final = await campaigns.waitForEnd(started.campaignId);
      expect(final.state).toBe('completed');
      expect(final.counts).toMatchObject({ total: good, sent: good, failed: 0, pending: 0, ambiguous: 0 });

      const sends = await fetchSendLog(emulator.url, DEMO_PHONE_NUMBER_ID);
      const audit = auditSendLog(sends, { mps: MPS, tier: TIER, tierWindowMs: TIER_WINDOW_MS });
      expect(audit.problems).toEqual([]);
      expect(audit.sends).toBe(good);
      expect(new Set(sends.map((s) => s.to)).size).toBe(good);
      const rejections = (await (await fetch(`${emulator.url}/_emulator/rejections`)).json()) as {
        items: unknown[];
      };
      expect(rejections.items).toEqual([]);
    },
  );

  it(
    'shares one number between two campaigns started together: one rate and one tier budget',
    { timeout: 180_000 },
    async () => {
      const write = (name: string, from: number, n: number) => {
        const file = path.join(dir, `${name}.csv`);
        const rows = Array.from({ length: n }, (_, i) => `+4917${String(620000000 + from + i)},5%`);
        writeFileSync(file, ['phone,discount', ...rows].join('\n'));
        return file;
      };
      const before = (await fetchSendLog(emulator.url, SHARED_NUMBER.id)).length;
      const input = {
        templateName: 'spring_sale',
        templateLanguage: 'en_US',
        phoneNumberId: SHARED_NUMBER.id,
      };
      const [a, b] = await Promise.all([
        campaigns.start({ ...input, recipientsFile: write('shared-a', 0, 600) }),
        campaigns.start({ ...input, recipientsFile: write('shared-b', 10_000, 600) }),
      ]);
      const [endA, endB] = await Promise.all([
        campaigns.waitForEnd(a.campaignId),
        campaigns.waitForEnd(b.campaignId),
      ]);
      expect([endA.counts.sent, endB.counts.sent]).toEqual([600, 600]);
      const sends = (await fetchSendLog(emulator.url, SHARED_NUMBER.id)).slice(before);
      expect(sends).toHaveLength(1_200);
      // Had each campaign paced or budgeted the number as its own, the pair would have doubled the rate
      // and overrun the tier; the platform's-eye view shows neither.
      const audit = auditSendLog(sends, { mps: MPS, tier: TIER, tierWindowMs: TIER_WINDOW_MS });
      expect(audit.problems).toEqual([]);
      const rejections = (await (await fetch(`${emulator.url}/_emulator/rejections`)).json()) as {
        items: unknown[];
      };
      expect(rejections.items).toEqual([]);
      // Both made progress side by side rather than one after the other.
      const firstOf = (id: string) =>
        Math.min(...sends.filter((s) => s.bizOpaqueCallbackData?.includes(id)).map((s) => s.acceptedAtMs));
      const lastOf = (id: string) =>
        Math.max(...sends.filter((s) => s.bizOpaqueCallbackData?.includes(id)).map((s) => s.acceptedAtMs));
      expect(firstOf(b.campaignId)).toBeLessThan(lastOf(a.campaignId));
      expect(firstOf(a.campaignId)).toBeLessThan(lastOf(b.campaignId));
    },
  );

  it(
    'brakes on its own within about a second when the template turns RED and no event reaches it',
    { timeout: 120_000 },
    async () => {
      // This file runs no ingest service: only the sending batch's own template look-up can brake.
      const file = path.join(dir, 'red.csv');
      const rows = Array.from({ length: 1_500 }, (_, i) => `+4917${String(640000000 + i)}`);
      writeFileSync(file, ['phone', ...rows].join('\n'));
      const started = await campaigns.start({
        templateName: 'hello_world',
        templateLanguage: 'en_US',
        phoneNumberId: BRAKE_NUMBER.id,
        recipientsFile: file,
      });
      const control = async (body: unknown) => {
        const res = await fetch(`${emulator.url}/_emulator/templates/quality`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(body),
        });
        expect(res.ok).toBe(true);
      };
      await until(
        'more than 200 recipients under way',
        async () => {
          const s = await campaigns.status(started.campaignId);
          return s.counts.total - s.counts.pending > 200;
        },
        { everyMs: 50 },
      );
      // RED, but still sendable (FLAGGED): nothing refuses the sends, so the engine must notice by itself.
      const redAt = Date.now();
      await control({ name: 'hello_world', language: 'en_US', quality: 'RED', status: 'FLAGGED' });
      try {
        const paused = await until(
          'the campaign to pause itself',
          async () => {
            const s = await campaigns.status(started.campaignId);
            return s.state === 'paused' ? s : undefined;
          },
          { timeoutMs: 30_000, everyMs: 50 },
        );
        expect(Date.now() - redAt).toBeLessThan(30_000);
        expect(paused.reason).toMatch(/RED/);
        const after = (await fetchSendLog(emulator.url, BRAKE_NUMBER.id)).filter(
          (s) => s.bizOpaqueCallbackData?.includes(started.campaignId) && s.acceptedAtMs > redAt,
        ).length;
        // One look-up a second, plus what was already claimed: about a second's worth at most.
        expect(after).toBeLessThanOrEqual(MPS * 1.5);
        expect(paused.counts.pending).toBeGreaterThan(0);
        const cancelled = await campaigns.cancel(started.campaignId, 'template quality');
        expect(cancelled.state).toBe('cancelled');
        // A finished campaign is answered with its state, not with Temporal's "already completed".
        for (const [action, call] of [
          ['pause', () => campaigns.pause(started.campaignId)],
          ['resume', () => campaigns.resume(started.campaignId)],
          ['cancel', () => campaigns.cancel(started.campaignId)],
        ] as const) {
          await expect(call()).rejects.toThrow(
            new RegExp(
              `campaign ${started.campaignId} has already cancelled .*: there is nothing to ${action}$`,
            ),
          );
        }
      } finally {
        await control({ name: 'hello_world', language: 'en_US', quality: 'GREEN', status: 'APPROVED' });
      }
    },
  );
});
