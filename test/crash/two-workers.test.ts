/**
 * Two worker processes on the same task queue, sharing the database and the numbers: the campaigns'
 * send activities land on both, and pacing and budgets stay exact because every send slot and every tier
 * grant is claimed in PostgreSQL, not in a worker's memory. Neither worker may push a number past its
 * MPS (the emulator refuses with 130429 if any one second holds more), and each recipient is sent once.
 * Two campaigns share the demo number while a third runs on a second number at the same time.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres';
import { createDevServerEnv } from '../helpers/temporal';
import {
  finishCampaignPair,
  startCampaignPair,
  startCrashRig,
  timeline,
  SECOND_PHONE_NUMBER_ID,
  verifyCampaign,
  type CrashRig,
  type Supervised,
} from './harness';

const MPS = 300;
const OTHER_NUMBER = 600;
// Short time slices: many activities, scheduled on whichever worker polls first.
const TUNING = { ambiguityWaitMs: 2_000, batchMaxMs: 1_500 };

let env: TestWorkflowEnvironment;
let database: TestDatabase;
let rig: CrashRig;
let second: Supervised;

beforeAll(async () => {
  [env, database] = await Promise.all([createDevServerEnv(), createTestDatabase('two_workers')]);
  rig = await startCrashRig({
    label: 'two',
    databaseUrl: database.url,
    temporal: env,
    mps: MPS,
  });
  second = rig.addWorker('second worker');
});

afterAll(async () => {
  await second?.stop();
  await rig?.close();
  await env?.teardown();
  await database?.drop();
});

describe('two workers on one task queue', () => {
  it('share one number without exceeding its rate, and send everyone once', async () => {
    const mark = timeline('two');
    await Promise.all([rig.worker.start(), second.start()]);
    mark('both workers healthy');
    const pair = await startCampaignPair(rig, { atMostOnce: 900, atLeastOnce: 600 }, TUNING);
    const other = await rig.campaigns.start({
      templateName: 'spring_sale',
      templateLanguage: 'en_US',
      phoneNumberId: SECOND_PHONE_NUMBER_ID,
      recipientsFile: rig.recipientsFile('second-number', 200_000, OTHER_NUMBER),
      tuning: TUNING,
    });
    await finishCampaignPair(rig, pair, 'two', 'two workers');
    await rig.campaigns.waitForEnd(other.campaignId);
    const otherVerdict = await verifyCampaign(rig, other.campaignId, {
      total: OTHER_NUMBER,
      policy: 'at-most-once',
      mps: MPS,
    });
    expect(otherVerdict.sends).toBe(OTHER_NUMBER);
    const sentBy = [
      await rig.worker.metric('wa_sends_total', { outcome: 'sent' }),
      await second.metric('wa_sends_total', { outcome: 'sent' }),
    ];
    console.info(`[crash:two] sends by worker: ${sentBy.join(' + ')}`);
    // Both took part, and between them they sent exactly the campaigns' recipients.
    expect(Math.min(...sentBy)).toBeGreaterThan(0);
    expect(sentBy[0]! + sentBy[1]!).toBe(pair.total + OTHER_NUMBER);
    expect(second.crashes).toBe(0);
  }, 240_000);
});
