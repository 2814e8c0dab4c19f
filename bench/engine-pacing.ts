/**
 * Pacing benchmark: how close the engine gets to a number's configured rate without ever passing it,
 * side by side with a naive baseline (a plain loop behind the Bottleneck rate limiter, no durability).
 * Both talk to the emulator through the real AWS SDK client. Runs standalone: `tsx bench/engine-pacing.ts`.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import Bottleneck from 'bottleneck';
import { SendWhatsAppMessageCommand, type SocialMessagingClient } from '@aws-sdk/client-socialmessaging';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, type Worker } from '@temporalio/worker';
import { CampaignClient } from '../src/client/campaign-client';
import { openDatabase, type Database } from '../src/db/client';
import { updateNumber, type NumberSettingsPatch } from '../src/db/numbers';
import { ensureBuilt } from '../tools/build';
import { ensureDevServer } from '../tools/temporal-binaries';
import { fetchSendLog } from '../tools/send-log-audit';
import { DEMO_PHONE_NUMBER_ID, type EmulatorConfig, type RejectionRecord, type Tier } from '../src/emulator';
import { startEmulatorProcess } from './emulator-process';
import { startPostgres, type PostgresServer } from '../test/helpers/postgres';
import { createSocialMessagingClient } from '../src/platform/aws-client';
import { buildTemplateMessage } from '../src/platform/message';
import { logger } from '../src/shared/logger';
import { campaignWorkflowId } from '../src/shared/ids';
import { WORKFLOWS_PATH, createWorker } from '../src/worker/create-worker';

export interface BenchRow {
  metric: string;
  value: number;
  unit: string;
  target?: string;
}

interface RunFigures {
  rateRatio: number;
  selfThrottled: number;
  sends: number;
}

/** Runs our engine and the baseline at each rate; returns one row per figure. */
export async function benchEnginePacing(
  opts: { messages?: number; rates?: number[] } = {},
): Promise<BenchRow[]> {
  const messages = opts.messages ?? Number(process.env.BENCH_MESSAGES ?? 20_000);
  const rates =
    opts.rates ?? (process.env.BENCH_RATES ? process.env.BENCH_RATES.split(',').map(Number) : [80, 1000]);
  const rows: BenchRow[] = [];
  await withBenchHarness(async (harness) => {
    for (const mps of rates) {
      const ours = await runEngine(harness, mps, messages);
      const naive = process.env.BENCH_NO_BASELINE
        ? { rateRatio: Number.NaN, selfThrottled: Number.NaN, sends: 0 }
        : await runBaseline(mps, messages);
      const target = mps >= 1000 ? '≥ 0.95' : '≥ 0.97';
      rows.push(
        {
          metric: `engine rate / MPS at ${mps}/s (${messages} msgs)`,
          value: round(ours.rateRatio),
          unit: 'ratio',
          target,
        },
        {
          metric: `engine 130429 caused at ${mps}/s`,
          value: ours.selfThrottled,
          unit: 'errors',
          target: '0',
        },
        {
          metric: `engine history events per 1,000 msgs at ${mps}/s`,
          value: round(ours.historyPer1000),
          unit: 'events',
          target: '≤ 20',
        },
        { metric: `baseline rate / MPS at ${mps}/s`, value: round(naive.rateRatio), unit: 'ratio' },
        { metric: `baseline 130429 caused at ${mps}/s`, value: naive.selfThrottled, unit: 'errors' },
      );
    }
  });
  return rows;
}

/** What every engine benchmark runs on: a dev Temporal server, the workflow bundle and PostgreSQL. */
export interface BenchHarness {
  env: TestWorkflowEnvironment;
  bundle: Awaited<ReturnType<typeof bundleWorkflowCode>>;
  databaseUrl: string;
}

/**
 * Runs `fn` with a dev Temporal server, the product's workflows bundled, and a real PostgreSQL server as
 * in production (BENCH_DATABASE_URL, else a throw-away one); tears all of it down afterwards.
 */
export async function withBenchHarness<T>(fn: (harness: BenchHarness) => Promise<T>): Promise<T> {
  let server: PostgresServer | undefined;
  let databaseUrl = process.env.BENCH_DATABASE_URL;
  if (!databaseUrl) {
    server = await startPostgres();
    databaseUrl = server.url;
  }
  try {
    const devServer = await ensureDevServer();
    const env = await TestWorkflowEnvironment.createLocal({
      server: { executable: devServer.executable, ui: false },
    });
    try {
      const bundle = await bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, logger: silentLogger });
      return await fn({ env, bundle, databaseUrl });
    } finally {
      await env.teardown();
    }
  } finally {
    await server?.stop();
  }
}

/** Our worker and campaign client, talking to one emulator through the real AWS SDK client. */
export interface BenchEngine {
  db: Database;
  socialMessaging: SocialMessagingClient;
  worker: Worker;
  campaigns: CampaignClient;
  taskQueue: string;
}

/**
 * Runs `fn` with a fresh worker (not yet running: use `worker.runUntil`) and campaign client on their own
 * task queue, the demo number's stored settings set to `settings` first.
 */
export async function withBenchEngine<T>(
  harness: BenchHarness,
  emulatorUrl: string,
  settings: NumberSettingsPatch,
  fn: (engine: BenchEngine) => Promise<T>,
): Promise<T> {
  const database = await openDatabase({ url: harness.databaseUrl });
  try {
    await updateNumber(database.db, DEMO_PHONE_NUMBER_ID, settings);
    const socialMessaging = clientFor(emulatorUrl);
    const taskQueue = `bench-${randomUUID()}`;
    const worker = await createWorker({
      connection: harness.env.nativeConnection,
      namespace: harness.env.namespace ?? 'default',
      taskQueue,
      workflowBundle: harness.bundle,
      handleSignals: false,
      deps: { db: database.db, socialMessaging, logger: benchLogger },
    });
    const campaigns = new CampaignClient({
      db: database.db,
      temporal: harness.env.client,
      socialMessaging,
      taskQueue,
    });
    return await fn({ db: database.db, socialMessaging, worker, campaigns, taskQueue });
  } finally {
    await database.close();
  }
}

/** Starts a `hello_world` campaign on the demo number to `recipients` distinct users; returns its id. */
export async function startBenchCampaign(campaigns: CampaignClient, recipients: number): Promise<string> {
  const started = await campaigns.start({
    templateName: BENCH_TEMPLATE.name,
    templateLanguage: BENCH_TEMPLATE.language,
    phoneNumberId: DEMO_PHONE_NUMBER_ID,
    recipientsFile: writeRecipients(recipients),
  });
  return started.campaignId;
}

async function runEngine(
  harness: BenchHarness,
  mps: number,
  messages: number,
): Promise<RunFigures & { historyPer1000: number }> {
  const emulator = await startEmulatorProcess(worldAt(mps));
  try {
    const campaignId = await withBenchEngine(
      harness,
      emulator.url,
      { mps, tierLimit: null },
      ({ worker, campaigns }) =>
        worker.runUntil(async () => {
          const id = await startBenchCampaign(campaigns, messages);
          await campaigns.waitForEnd(id);
          return id;
        }),
    );
    const figures = await figuresFrom(emulator.url, mps);
    const events = await historyEvents(harness.env, campaignWorkflowId(campaignId));
    return { ...figures, historyPer1000: (events / figures.sends) * 1000 };
  } finally {
    await emulator.close();
  }
}

async function runBaseline(mps: number, messages: number): Promise<RunFigures> {
  const emulator = await startEmulatorProcess(worldAt(mps));
  try {
    const client = clientFor(emulator.url);
    const limiter = new Bottleneck({ minTime: 1000 / mps, maxConcurrent: null });
    await Promise.all(
      Array.from({ length: messages }, (_, i) =>
        limiter.schedule(() => sendPlain(client, i).catch(() => undefined)),
      ),
    );
    return await figuresFrom(emulator.url, mps);
  } finally {
    await emulator.close();
  }
}

function sendPlain(client: SocialMessagingClient, i: number) {
  return client.send(
    new SendWhatsAppMessageCommand({
      originationPhoneNumberId: DEMO_PHONE_NUMBER_ID,
      metaApiVersion: 'v20.0',
      message: buildTemplateMessage({
        to: phone(i),
        templateName: BENCH_TEMPLATE.name,
        templateLanguage: BENCH_TEMPLATE.language,
        bodyParameters: [],
        bizOpaqueCallbackData: `baseline:${i}`,
      }),
    }),
  );
}

async function figuresFrom(url: string, mps: number): Promise<RunFigures> {
  const sends = await fetchSendLog(url, DEMO_PHONE_NUMBER_ID);
  const times = sends.map((s) => s.acceptedAtMs).sort((a, b) => a - b);
  if (process.env.BENCH_DUMP)
    writeFileSync(`${process.env.BENCH_DUMP}-${mps}-${Date.now()}.json`, JSON.stringify(times));
  const spanMs = (times[times.length - 1] ?? 0) - (times[0] ?? 0);
  const achieved = spanMs > 0 ? ((times.length - 1) / spanMs) * 1000 : 0;
  const rejections = await fetchRejections(url);
  return {
    rateRatio: achieved / mps,
    selfThrottled: rejections.filter((r) => r.code === 130429).length,
    sends: sends.length,
  };
}

/** The emulator's refusals (sync, and accepted sends it reported `failed`), oldest first. */
export async function fetchRejections(url: string): Promise<RejectionRecord[]> {
  const res = await fetch(`${url}/_emulator/rejections?limit=100000`);
  if (!res.ok) throw new Error(`emulator rejections: HTTP ${res.status}`);
  return ((await res.json()) as { items: RejectionRecord[] }).items;
}

export async function historyEvents(env: TestWorkflowEnvironment, workflowId: string): Promise<number> {
  // Follow the continue-as-new chain back from the last run, counting every run's events.
  let total = 0;
  let runId: string | undefined;
  for (;;) {
    const history = await env.client.workflow.getHandle(workflowId, runId).fetchHistory();
    total += history.events?.length ?? 0;
    const previous = history.events?.[0]?.workflowExecutionStartedEventAttributes?.continuedExecutionRunId;
    if (!previous) return total;
    runId = previous;
  }
}

/**
 * The demo world at a given rate, by default with an unlimited tier, no account-level request quota in
 * the way.
 */
export function worldAt(
  mps: number,
  messagingLimit: { tier: Tier; windowMs?: number } = { tier: 'TIER_UNLIMITED' },
): EmulatorConfig {
  return {
    rules: { throughputMps: mps, messagingLimit },
    apiQuotas: { sendMessagePerSecond: 0 },
  };
}

export function clientFor(url: string): SocialMessagingClient {
  process.env.AWS_ENDPOINT_URL_SOCIALMESSAGING = url;
  process.env.AWS_REGION ??= 'us-east-1';
  process.env.AWS_ACCESS_KEY_ID ??= 'bench';
  process.env.AWS_SECRET_ACCESS_KEY ??= 'bench';
  return createSocialMessagingClient({ maxSockets: 512 });
}

export function phone(i: number): string {
  return `+4917${String(600000000 + i)}`;
}

function writeRecipients(n: number): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'wa-bench-'));
  const file = path.join(dir, 'recipients.csv');
  const lines = ['phone'];
  for (let i = 0; i < n; i++) lines.push(phone(i));
  writeFileSync(file, lines.join('\n'));
  return file;
}

export const round = (v: number) => Math.round(v * 1000) / 1000;

/** The demo world's template every engine benchmark sends (UTILITY, no parameters). */
export const BENCH_TEMPLATE = { name: 'hello_world', language: 'en_US' } as const;

/** Our own logs during a benchmark: warnings and errors only. */
export const benchLogger = logger.child({ level: 'warn' });

const silentLogger = { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} };

/** Runs a benchmark section as a script (`tsx bench/<file>.ts`): prints its table, exits 1 on failure. */
export function runAsScript(section: () => Promise<BenchRow[]>): void {
  ensureBuilt((line) => process.stderr.write(`${line}\n`))
    .then(section)
    .then((rows) => console.table(rows))
    .catch((err: unknown) => {
      console.error(err);
      process.exit(1);
    });
}

if (require.main === module) runAsScript(benchEnginePacing);
