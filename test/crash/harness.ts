/**
 * Shared rig of the crash tests: the platform emulator (with status events), a PostgreSQL database shared
 * by every process, the product's services as real child processes configured by environment only
 * (`node bin/wa-campaigns.js worker`, which a test may kill -9, and `… ingest`, subscribed to the
 * emulator's events), each restarted like a service manager would if it dies on its own, and the
 * campaign client in the test process. {@link verifyCampaign} is the judge: it reads the emulator's send
 * log and the database.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import { sql } from 'drizzle-orm';
import { expect, onTestFailed } from 'vitest';
import { CampaignClient } from '../../src/client/campaign-client';
import { openDatabase, type DatabaseHandle } from '../../src/db/client';
import { updateNumber } from '../../src/db/numbers';
import { num, queryRows } from '../../src/db/query';
import { auditSendLog, fetchSendLog, type LoggedSend } from '../../tools/send-log-audit';
import {
  DEMO_PHONE_NUMBER_ID,
  DEMO_TOPIC_ARN,
  type EmulatorConfig,
  type EmulatorHandle,
} from '../../src/emulator';
import { demoWabasWith } from '../helpers/demo-world';
import { startCheckedEmulator } from '../helpers/emulator';
import { createSocialMessagingClient } from '../../src/platform/aws-client';
import { parseBizOpaqueCallbackData } from '../../src/shared/ids';
import { logger } from '../../src/shared/logger';
import type { CampaignTuning } from '../../src/workflows/definitions';
import { freePort } from '../helpers/net';

export const quiet = logger.child({}, { level: 'error' });

import { sleep, until } from '../helpers/poll';
import {
  startServiceProcess,
  startWorkerProcess,
  type ChildHandle,
  type WorkerSettings,
} from '../helpers/services';

/**
 * A child process that is started again whenever it dies unexpectedly, as a service manager would:
 * a crash of the worker or the ingest service (e.g. from a driver bug when PostgreSQL goes away) costs
 * time, never correctness, and the restarts are counted. {@link kill9} kills it on purpose (not counted).
 */
export class Supervised {
  crashes = 0;
  private current: ChildHandle | undefined;
  private intentional = new WeakSet<ChildHandle>();
  private stopped = false;
  private restarting: Promise<void> | undefined;

  constructor(
    readonly name: string,
    private readonly launch: () => Promise<ChildHandle>,
  ) {}

  async start(): Promise<void> {
    const child = await this.launch();
    this.current = child;
    void child.exited.then(() => {
      if (this.stopped || this.intentional.has(child) || this.current !== child) return;
      this.crashes++;
      console.warn(`[crash] ${this.name} died unexpectedly; restarting it:\n${child.output().slice(-1_500)}`);
      this.restarting = this.restart();
    });
  }

  /** Like a service manager: tries again every second (e.g. while the database is still down). */
  private async restart(): Promise<void> {
    const giveUpAt = Date.now() + 90_000;
    for (;;) {
      if (this.stopped) return;
      try {
        await this.start();
        return;
      } catch (err) {
        if (Date.now() > giveUpAt) {
          console.error(`[crash] ${this.name} could not be restarted`, err);
          return;
        }
        await sleep(1_000);
      }
    }
  }

  /** kill -9 on purpose, then (unless told otherwise) start it again and wait until it is ready. */
  async kill9(restart = true): Promise<void> {
    await this.restarting;
    const child = this.current;
    if (child) {
      this.intentional.add(child);
      await child.kill9();
    }
    if (restart) await this.start();
  }

  output(): string {
    return this.current?.output() ?? '';
  }

  /** Value of a counter the running process reports on /metrics (summed over its labels). */
  async metric(name: string, labels: Record<string, string> = {}): Promise<number> {
    const port = this.current?.httpPort;
    if (port === undefined) throw new Error(`${this.name} has no metrics port`);
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    let total = 0;
    for (const line of text.split('\n')) {
      const match = /^(\w+)(?:\{([^}]*)\})? (\S+)$/.exec(line);
      if (!match || match[1] !== name) continue;
      const have = match[2] ?? '';
      if (Object.entries(labels).every(([k, v]) => have.includes(`${k}="${v}"`))) total += Number(match[3]);
    }
    return total;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.restarting;
    await this.current?.stop();
  }
}

export interface CrashRigOptions {
  label: string;
  databaseUrl: string;
  /** The Temporal server: its address (for the services) and a client (for starting campaigns). */
  temporal: { address: string; client: Client };
  mps: number;
}

export interface CrashRig {
  mps: number;
  emulator: EmulatorHandle;
  database: DatabaseHandle;
  /** `wa-campaigns worker`, not started yet. */
  worker: Supervised;
  /** Another `wa-campaigns worker` on the same task queue, database and emulator (not started). */
  addWorker(name: string): Supervised;
  /** {@link worker} and every added one: described when a test fails and stopped by {@link close}. */
  workers: Supervised[];
  /** `wa-campaigns ingest`, subscribed to the emulator's events. */
  ingest: Supervised;
  campaigns: CampaignClient;
  taskQueue: string;
  dir: string;
  /** Writes a CSV of `n` distinct recipients starting at `from`. */
  recipientsFile(name: string, from: number, n: number): string;
  close(): Promise<void>;
}

/**
 * Emulator at `mps` with unlimited tier and quick status events, the ingest service subscribed to it, and
 * the campaign client; workers are started by the test.
 */
export async function startCrashRig(options: CrashRigOptions): Promise<CrashRig> {
  const dir = mkdtempSync(path.join(tmpdir(), `wa-crash-${options.label}-`));
  const taskQueue = `crash-${options.label}-${randomUUID()}`;
  const emulator = await startCheckedEmulator({
    config: {
      wabas: worldWabas(),
      apiQuotas: { sendMessagePerSecond: 0 },
      rules: {
        throughputMps: options.mps,
        messagingLimit: { tier: 'TIER_UNLIMITED' },
        // Quick `sent` and `delivered` events and no `read`, so the ingest service settles ambiguous
        // sends within moments without flooding this small machine.
        delivery: { sentDelayMs: [5, 50], deliveredDelayMs: [50, 200], readDelayMs: 100, readRate: 0 },
      },
    },
    logger: quiet,
  });
  const database = await openDatabase({ url: options.databaseUrl, maxConnections: 10 });
  for (const id of [DEMO_PHONE_NUMBER_ID, SECOND_PHONE_NUMBER_ID])
    await updateNumber(database.db, id, { mps: options.mps, tierLimit: null });
  // The client in this process (preflight look-ups) speaks to the emulator like the services do.
  process.env.AWS_ENDPOINT_URL_SOCIALMESSAGING = emulator.url;
  process.env.AWS_REGION ??= 'us-east-1';
  process.env.AWS_ACCESS_KEY_ID ??= 'test';
  process.env.AWS_SECRET_ACCESS_KEY ??= 'test';
  const socialMessaging = createSocialMessagingClient();
  const campaigns = new CampaignClient({
    db: database.db,
    temporal: options.temporal.client,
    socialMessaging,
    taskQueue,
  });
  const settings: WorkerSettings = {
    temporalAddress: options.temporal.address,
    databaseUrl: options.databaseUrl,
    emulatorUrl: emulator.url,
    taskQueue,
  };
  const ingestPort = await freePort();
  const ingest = new Supervised('ingest service', () =>
    startServiceProcess('ingest', settings, ingestPort, {
      WA_INGEST_PORT: String(ingestPort),
      WA_INGEST_TOPIC_ARNS: DEMO_TOPIC_ARN,
      WA_INGEST_TRUSTED_CERT_URLS: `${emulator.url}/_emulator/sns/cert.pem`,
    }),
  );
  const worker = new Supervised('worker', () => startWorkerProcess(settings));
  const workers = [worker];
  await ingest.start();
  const res = await fetch(`${emulator.url}/_emulator/sns/subscribe`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ endpoint: `http://127.0.0.1:${ingestPort}/sns`, topicArn: DEMO_TOPIC_ARN }),
  });
  if (!res.ok) throw new Error(`subscribe: HTTP ${res.status} ${await res.text()}`);

  return {
    mps: options.mps,
    emulator,
    database,
    worker,
    ingest,
    campaigns,
    taskQueue,
    dir,
    workers,
    addWorker(name) {
      const added = new Supervised(name, () => startWorkerProcess(settings));
      workers.push(added);
      return added;
    },
    recipientsFile(name, from, n) {
      const file = path.join(dir, `${name}.csv`);
      const rows = Array.from({ length: n }, (_, i) => `${phoneAt(from + i)},${(i % 90) + 10}%`);
      writeFileSync(file, ['phone,discount', ...rows].join('\n'));
      return file;
    },
    async close() {
      await Promise.all([...workers.map((w) => w.stop()), ingest.stop()]);
      await database.close().catch(() => undefined);
      await emulator.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A second sending number in the demo WABA, so tests can run campaigns on two numbers at once. */
export const SECOND_PHONE_NUMBER_ID = 'phone-number-id-00000000000000000000000000000002';

/** The demo world with {@link SECOND_PHONE_NUMBER_ID} added to its WABA. */
function worldWabas(): NonNullable<EmulatorConfig['wabas']> {
  return demoWabasWith([
    {
      id: SECOND_PHONE_NUMBER_ID,
      metaPhoneNumberId: '106540352242999',
      displayPhoneNumber: '+1 555-010-0099',
    },
  ]);
}

/** A valid German mobile number, distinct for each `i`. */
export function phoneAt(i: number): string {
  return `+4917${String(400_000_000 + i)}`;
}

/** Recipients of the campaign that left `pending` (sending, sent, or any later state). */
export async function progressOf(db: DatabaseHandle['db'], campaignId: string): Promise<number> {
  const [row] = await queryRows<{ n: unknown }>(
    db,
    sql`select count(*) as n from recipients where campaign_id = ${campaignId} and state <> 'pending'`,
  );
  return num(row?.n ?? 0);
}

/** Resolves once the campaigns together have at least `target` recipients out of `pending`. */
export function untilUnderWay(
  db: DatabaseHandle['db'],
  campaignIds: string[],
  target: number,
): Promise<number> {
  return until(
    `${target} recipients under way`,
    async () => {
      let n = 0;
      for (const id of campaignIds) n += await progressOf(db, id);
      return n >= target ? n : undefined;
    },
    { timeoutMs: 90_000, everyMs: 50 },
  );
}

/**
 * What a failed or timed-out run needs to be understood: recipients by state per campaign, and the last
 * lines the worker and the ingest service wrote.
 */
export async function describeRig(rig: CrashRig, campaignIds: string[]): Promise<string> {
  const lines: string[] = [];
  for (const id of campaignIds) {
    const states = await queryRows<{ state: string; n: unknown }>(
      rig.database.db,
      sql`select state, count(*) as n from recipients where campaign_id = ${id} group by state order by state`,
    ).catch((err: unknown) => [{ state: `unreadable: ${String(err)}`, n: 0 }]);
    lines.push(`${id}: ${states.map((r) => `${r.state} ${num(r.n)}`).join(', ')}`);
  }
  for (const w of rig.workers)
    lines.push(`${w.name} (unexpected restarts ${w.crashes}):`, w.output().slice(-4_000));
  lines.push(`ingest (unexpected restarts ${rig.ingest.crashes}):`, rig.ingest.output().slice(-2_000));
  return lines.join('\n');
}

/** Prints what happened when, relative to its creation: where the time of a slow run went. */
export function timeline(label: string): (what: string) => void {
  const began = Date.now();
  return (what) => console.info(`[crash:${label}] +${((Date.now() - began) / 1000).toFixed(1)} s ${what}`);
}

/** `n` increasing points in (0, 1) for kills, each drawn at random from its own band. */
export function randomKillPoints(bands: [number, number][]): number[] {
  return bands.map(([lo, hi]) => lo + Math.random() * (hi - lo));
}

export interface Verdict {
  total: number;
  counts: Record<string, number>;
  /** Sends of this campaign in the emulator's log. */
  sends: number;
  /** Recipients messaged more than once. */
  duplicates: number;
  /** Recipients whose outcome the engine could not know and recorded as such (`unknown`). */
  unknown: number;
  /** Recipients sent again after an ambiguous send (at-least-once). */
  resent: number;
  /** `unknown` recipients the platform did accept once (their status events never came in time). */
  unknownButSent: number;
}

interface RecipientRow {
  seq: number;
  state: string;
  message_id: string | null;
  attempts: number;
}

/**
 * The judge. The campaign completed; every accepted recipient is in a final state; the emulator's send log
 * and the database agree:
 * - a recipient recorded as sent (sent/delivered/read) was accepted by the platform exactly once, with the
 *   message id the database holds — at-least-once campaigns may have one more send for a recipient the
 *   engine re-sent after an ambiguous attempt (counted);
 * - a recipient the platform never accepted is `unknown` (at-most-once: the engine could not know), never
 *   `sent`, and no recipient is lost;
 * - at-most-once: nobody was messaged twice;
 * - the number's rate was never exceeded and the platform refused nothing.
 */
export async function verifyCampaign(
  rig: CrashRig,
  campaignId: string,
  expected: { total: number; policy: 'at-most-once' | 'at-least-once'; mps: number },
): Promise<Verdict> {
  const status = await rig.campaigns.status(campaignId);
  expect(status.state).toBe('completed');
  const c = status.counts;
  expect(c.total).toBe(expected.total);
  expect({ pending: c.pending, ambiguous: c.ambiguous, failed: c.failed, skipped: c.skipped }).toEqual({
    pending: 0,
    ambiguous: 0,
    failed: 0,
    skipped: 0,
  });
  expect(c.cancelled + c.expired).toBe(0);
  expect(c.sent + c.delivered + c.read + c.unknown).toBe(expected.total);
  if (expected.policy === 'at-least-once') expect(c.unknown).toBe(0);

  const all = await fetchSendLog(rig.emulator.url);
  const sends = all.filter(
    (s) => parseBizOpaqueCallbackData(s.bizOpaqueCallbackData)?.campaignId === campaignId,
  );
  const bySeq = new Map<number, LoggedSend[]>();
  for (const s of sends) {
    const seq = parseBizOpaqueCallbackData(s.bizOpaqueCallbackData)!.seq;
    bySeq.set(seq, [...(bySeq.get(seq) ?? []), s]);
  }
  const rows = await queryRows<RecipientRow>(
    rig.database.db,
    sql`select seq, state, message_id, attempts from recipients where campaign_id = ${campaignId} order by seq`,
  );
  expect(rows).toHaveLength(expected.total);
  const problems: string[] = [];
  let duplicates = 0;
  let unknown = 0;
  let unknownButSent = 0;
  let resent = 0;
  let extraSends = 0;
  let settled = 0;
  for (const row of rows) {
    const seq = num(row.seq);
    const logged = bySeq.get(seq) ?? [];
    bySeq.delete(seq);
    if (logged.length > 1) duplicates++;
    if (row.state === 'unknown') {
      unknown++;
      if (logged.length === 1) unknownButSent++;
      if (logged.length > 1) problems.push(`line ${seq}: unknown yet sent ${logged.length} times`);
      continue;
    }
    if (!['sent', 'delivered', 'read'].includes(row.state)) {
      problems.push(`line ${seq}: final state ${row.state}`);
      continue;
    }
    settled++;
    if (logged.length === 0) {
      problems.push(`line ${seq}: recorded ${row.state} but the platform never accepted it`);
      continue;
    }
    if (!logged.some((s) => s.messageId === row.message_id)) {
      problems.push(`line ${seq}: message id ${row.message_id} is not one the platform gave`);
    }
    if (logged.length > 1) {
      // Only a re-send after an ambiguous attempt may repeat a message, and only under at-least-once.
      if (expected.policy === 'at-most-once' || num(row.attempts) < 2) {
        problems.push(`line ${seq}: sent ${logged.length} times (attempts ${row.attempts})`);
      } else {
        resent++;
        extraSends += logged.length - 1;
      }
    }
  }
  for (const seq of bySeq.keys()) problems.push(`line ${seq}: sent but not a recipient of the campaign`);
  expect(problems.slice(0, 20)).toEqual([]);
  if (expected.policy === 'at-most-once') expect(duplicates).toBe(0);
  // The platform's count and ours add up: one send per recipient recorded as sent, one per unknown
  // recipient it did accept, and the counted re-sends. Counted from the rows read after the send log,
  // not from the status read before it: a late status event may still settle an unknown row meanwhile.
  expect(sends.length).toBe(settled + unknownButSent + extraSends);

  const audit = auditSendLog(sends, { mps: expected.mps });
  expect(audit.maxPerSecond).toBeLessThanOrEqual(expected.mps);
  const refused = (await (await fetch(`${rig.emulator.url}/_emulator/rejections`)).json()) as {
    items: unknown[];
  };
  expect(refused.items).toEqual([]);
  return {
    total: expected.total,
    counts: { ...c },
    sends: sends.length,
    duplicates,
    unknown,
    unknownButSent,
    resent,
  };
}

export interface CampaignPair {
  /** At-most-once: an ambiguous recipient becomes `unknown`, never messaged twice. */
  strict: { campaignId: string; total: number };
  /** At-least-once: an ambiguous recipient is sent again after the wait. */
  lenient: { campaignId: string; total: number };
  ids: string[];
  total: number;
}

/**
 * Starts the two campaigns every crash test runs on the one number, one under each ambiguity policy, and
 * has a failed test print where they stood.
 */
export async function startCampaignPair(
  rig: CrashRig,
  sizes: { atMostOnce: number; atLeastOnce: number },
  tuning: Partial<CampaignTuning>,
): Promise<CampaignPair> {
  const input = {
    templateName: 'spring_sale',
    templateLanguage: 'en_US',
    phoneNumberId: DEMO_PHONE_NUMBER_ID,
  };
  const strict = await rig.campaigns.start({
    ...input,
    recipientsFile: rig.recipientsFile('at-most-once', 0, sizes.atMostOnce),
    ambiguityPolicy: 'at-most-once',
    tuning,
  });
  const lenient = await rig.campaigns.start({
    ...input,
    recipientsFile: rig.recipientsFile('at-least-once', 100_000, sizes.atLeastOnce),
    ambiguityPolicy: 'at-least-once',
    tuning,
  });
  expect([strict.accepted, lenient.accepted]).toEqual([sizes.atMostOnce, sizes.atLeastOnce]);
  const ids = [strict.campaignId, lenient.campaignId];
  onTestFailed(async () => {
    console.error(await describeRig(rig, ids));
  });
  return {
    strict: { campaignId: strict.campaignId, total: sizes.atMostOnce },
    lenient: { campaignId: lenient.campaignId, total: sizes.atLeastOnce },
    ids,
    total: sizes.atMostOnce + sizes.atLeastOnce,
  };
}

/**
 * Waits for both campaigns to end and judges them with {@link verifyCampaign}. The at-least-once campaign
 * may repeat a message only for a recipient it counted as re-sent. The services must not have died on
 * their own (only the test's deliberate kills are allowed): a crash is a bug even when a restart hides it.
 */
export async function finishCampaignPair(
  rig: CrashRig,
  pair: CampaignPair,
  label: string,
  what: string,
): Promise<{ strict: Verdict; lenient: Verdict }> {
  const ends = await Promise.all(pair.ids.map((id) => rig.campaigns.waitForEnd(id)));
  expect(ends.map((e) => e.state)).toEqual(['completed', 'completed']);
  const strict = await verifyCampaign(rig, pair.strict.campaignId, {
    total: pair.strict.total,
    policy: 'at-most-once',
    mps: rig.mps,
  });
  const lenient = await verifyCampaign(rig, pair.lenient.campaignId, {
    total: pair.lenient.total,
    policy: 'at-least-once',
    mps: rig.mps,
  });
  expect(lenient.duplicates).toBe(lenient.resent);
  console.info(
    `[crash:${label}] ${what}; at-most-once ${JSON.stringify(strict)}; ` +
      `at-least-once ${JSON.stringify(lenient)}; unexpected restarts: worker ${rig.worker.crashes}, ` +
      `ingest ${rig.ingest.crashes}`,
  );
  expect({ worker: rig.worker.crashes, ingest: rig.ingest.crashes }).toEqual({ worker: 0, ingest: 0 });
  return { strict, lenient };
}

/**
 * The opening every crash test shares: the worker started and healthy, then the two campaigns. Returns
 * them with the run's timeline.
 */
export async function beginCrashRun(
  rig: CrashRig,
  label: string,
  sizes: { atMostOnce: number; atLeastOnce: number },
  tuning: Partial<CampaignTuning>,
): Promise<{ pair: CampaignPair; mark: (what: string) => void }> {
  const mark = timeline(label);
  await rig.worker.start();
  mark('worker healthy');
  const pair = await startCampaignPair(rig, sizes, tuning);
  mark('campaigns started');
  return { pair, mark };
}
