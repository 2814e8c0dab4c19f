/**
 * A 1,000,000-recipient campaign at 1,000 messages/s, with the worker as its own process
 * (`wa-campaigns worker`, configured by environment as ops run it), so its memory and CPU are its own.
 * The list is imported by the client (streamed into PostgreSQL), the campaign runs for a fixed time
 * (BENCH_SCALE_SECONDS, default 60; sending all of it would take 17 minutes) and is then cancelled.
 * Sampled every second: the worker's RSS and CPU time, and the campaign's progress. Reported: the send
 * rate with a million-row list, the worker's CPU-seconds and the Temporal history events per 1,000
 * messages, and whether the worker's memory stays flat while the list is worked through.
 *
 * Run alone: `tsx bench/scale.ts` (BENCH_SCALE_RECIPIENTS changes the list size). WA_SERVICE_NODE_OPTIONS
 * passes Node flags to the worker process only, e.g. `--max-old-space-size=256` to trade rate for memory.
 */
import { createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { CampaignClient } from '../src/client/campaign-client';
import { openDatabase, type Database } from '../src/db/client';
import { updateNumber } from '../src/db/numbers';
import { DEMO_PHONE_NUMBER_ID } from '../src/emulator';
import { campaignWorkflowId } from '../src/shared/ids';
import { startWorkerProcess, type ChildHandle } from '../test/helpers/services';
import {
  clientFor,
  historyEvents,
  phone,
  round,
  runAsScript,
  withBenchHarness,
  worldAt,
  type BenchRow,
} from './engine-pacing';
import { startEmulatorProcess } from './emulator-process';
import { procMemory, procStat } from './proc';

const MPS = 1_000;

interface Sample {
  atS: number;
  rssMb: number;
  cpuS: number;
  sent: number;
}

/** RSS (MB) and CPU seconds (user + system) of a process, from /proc. */
function processFigures(pid: number): { rssMb: number; cpuS: number } {
  return { rssMb: procMemory(pid)?.rssMb ?? Number.NaN, cpuS: procStat(pid)?.cpuS ?? Number.NaN };
}

async function writeList(file: string, n: number): Promise<void> {
  const out = createWriteStream(file);
  out.write('phone\n');
  for (let i = 0; i < n; i++) {
    if (!out.write(`${phone(i)}\n`)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
}

export async function benchScale(): Promise<BenchRow[]> {
  const recipients = Number(process.env.BENCH_SCALE_RECIPIENTS ?? 1_000_000);
  const seconds = Number(process.env.BENCH_SCALE_SECONDS ?? 60);
  return withBenchHarness(async ({ env, databaseUrl }) => {
    const dir = mkdtempSync(path.join(tmpdir(), 'wa-bench-scale-'));
    const emulator = await startEmulatorProcess(worldAt(MPS));
    const database = await openDatabase({ url: databaseUrl, maxConnections: 4 });
    const taskQueue = `bench-scale-${randomUUID()}`;
    const worker = await startWorkerProcess({
      temporalAddress: env.address,
      databaseUrl,
      emulatorUrl: emulator.url,
      taskQueue,
    });
    try {
      return await measure(env, database.db, emulator.url, taskQueue, worker, dir, recipients, seconds);
    } finally {
      await worker.stop();
      await database.close();
      await emulator.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

async function measure(
  env: TestWorkflowEnvironment,
  db: Database,
  emulatorUrl: string,
  taskQueue: string,
  worker: ChildHandle,
  dir: string,
  recipients: number,
  seconds: number,
): Promise<BenchRow[]> {
  {
    await updateNumber(db, DEMO_PHONE_NUMBER_ID, { mps: MPS, tierLimit: null });
    const campaigns = new CampaignClient({
      db,
      temporal: env.client,
      socialMessaging: clientFor(emulatorUrl),
      taskQueue,
    });
    const file = path.join(dir, 'recipients.csv');
    await writeList(file, recipients);
    const pid = worker.child.pid;
    if (pid === undefined) throw new Error('the worker process has no pid');

    const idleRssMb = processFigures(pid).rssMb;
    const importStarted = performance.now();
    const started = await campaigns.start({
      templateName: 'hello_world',
      templateLanguage: 'en_US',
      phoneNumberId: DEMO_PHONE_NUMBER_ID,
      recipientsFile: file,
    });
    const importSeconds = (performance.now() - importStarted) / 1000;
    process.stderr.write(
      `  imported ${started.accepted} recipients in ${importSeconds.toFixed(1)} s; sending for ${seconds} s\n`,
    );

    const samples: Sample[] = [];
    const began = performance.now();
    for (let i = 0; i <= seconds; i++) {
      // The platform's count (cheap); counting a million rows by state every second would load the
      // database the campaign is using.
      const page = (await (await fetch(`${emulatorUrl}/_emulator/sends?since=0&limit=1`)).json()) as {
        total: number;
      };
      samples.push({ atS: (performance.now() - began) / 1000, ...processFigures(pid), sent: page.total });
      const wait = began + (i + 1) * 1000 - performance.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    }
    await campaigns.cancel(started.campaignId, 'benchmark over');
    const events = await historyEvents(env, campaignWorkflowId(started.campaignId));

    // Steady state: from 10 s in (the first chunks warm the worker up) to the end.
    const from = samples.find((s) => s.atS >= 10) ?? samples[0]!;
    const last = samples[samples.length - 1]!;
    const sent = last.sent - from.sent;
    const span = last.atS - from.atS;
    const rssEarly = Math.max(...samples.filter((s) => s.atS >= 10 && s.atS < 20).map((s) => s.rssMb));
    const rssLate = Math.max(...samples.filter((s) => s.atS >= last.atS - 10).map((s) => s.rssMb));
    const label = `${(recipients / 1e6).toLocaleString('en')}M-recipient campaign at ${MPS}/s`;
    return [
      { metric: `${label}: import`, value: Math.round(recipients / importSeconds), unit: 'rows/s' },
      {
        metric: `${label}: send rate / MPS (${Math.round(span)} s steady)`,
        value: round(sent / span / MPS),
        unit: 'ratio',
        target: '≥ 0.95',
      },
      {
        metric: `${label}: worker CPU per 1,000 msgs`,
        value: round(((last.cpuS - from.cpuS) / sent) * 1000),
        unit: 'CPU-s',
        target: '≤ 1',
      },
      {
        metric: `${label}: history events per 1,000 msgs`,
        value: round((events / last.sent) * 1000),
        unit: 'events',
        target: '≤ 20',
      },
      {
        metric: `${label}: worker peak RSS`,
        value: Math.round(Math.max(...samples.map((s) => s.rssMb))),
        unit: 'MB',
        target: '≤ 300',
      },
      { metric: `${label}: worker RSS before the campaign`, value: Math.round(idleRssMb), unit: 'MB' },
      {
        metric: `${label}: worker RSS growth, last 10 s vs 10-20 s`,
        value: Math.round(rssLate - rssEarly),
        unit: 'MB',
      },
    ];
  }
}

if (require.main === module) runAsScript(benchScale);
