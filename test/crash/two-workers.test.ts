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
} from './harness';

const MPS = 300;
const OTHER_NUMBER = 600;
// Short time slices: many activities, scheduled on whichever worker polls first.
const TUNING = { ambiguityWaitMs: 2_000, batchMaxMs: 1_500 };

let env: TestWorkflowEnvironment;
let database: TestDatabase;
let rig: CrashRig;

beforeAll(async () => {
  [env, database] = await Promise.all([createDevServerEnv(), createTestDatabase('two_workers')]);
  rig = await startCrashRig({
    label: 'two',
    databaseUrl: database.url,
    temporal: env,
    mps: MPS,
  });
  rig.addWorker('second worker');
});

afterAll(async () => {
  await rig?.close();
  await env?.teardown();
  await database?.drop();
});

describe('two workers on one task queue', () => {
  it('share one number without exceeding its rate, and send everyone once', async () => {
    const mark = timeline('two');
    await Promise.all(rig.workers.map((w) => w.start()));
    mark('both workers healthy');
    const pair = await startCampaignPair(rig, { atMostOnce: 900, atLeastOnce: 600 }, TUNING);
    const other = await rig.campaigns.start({
      templateName: 'spring_sale',
      templateLanguage: 'en_US',
      phoneNumberId: SECOND_PHONE_NUMBER_ID,
      recipientsFile: rig.recipientsFile('second-number', 200_000, OTHER_NUMBER),
      tuning: TUNING,
    });
    const { strict, lenient } = await finishCampaignPair(rig, pair, 'two', 'two workers');
    await rig.campaigns.waitForEnd(other.campaignId);
    const otherVerdict = await verifyCampaign(rig, other.campaignId, {
      total: OTHER_NUMBER,
      policy: 'at-most-once',
      mps: MPS,
    });
    expect(otherVerdict.sends).toBe(OTHER_NUMBER);
    // Neither worker died: a restart would also reset its counters below.
    expect(rig.workers.map((w) => w.crashes)).toEqual([0, 0]);
    const count = async (name: string, labels: Record<string, string> = {}) =>
      (await Promise.all(rig.workers.map((w) => w.metric(name, labels)))).reduce((a, b) => a + b, 0);
    const sentBy = await Promise.all(rig.workers.map((w) => w.metric('wa_sends_total', { outcome: 'sent' })));
    const others = Object.fromEntries(
      await Promise.all(
        ['ambiguous', 'retry-backoff', 'retry-transient', 'drop'].map(
          async (o) => [o, await count('wa_sends_total', { outcome: o })] as const,
        ),
      ),
    );
    const recovered = await count('wa_send_intents_recovered_total');
    console.info(
      `[crash:two] sent by worker: ${sentBy.join(' + ')}; recovered intents ${recovered}; ` +
        `other outcomes ${JSON.stringify(others)}`,
    );
    // Both took part.
    expect(Math.min(...sentBy)).toBeGreaterThan(0);
    // Between them they counted each message the platform accepted once: all of them when every answer
    // came back and was recorded (the usual case). An answer lost in transit is counted as ambiguous, and
    // an attempt that stopped before recording its answers leaves them uncounted (its recipients are
    // recovered as ambiguous by the next attempt); nothing is counted twice.
    const accepted = strict.sends + lenient.sends + otherVerdict.sends;
    const counted = sentBy[0]! + sentBy[1]!;
    if (counted !== accepted) {
      for (const w of rig.workers) console.error(`${w.name}:\n${w.output().slice(-6_000)}`);
    }
    expect(counted).toBeLessThanOrEqual(accepted);
    expect(counted).toBeGreaterThanOrEqual(accepted - recovered - (others.ambiguous ?? 0));
  }, 240_000);
});
