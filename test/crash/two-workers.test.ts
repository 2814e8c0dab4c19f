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
    const { lenient } = await finishCampaignPair(rig, pair, 'two', 'two workers');
    await rig.campaigns.waitForEnd(other.campaignId);
    const otherVerdict = await verifyCampaign(rig, other.campaignId, {
      total: OTHER_NUMBER,
      policy: 'at-most-once',
      mps: MPS,
    });
    expect(otherVerdict.sends).toBe(OTHER_NUMBER);
    // Neither worker died: a restart would also reset its counters below.
    expect(rig.workers.map((w) => w.crashes)).toEqual([0, 0]);
    const count = (name: string, labels: Record<string, string> = {}) =>
      Promise.all(rig.workers.map((w) => w.metric(name, labels)));
    const sentBy = await count('wa_sends_total', { outcome: 'sent' });
    const otherOutcomes = await Promise.all(
      ['ambiguous', 'retry-backoff', 'retry-transient', 'drop'].map(
        async (o) => `${o} ${(await count('wa_sends_total', { outcome: o })).join(' + ')}`,
      ),
    );
    const recoveredBy = await count('wa_send_intents_recovered_total');
    console.info(
      `[crash:two] sent by worker: ${sentBy.join(' + ')}; recovered intents ${recoveredBy.join(' + ')}; ` +
        otherOutcomes.join(', '),
    );
    // Both took part.
    expect(Math.min(...sentBy)).toBeGreaterThan(0);
    // Between them they counted every recipient's send once: exactly the campaigns' recipients when no
    // attempt stopped before recording its outcomes (the usual case). An attempt that did leaves its sends
    // uncounted and its recipients recovered as ambiguous by the next attempt; an at-least-once recipient
    // sent again is counted twice.
    const total = pair.total + OTHER_NUMBER;
    const counted = sentBy[0]! + sentBy[1]!;
    const recovered = recoveredBy[0]! + recoveredBy[1]!;
    if (counted !== total) {
      for (const w of rig.workers) console.error(`${w.name}:\n${w.output().slice(-6_000)}`);
    }
    expect(counted).toBeGreaterThanOrEqual(total - recovered);
    expect(counted).toBeLessThanOrEqual(total + lenient.resent);
  }, 240_000);
});
