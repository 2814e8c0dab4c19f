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
import { bundleWorkflowCode } from '@temporalio/worker';
import { CampaignClient } from '../src/client/campaign-client';
import { openDatabase } from '../src/db/client';
import { updateNumber } from '../src/db/numbers';
import { ensureDevServer } from '../src/devtools/temporal-binaries';
import { fetchSendLog } from '../src/devtools/send-log-audit';
import { DEMO_PHONE_NUMBER_ID } from '../src/emulator';
import { startEmulatorProcess } from './emulator-process';
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
  const rates = opts.rates ?? [80, 1000];
  const rows: BenchRow[] = [];
  const quiet = logger.child({ level: 'warn' });
  const devServer = await ensureDevServer();
  const env = await TestWorkflowEnvironment.createLocal({
    server: { executable: devServer.executable, ui: false },
  });
  const bundle = await bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, logger: silentLogger });
  try {
    for (const mps of rates) {
      const ours = await runEngine(env, bundle, mps, messages, quiet);
      const naive = await runBaseline(mps, messages);
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
  } finally {
    await env.teardown();
  }
  return rows;
}

async function runEngine(
  env: TestWorkflowEnvironment,
  bundle: Awaited<ReturnType<typeof bundleWorkflowCode>>,
  mps: number,
  messages: number,
  log: typeof logger,
): Promise<RunFigures & { historyPer1000: number }> {
  const emulator = await startEmulatorProcess(worldAt(mps));
  const database = await openDatabase({ url: process.env.BENCH_DATABASE_URL, dataDir: 'memory://' });
  try {
    await updateNumber(database.db, DEMO_PHONE_NUMBER_ID, { mps, tierLimit: null });
    const client = clientFor(emulator.url);
    const taskQueue = `bench-${randomUUID()}`;
    const worker = await createWorker({
      connection: env.nativeConnection,
      namespace: env.namespace ?? 'default',
      taskQueue,
      workflowBundle: bundle,
      handleSignals: false,
      deps: { db: database.db, socialMessaging: client, logger: log },
    });
    const campaigns = new CampaignClient({
      db: database.db,
      temporal: env.client,
      socialMessaging: client,
      taskQueue,
    });
    const file = writeRecipients(messages);
    const campaignId = await worker.runUntil(async () => {
      const started = await campaigns.start({
        templateName: 'hello_world',
        templateLanguage: 'en_US',
        phoneNumberId: DEMO_PHONE_NUMBER_ID,
        recipientsFile: file,
      });
      await campaigns.waitForEnd(started.campaignId);
      return started.campaignId;
    });
    const figures = await figuresFrom(emulator.url, mps);
    const events = await historyEvents(env, campaignWorkflowId(campaignId));
    return { ...figures, historyPer1000: (events / figures.sends) * 1000 };
  } finally {
    await database.close();
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
        templateName: 'hello_world',
        templateLanguage: 'en_US',
        bodyParameters: [],
        bizOpaqueCallbackData: `baseline:${i}`,
      }),
    }),
  );
}

async function figuresFrom(url: string, mps: number): Promise<RunFigures> {
  const sends = await fetchSendLog(url, DEMO_PHONE_NUMBER_ID);
  const times = sends.map((s) => s.acceptedAtMs).sort((a, b) => a - b);
  const spanMs = (times[times.length - 1] ?? 0) - (times[0] ?? 0);
  const achieved = spanMs > 0 ? ((times.length - 1) / spanMs) * 1000 : 0;
  const rejections = (await (await fetch(`${url}/_emulator/rejections?limit=100000`)).json()) as {
    items: { code: number | null }[];
  };
  return {
    rateRatio: achieved / mps,
    selfThrottled: rejections.items.filter((r) => r.code === 130429).length,
    sends: sends.length,
  };
}

async function historyEvents(env: TestWorkflowEnvironment, workflowId: string): Promise<number> {
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

/** The demo world at a given rate, unlimited tier, no account-level request quota in the way. */
function worldAt(mps: number) {
  return {
    rules: { throughputMps: mps, messagingLimit: { tier: 'TIER_UNLIMITED' as const } },
    apiQuotas: { sendMessagePerSecond: 0 },
  };
}

function clientFor(url: string): SocialMessagingClient {
  process.env.AWS_ENDPOINT_URL_SOCIALMESSAGING = url;
  process.env.AWS_REGION ??= 'us-east-1';
  process.env.AWS_ACCESS_KEY_ID ??= 'bench';
  process.env.AWS_SECRET_ACCESS_KEY ??= 'bench';
  return createSocialMessagingClient({ maxSockets: 512 });
}

function phone(i: number): string {
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

const round = (v: number) => Math.round(v * 1000) / 1000;

const silentLogger = { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} };

if (require.main === module) {
  benchEnginePacing()
    .then((rows) => console.table(rows))
    .catch((err: unknown) => {
      console.error(err);
      process.exit(1);
    });
}
