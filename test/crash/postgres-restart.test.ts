/**
 * PostgreSQL restarts mid-campaign (an immediate shutdown, as a crash leaves it, then recovery): the worker
 * (a child process), the ingest service and the client lose every connection at once. The send activity
 * fails, is retried, finds the rows it left `sending` and treats them as ambiguous; the campaigns complete
 * with nobody lost and no uncounted duplicate. This file runs its own server, so restarting it disturbs no
 * other test file.
 */
import { afterAll, beforeAll, describe, it } from 'vitest';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import postgres from 'postgres';
import { startPostgres, type PostgresServer } from '../helpers/postgres';
import { createDevServerEnv } from '../helpers/temporal';
import { sleep } from '../helpers/poll';
import { startCrashRig, untilUnderWay, finishCampaignPair, beginCrashRun, type CrashRig } from './harness';

const MPS = 300;
const AT_MOST_ONCE = 600;
const AT_LEAST_ONCE = 400;
const TUNING = { ambiguityWaitMs: 2_000, sendHeartbeatTimeoutMs: 4_000, batchMaxMs: 10_000 };

let env: TestWorkflowEnvironment;
let server: PostgresServer;
let rig: CrashRig;

beforeAll(async () => {
  // Durable, as in production: with synchronous_commit off an immediate restart drops the last commits
  // (slot claims and send intents among them), which no engine could survive and no real server does.
  [env, server] = await Promise.all([createDevServerEnv(), startPostgres({ durable: true })]);
  const admin = postgres(server.url, { max: 1, onnotice: () => {} });
  await admin.unsafe('create database wa_crash_pg');
  await admin.end();
  const url = new URL(server.url);
  url.pathname = '/wa_crash_pg';
  rig = await startCrashRig({
    label: 'pg',
    databaseUrl: url.toString(),
    temporal: env,
    mps: MPS,
  });
});

afterAll(async () => {
  await rig?.close();
  await env?.teardown();
  await server?.stop();
});

describe('PostgreSQL restarted mid-campaign', () => {
  it('completes both campaigns with nobody lost and no uncounted duplicate', async () => {
    const { pair, mark } = await beginCrashRun(
      rig,
      'postgres',
      { atMostOnce: AT_MOST_ONCE, atLeastOnce: AT_LEAST_ONCE },
      TUNING,
    );
    const target = Math.round((0.3 + Math.random() * 0.2) * pair.total);
    await untilUnderWay(rig.database.db, pair.ids, target);
    mark(`${target} under way`);
    await sleep(Math.random() * 250);
    const downAt = Date.now();
    await server.restart({ mode: 'immediate', downMs: 1_500 });
    const downFor = Date.now() - downAt;
    mark('PostgreSQL restarted');

    await finishCampaignPair(
      rig,
      pair,
      'postgres',
      `down ${downFor} ms at ${Math.round((100 * target) / pair.total)}%`,
    );
    mark('both completed and verified');
  }, 240_000);
});
