/**
 * `npm run demo`: the whole product on one machine with nothing to set up. It starts a throw-away
 * Temporal dev server, the platform emulator, the embedded database (kept in .data/) and a worker, then
 * runs a marketing campaign of 2,000 recipients (with a few bad rows and duplicates) from CSV through the
 * real AWS SDK client, shows its progress, and checks the emulator's send log: nobody messaged twice, no
 * second over the number's rate, no rolling window over the tier.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Runtime, DefaultLogger } from '@temporalio/worker';
import { CampaignClient } from '../src/client/campaign-client';
import { watchCampaign } from '../src/cli/campaign';
import { formatStatus } from '../src/cli/format';
import { openDatabase } from '../src/db/client';
import { updateNumber } from '../src/db/numbers';
import { ensureDevServer } from '../tools/temporal-binaries';
import { DEMO_PHONE_NUMBER_ID, DEMO_TOPIC_ARN, startEmulator } from '../src/emulator';
import { startIngestForEmulator } from '../tools/ingest-for-emulator';
import { createSocialMessagingClient } from '../src/platform/aws-client';
import { logger } from '../src/shared/logger';
import { createWorker } from '../src/worker/create-worker';
import { auditSendLog, fetchSendLog } from '../tools/send-log-audit';

const RECIPIENTS = 2_000;
const TIER = 1_000;
const TIER_WINDOW_MS = 20_000;
const MPS = 80;

async function main(): Promise<void> {
  const dataDir = path.resolve(process.env.WA_DATA_DIR ?? '.data');
  const demoDir = path.join(dataDir, 'demo');
  mkdirSync(demoDir, { recursive: true });
  logger.level = process.env.LOG_LEVEL ?? 'error';
  Runtime.install({ logger: new DefaultLogger('WARN') });

  step('starting the platform emulator');
  // A short rolling tier window so the demo shows the engine waiting for budget and carrying on by itself.
  const emulator = await startEmulator({
    config: {
      rules: {
        throughputMps: MPS,
        messagingLimit: { tier: 'TIER_1K', windowMs: TIER_WINDOW_MS },
        delivery: { deliveredDelayMs: [200, 1_500], readDelayMs: [500, 4_000] },
      },
    },
    logger,
  });
  // The engine reaches the emulator only through the AWS SDK's standard endpoint setting.
  process.env.AWS_ENDPOINT_URL_SOCIALMESSAGING = emulator.url;
  process.env.AWS_REGION ??= 'us-east-1';
  process.env.AWS_ACCESS_KEY_ID ??= 'demo';
  process.env.AWS_SECRET_ACCESS_KEY ??= 'demo';

  step('starting a Temporal dev server');
  const devServer = await ensureDevServer();
  const env = await TestWorkflowEnvironment.createLocal({
    server: { executable: devServer.executable, ui: false },
  });

  step(`opening the embedded database in ${dataDir}`);
  const database = await openDatabase({ url: process.env.DATABASE_URL, dataDir });
  await updateNumber(database.db, DEMO_PHONE_NUMBER_ID, {
    mps: MPS,
    tierLimit: TIER,
    tierWindowSeconds: TIER_WINDOW_MS / 1000,
  });

  const socialMessaging = createSocialMessagingClient();
  const taskQueue = 'wa-campaigns-demo';
  const worker = await createWorker({
    connection: env.nativeConnection,
    namespace: env.namespace ?? 'default',
    taskQueue,
    handleSignals: false,
    deps: { db: database.db, socialMessaging, logger },
  });
  const campaigns = new CampaignClient({ db: database.db, temporal: env.client, socialMessaging, taskQueue });

  step('starting the event-ingest service and subscribing it to the WABA topic');
  const ingest = await startIngestForEmulator({
    db: database.db,
    temporal: env.client,
    taskQueue,
    emulatorUrl: emulator.url,
    topicArn: DEMO_TOPIC_ARN,
    logger,
  });

  try {
    await worker.runUntil(async () => {
      const file = writeDemoRecipients(demoDir);
      step(`starting campaign spring_sale/en_US to ${path.relative(process.cwd(), file)}`);
      const started = await campaigns.start({
        templateName: 'spring_sale',
        templateLanguage: 'en_US',
        phoneNumberId: DEMO_PHONE_NUMBER_ID,
        recipientsFile: file,
        name: 'demo',
      });
      console.log(
        `  campaign ${started.campaignId}: ${started.accepted} accepted, ${started.rejected} rejected`,
      );
      for (const r of started.rejections) console.log(`    line ${r.line}: ${r.reason}`);
      console.log(`  tier ${TIER} users per ${TIER_WINDOW_MS / 1000} s window, ${MPS} messages/s`);
      await watchCampaign(campaigns, started.campaignId, 500);
      step('waiting for the last delivery and read receipts');
      const final = await settle(campaigns, started.campaignId);
      console.log(`\n${formatStatus(final)}`);

      const audit = auditSendLog(await fetchSendLog(emulator.url), {
        mps: MPS,
        tier: TIER,
        tierWindowMs: TIER_WINDOW_MS,
      });
      const refused = (await (await fetch(`${emulator.url}/_emulator/rejections?limit=100000`)).json()) as {
        items: { code: number | null }[];
      };
      console.log(
        `\nemulator send log: ${audit.sends} messages, busiest second ${audit.maxPerSecond}/${MPS}, ` +
          `busiest tier window ${audit.maxPerTierWindow}/${TIER} users, ${audit.duplicates} recipients messaged twice, ` +
          `${refused.items.length} sends refused by the platform`,
      );
      if (!audit.ok) throw new Error(`the send log broke a platform limit: ${audit.problems.join('; ')}`);
      console.log('demo finished: every limit held.');
    });
  } finally {
    await ingest.close();
    await database.close();
    await env.teardown();
    await emulator.close();
  }
}

/** Status events trickle in after the last send: wait until the counts stop moving (at most 30 s). */
async function settle(campaigns: CampaignClient, campaignId: string) {
  let last = '';
  let stableSince = Date.now();
  const started = Date.now();
  for (;;) {
    const status = await campaigns.status(campaignId);
    const key = JSON.stringify(status.counts);
    if (key !== last) {
      last = key;
      stableSince = Date.now();
    }
    if (Date.now() - stableSince >= 5_000 || Date.now() - started >= 30_000) return status;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

function step(text: string): void {
  console.log(`» ${text}`);
}

/** 2,000 good rows plus a few a marketer would really send: duplicates, a typo, a missing parameter. */
function writeDemoRecipients(dir: string): string {
  const lines = ['phone,discount,timezone'];
  for (let i = 0; i < RECIPIENTS; i++) {
    lines.push(`+4915${String(120000000 + i)},${10 + (i % 5) * 5}%,Europe/Berlin`);
  }
  lines.push('+4915120000007,15%,Europe/Berlin');
  lines.push('+4915120000011,20%,Europe/Berlin');
  lines.push('0151 2345,10%,');
  lines.push('+4915129999999,,');
  lines.push('+44 20 7946 0958,25%,Mars/Base');
  const file = path.join(dir, 'recipients.csv');
  writeFileSync(file, `${lines.join('\n')}\n`);
  return file;
}

main().catch((err: unknown) => {
  console.error(`demo failed: ${err instanceof Error ? err.message : String(err)}`);
  if (process.env.DEBUG) console.error(err);
  process.exit(1);
});
