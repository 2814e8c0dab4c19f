/**
 * The send activity on its own, in Temporal's MockActivityEnvironment: the embedded database and the
 * in-memory platform, no workflow. What a batch reports back to its workflow, and what it leaves in the
 * recipient rows, for the errors that decide a campaign's course.
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, it as base } from 'vitest';
import { MockActivityEnvironment } from '@temporalio/testing';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { sql } from 'drizzle-orm';
import { openDatabase, type Database } from '../../src/db/client';
import { campaigns, recipients } from '../../src/db/schema';
import { updateNumber } from '../../src/db/numbers';
import { queryRows } from '../../src/db/query';
import { sendBatch } from '../../src/activities/send-batch';
import type { ActivityDeps } from '../../src/activities/deps';
import { BatchOutcome } from '../../src/workflows/definitions';
import { logger } from '../../src/shared/logger';
import { FakePlatform } from '../helpers/fake-platform';

interface Fixture {
  db: Database;
  platform: FakePlatform;
  deps: ActivityDeps;
}

/**
 * Each test gets its own platform, and its own campaign and number in an embedded database that the
 * file's tests share (opening one takes seconds).
 */
const it = base.extend<Fixture>({
  db: [
    // eslint-disable-next-line no-empty-pattern
    async ({}, use) => {
      const handle = await openDatabase({ dataDir: 'memory://' });
      await use(handle.db);
      await handle.close();
    },
    { scope: 'file' },
  ],
  // eslint-disable-next-line no-empty-pattern
  platform: async ({}, use) => {
    const platform = new FakePlatform(Date.now);
    platform.setTemplate('promo', 'en_US', { status: 'APPROVED', quality: 'GREEN', params: 1 });
    await use(platform);
  },
  deps: async ({ db, platform }, use) => {
    await use({
      db,
      socialMessaging: platform.client(),
      logger: logger.child({ level: 'warn' }),
      templateWatchMs: 0,
    });
  },
});

/** Stores a running campaign of `count` recipients on a fast number; returns its id and their phones. */
async function seedCampaign(db: Database, count: number) {
  const campaignId = `c-${randomUUID().slice(0, 8)}`;
  const phoneNumberId = `phone-number-id-${randomUUID().slice(0, 8)}`;
  await updateNumber(db, phoneNumberId, { mps: 1000, tierLimit: null, tierWindowSeconds: 86_400 });
  await db.insert(campaigns).values({
    id: campaignId,
    templateName: 'promo',
    templateLanguage: 'en_US',
    category: 'MARKETING',
    phoneNumberId,
    state: 'running',
    total: count,
  });
  const phones = Array.from({ length: count }, (_, i) => `+49151${String(1_000_000 + i)}`);
  await db
    .insert(recipients)
    .values(phones.map((phone, i) => ({ campaignId, seq: i + 1, phone, params: ['x'] })));
  return { campaignId, phones };
}

async function statesOf(db: Database, campaignId: string): Promise<Record<string, number>> {
  const rows = await queryRows<{ state: string; n: string }>(
    db,
    sql`select state, count(*) as n from recipients where campaign_id = ${campaignId} group by state`,
  );
  return Object.fromEntries(rows.map((r) => [r.state, Number(r.n)]));
}

describe('sendBatch', () => {
  it('sends every due recipient and reports the campaign drained', async ({ db, deps, platform }) => {
    const { campaignId } = await seedCampaign(db, 20);
    const env = new MockActivityEnvironment();
    const beats: unknown[] = [];
    env.on('heartbeat', (d: unknown) => beats.push(d));

    const summary = await env.run(sendBatch, deps, { campaignId, maxDurationMs: 30_000 });

    expect(summary).toMatchObject({ outcome: BatchOutcome.Drained, sent: 20, failed: 0, remaining: 0 });
    expect(platform.sends).toHaveLength(20);
    expect(await statesOf(db, campaignId)).toEqual({ sent: 20 });
    // Progress is heartbeated as chunks are recorded; the last beat has the final count.
    expect(beats.at(-1)).toEqual({ sent: 20, failed: 0 });
  });

  it('refuses a campaign that is not in the database without asking to be retried', async ({ deps }) => {
    const env = new MockActivityEnvironment();
    const failure = await env
      .run(sendBatch, deps, { campaignId: 'c-nowhere', maxDurationMs: 1_000 })
      .catch((err: unknown) => err);
    expect(failure).toBeInstanceOf(ApplicationFailure);
    expect(failure).toMatchObject({ type: 'CampaignNotFound', nonRetryable: true });
  });

  // Meta's codes about one message's parameters or text concern that message only.
  for (const code of [132000, 132005, 132012, 132018]) {
    it(`fails only the recipient refused with ${code} and carries on`, async ({ db, deps, platform }) => {
      const { campaignId, phones } = await seedCampaign(db, 10);
      platform.failures.set(phones[3]!, [code]);
      const env = new MockActivityEnvironment();

      const summary = await env.run(sendBatch, deps, { campaignId, maxDurationMs: 30_000 });

      expect(summary).toMatchObject({ outcome: BatchOutcome.Drained, sent: 9, failed: 1 });
      expect(await statesOf(db, campaignId)).toEqual({ sent: 9, failed: 1 });
      const [row] = await queryRows<{ state: string; error_code: number }>(
        db,
        sql`select state, error_code from recipients where campaign_id = ${campaignId} and seq = 4`,
      );
      expect(row).toEqual({ state: 'failed', error_code: code });
    });
  }

  // Codes about the template itself doom every message: the batch brakes and the workflow decides.
  for (const [code, outcome] of [
    [132001, BatchOutcome.Stop],
    [132016, BatchOutcome.Stop],
    [132015, BatchOutcome.TemplatePaused],
  ] as const) {
    it(`brakes the whole batch on ${code}`, async ({ db, deps, platform }) => {
      const { campaignId, phones } = await seedCampaign(db, 10);
      platform.failures.set(phones[0]!, [code]);
      const env = new MockActivityEnvironment();

      const summary = await env.run(sendBatch, deps, { campaignId, maxDurationMs: 30_000 });

      expect(summary).toMatchObject({ outcome, code });
      // The refused recipient was not sent and waits with the rest for what the workflow decides.
      const states = await statesOf(db, campaignId);
      expect(states.failed).toBeUndefined();
      expect(states.sending).toBeUndefined();
      expect((states.pending ?? 0) + (states.sent ?? 0)).toBe(10);
    });
  }

  it('stops when cancelled through its heartbeat, leaving no recipient mid-send', async ({
    db,
    deps,
    platform,
  }) => {
    const { campaignId } = await seedCampaign(db, 2_000);
    const env = new MockActivityEnvironment();
    // Cancel once the first chunk has been recorded, as the workflow's pause would.
    env.once('heartbeat', () => env.cancel('CANCELLED'));

    const failure = await env
      .run(sendBatch, deps, { campaignId, maxDurationMs: 60_000 })
      .catch((err: unknown) => err);

    expect(failure).toBeInstanceOf(CancelledFailure);
    const states = await statesOf(db, campaignId);
    expect(states.sending).toBeUndefined();
    expect(states.sent).toBe(platform.sends.length);
    expect(states.pending).toBeGreaterThan(0);
    expect((states.pending ?? 0) + (states.sent ?? 0)).toBe(2_000);
  });
});
