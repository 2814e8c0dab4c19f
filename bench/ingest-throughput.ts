/**
 * Sustained durable ingest: how many signed SNS events per second the ingest service stores and
 * applies (2xx only after commit), against a real PostgreSQL server when BENCH_DATABASE_URL is set,
 * else the embedded PGlite database.
 *
 * The load is what a campaign causes: for every message sent, `sent`, `delivered` and `read` statuses
 * (arriving interleaved, each in its own SNS message, as AWS publishes them) plus inbound replies from
 * 30 % of the users, i.e. 3.3 events per message sent (PLATFORM.md, "webhook capacity"). Every event is
 * signed with SignatureVersion 2 and verified by the service. The result is also given as a ratio to
 * the engine's top send rate (1,000 messages/s, a number's upgraded throughput, unless told otherwise):
 * Meta's advice needs at least 3.3×.
 *
 * Two phases after a warm-up. Saturation: a closed loop with 512 deliveries in flight (SNS opens as many
 * connections as an endpoint's answers allow, not a fixed handful), which gives the most events per
 * second the service stores. Open loop: deliveries sent on a schedule at 3.3 × the send rate whether
 * or not earlier ones were answered, as SNS publishes them, which shows that rate is kept up with and
 * at what latency. A throw-away server keeps PostgreSQL's durability settings for this benchmark, and
 * the log says whether commits reached the disk.
 *
 * With a server database the service runs as `wa-campaigns ingest` in its own process, as deployed,
 * and this process only generates load; with PGlite (one process only) it runs in this process.
 *
 * Run alone: `BENCH_DATABASE_URL=postgres://… tsx bench/ingest-throughput.ts`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { sql } from 'drizzle-orm';
import { Pool } from 'undici';
import { openDatabase, type DatabaseHandle } from '../src/db/client';
import { num, queryRows } from '../src/db/query';
import { startIngestService } from '../src/ingest/service';
import { procMemory, procStat, treeCpuSeconds } from './proc';
import { bizOpaqueCallbackData } from '../src/shared/ids';
import { TOPIC_ARN, inboundChange, platformMessage, statusChange } from '../test/ingest/helpers/events';
import { CertServer, makeSigner, signSns, type TestSigner } from '../test/ingest/helpers/sns-signing';
import { quietLogger } from '../test/helpers/logger';

export interface BenchResult {
  metric: string;
  value: number;
  unit: string;
  target?: string;
}

export interface IngestBenchOptions {
  /** A postgres:// URL; default BENCH_DATABASE_URL, else the embedded database. */
  databaseUrl?: string;
  /** Messages whose statuses are ingested (3.3 events each). */
  messages?: number;
  /** SNS deliveries in flight at once. */
  concurrency?: number;
  /** Group-commit transactions in flight in the service. */
  lanes?: number;
  /**
   * Share of messages that fail with 131049 (one `failed` status instead of sent, delivered, read);
   * default BENCH_INGEST_FAILED_SHARE, else 0.
   */
  failedShare?: number;
  /** The engine's top send rate (messages/s) the ingest rate is compared with. */
  sendRate?: number;
  log?: (line: string) => void;
}

const REQUIRED_RATIO = 3.3;

/** The SNS bodies of a campaign's events, in a realistic interleaving. */
/** Whether message `seq` fails (131049, the per-user marketing limit) for a failed share `share`. */
const fails = (seq: number, share: number): boolean =>
  Math.floor((seq + 1) * share) > Math.floor(seq * share);

function buildEvents(
  campaignId: string,
  messages: number,
  signer: TestSigner,
  certUrl: string,
  failedShare: number,
): string[] {
  const sign = (message: string): string => {
    const fields: Record<string, string> = {
      Type: 'Notification',
      MessageId: randomUUID(),
      TopicArn: TOPIC_ARN,
      Message: message,
      Timestamp: new Date().toISOString(),
      SignatureVersion: '2',
      SigningCertURL: certUrl,
    };
    fields.Signature = signSns(fields, signer, '2');
    fields.UnsubscribeURL = 'https://sns.eu-west-1.amazonaws.com/?Action=Unsubscribe';
    return JSON.stringify(fields);
  };
  const status = (seq: number, s: string) =>
    sign(
      platformMessage([
        statusChange({
          id: `wamid.bench.${campaignId}.${seq}`,
          status: s,
          recipient: `44${String(seq).padStart(10, '0')}`,
          biz: bizOpaqueCallbackData(campaignId, seq),
          ...(s === 'failed'
            ? {
                errors: [
                  {
                    code: 131049,
                    title: 'This message was not delivered to maintain healthy ecosystem engagement.',
                  },
                ],
              }
            : { pricing: { billable: true, pricing_model: 'CBP', category: 'marketing', type: 'regular' } }),
        }),
      ]),
    );
  const bodies: string[] = [];
  // Delivery and reading trail sending, so at any moment all three kinds arrive mixed. A failed message
  // has one status, `failed`, where its `delivered` would have been.
  const lag = 200;
  for (let i = 0; i < messages + 2 * lag; i++) {
    if (i < messages && !fails(i, failedShare)) bodies.push(status(i, 'sent'));
    if (i - lag >= 0 && i - lag < messages)
      bodies.push(status(i - lag, fails(i - lag, failedShare) ? 'failed' : 'delivered'));
    if (i - 2 * lag >= 0 && i - 2 * lag < messages && !fails(i - 2 * lag, failedShare)) {
      const seq = i - 2 * lag;
      bodies.push(status(seq, 'read'));
      if (seq % 10 < 3) {
        const from = `44${String(seq).padStart(10, '0')}`;
        bodies.push(
          sign(
            platformMessage([
              inboundChange({ from, id: `wamid.reply.${campaignId}.${seq}`, text: 'thanks!' }),
            ]),
          ),
        );
      }
    }
  }
  return bodies;
}

async function seed(handle: DatabaseHandle, campaignId: string, messages: number): Promise<void> {
  await handle.db.execute(
    sql`insert into campaigns (id, template_name, template_language, category, phone_number_id, state, total)
        values (${campaignId}, 'bench_template', 'en_US', 'MARKETING', 'phone-number-id-bench', 'running', ${messages})`,
  );
  await handle.db.execute(
    sql`insert into recipients (campaign_id, seq, phone, state, attempts, message_id, sent_at)
        select ${campaignId}, g, '+44' || lpad(g::text, 10, '0'), 'sent', 1,
               'wamid.bench.' || ${campaignId} || '.' || g, now()
        from generate_series(0, ${messages - 1}) g`,
  );
  // A production database has statistics; without them the planner guesses table sizes.
  await handle.db.execute(sql`analyze`);
}

/** Starts `wa-campaigns ingest` as its own process and returns its port once it listens. */
async function startServiceProcess(env: NodeJS.ProcessEnv): Promise<{ child: ChildProcess; port: number }> {
  const root = path.resolve(__dirname, '..');
  // BENCH_SERVICE_NODE_ARGS, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof", profiles the service process.
  const nodeArgs = process.env.BENCH_SERVICE_NODE_ARGS?.split(' ').filter(Boolean) ?? [];
  const args = [
    ...nodeArgs,
    '--import',
    'tsx',
    'src/cli/main.ts',
    'ingest',
    '--port',
    '0',
    '--host',
    '127.0.0.1',
  ];
  const child = spawn(process.execPath, args, {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`ingest service did not start: ${out}`)), 60_000);
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const match = /"port":(\d+)[^\n]*"msg":"ingest service listening"/.exec(out);
      if (match?.[1]) {
        clearTimeout(timer);
        resolve(Number(match[1]));
      }
    });
    child.once('exit', (code) => reject(new Error(`ingest service exited with ${code}: ${out}`)));
  });
  return { child, port };
}

/**
 * The load generator's HTTP client: undici's connection pool, much lighter than node:http's client, so
 * that less of this machine's CPU goes to making the load and more to the service being measured.
 */
function deliveries(
  port: number,
  connections: number,
): { post: (body: string) => Promise<number>; close: () => Promise<void> } {
  const pool = new Pool(`http://127.0.0.1:${port}`, { connections, pipelining: 1 });
  return {
    post: async (body) => {
      const res = await pool.request({
        path: '/sns',
        method: 'POST',
        headers: { 'content-type': 'text/plain' },
        body,
      });
      await res.body.dump();
      return res.statusCode;
    },
    close: () => pool.close(),
  };
}

interface DriveResult {
  latencies: number[];
  failures: number;
  seconds: number;
  /** Most deliveries in flight at once. */
  mostInFlight: number;
}

/** Closed loop: POSTs every body with `concurrency` requests in flight, each sent when one answers. */
async function drive(port: number, bodies: string[], concurrency: number): Promise<DriveResult> {
  const client = deliveries(port, concurrency);
  const latencies: number[] = [];
  let failures = 0;
  let next = 0;
  const started = performance.now();
  const workers = Array.from({ length: concurrency }, async () => {
    for (;;) {
      const i = next++;
      const body = bodies[i];
      if (body === undefined) return;
      const sent = performance.now();
      const status = await client.post(body);
      latencies.push(performance.now() - sent);
      if (status !== 200) failures++;
    }
  });
  await Promise.all(workers);
  await client.close();
  return {
    latencies,
    failures,
    seconds: (performance.now() - started) / 1000,
    mostInFlight: Math.min(concurrency, bodies.length),
  };
}

/**
 * Open loop, as SNS delivers: body i is sent at start + i / rate whether or not earlier ones have been
 * answered, so a service that cannot keep up shows it as growing latency and deliveries in flight
 * (capped at `maxInFlight`, after which the load falls behind its schedule and the rate achieved drops).
 */
async function driveAtRate(
  port: number,
  bodies: string[],
  rate: number,
  maxInFlight: number,
): Promise<DriveResult> {
  const client = deliveries(port, maxInFlight);
  const latencies: number[] = [];
  let failures = 0;
  let sent = 0;
  let inFlight = 0;
  let mostInFlight = 0;
  const started = performance.now();
  await new Promise<void>((resolve, reject) => {
    if (bodies.length === 0) return resolve();
    const send = (i: number): void => {
      inFlight++;
      mostInFlight = Math.max(mostInFlight, inFlight);
      // Latency counts from when the delivery was due, so a load that falls behind is not hidden.
      const due = started + (i * 1000) / rate;
      client.post(bodies[i]!).then((status) => {
        latencies.push(performance.now() - due);
        if (status !== 200) failures++;
        inFlight--;
        if (sent === bodies.length && inFlight === 0) resolve();
      }, reject);
    };
    const tick = (): void => {
      const due = Math.min(bodies.length, Math.floor(((performance.now() - started) / 1000) * rate));
      while (sent < due && inFlight < maxInFlight) send(sent++);
      if (sent < bodies.length) setTimeout(tick, 2);
    };
    tick();
  });
  await client.close();
  return { latencies, failures, seconds: (performance.now() - started) / 1000, mostInFlight };
}

/**
 * The local PostgreSQL server behind `handle`: its postmaster's pid, found as the parent of this
 * connection's backend; undefined when the server runs elsewhere.
 */
async function localPostmaster(handle: DatabaseHandle): Promise<number | undefined> {
  const [row] = await queryRows<{ pid: unknown }>(handle.db, sql`select pg_backend_pid() as pid`);
  const backend = procStat(num(row?.pid));
  return backend?.name === 'postgres' ? backend.ppid : undefined;
}

/** CPU seconds a process has used so far (Linux), for the cost per event. */
const cpuSeconds = (pid: number): number => procStat(pid)?.cpuS ?? Number.NaN;

/** CPU seconds used so far by a local PostgreSQL server: the postmaster and its children. */
const postgresCpuSeconds = (postmaster: number | undefined): number =>
  postmaster === undefined ? 0 : treeCpuSeconds(postmaster);

/** Whether the server's commits reach the disk before they return (fsync and synchronous_commit). */
async function commitDurability(handle: DatabaseHandle): Promise<string> {
  const [row] = await queryRows<{ fsync: string; sync: string }>(
    handle.db,
    sql`select current_setting('fsync') as fsync, current_setting('synchronous_commit') as sync`,
  );
  return row?.fsync === 'on' && row.sync !== 'off'
    ? 'flushed to disk (fsync on, synchronous_commit on)'
    : `NOT flushed (fsync ${row?.fsync}, synchronous_commit ${row?.sync})`;
}

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? 0;

/** CPU used by the service, the load generator and a local PostgreSQL while `work` runs. */
async function measured<T>(
  servicePid: number,
  postmaster: number | undefined,
  work: () => Promise<T>,
): Promise<{ result: T; serviceCpu: number; loadCpu: number; postgresCpu: number }> {
  const serviceBefore = cpuSeconds(servicePid);
  const postgresBefore = postgresCpuSeconds(postmaster);
  const loadBefore = process.cpuUsage();
  const result = await work();
  const load = process.cpuUsage(loadBefore);
  return {
    result,
    serviceCpu: cpuSeconds(servicePid) - serviceBefore,
    loadCpu: (load.user + load.system) / 1e6,
    postgresCpu: postgresCpuSeconds(postmaster) - postgresBefore,
  };
}

export async function benchIngestThroughput(opts: IngestBenchOptions = {}): Promise<BenchResult[]> {
  const url = opts.databaseUrl ?? process.env.BENCH_DATABASE_URL ?? undefined;
  const messages = opts.messages ?? (url ? 20_000 : 1_500);
  const concurrency = opts.concurrency ?? (url ? 512 : 128);
  const failedShare = opts.failedShare ?? Number(process.env.BENCH_INGEST_FAILED_SHARE ?? 0);
  const sendRate = opts.sendRate ?? 1_000;
  const offered = REQUIRED_RATIO * sendRate;
  const log = opts.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const campaignId = `bench-${Date.now().toString(36)}`;

  const handle = await openDatabase(url ? { url, maxConnections: 4 } : { dataDir: 'memory://' });
  const certs = await new CertServer().start();
  const signer = makeSigner();
  certs.certs.set('bench', signer.certPem);
  let stop: () => Promise<void> = async () => {};
  try {
    await seed(handle, campaignId, messages);
    const bodies = buildEvents(campaignId, messages, signer, certs.certUrl('bench'), failedShare);
    let failed = 0;
    for (let seq = 0; seq < messages; seq++) if (fails(seq, failedShare)) failed++;
    let port: number;
    let servicePid = process.pid;
    if (url) {
      const { child, port: childPort } = await startServiceProcess({
        DATABASE_URL: url,
        WA_INGEST_TOPIC_ARNS: TOPIC_ARN,
        WA_INGEST_TRUSTED_CERT_URLS: certs.certUrl('bench'),
        WA_INGEST_DB_CONNECTIONS: '24',
        WA_INGEST_LANES: String(opts.lanes ?? 2),
        TEMPORAL_ADDRESS: '127.0.0.1:1',
        LOG_LEVEL: 'info',
      });
      port = childPort;
      servicePid = child.pid ?? process.pid;
      stop = async () => {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        await exited;
      };
    } else {
      const service = await startIngestService({
        db: handle.db,
        host: '127.0.0.1',
        port: 0,
        allowedTopicArns: [TOPIC_ARN],
        trustedCertUrls: [certs.certUrl('bench')],
        logger: quietLogger,
      });
      port = service.port;
      stop = () => service.close();
    }
    // Warm-up: certificate fetch, connection pools, and the JIT, which otherwise spends the first few
    // seconds compiling. A long-running service is measured in its steady state.
    await drive(port, bodies.splice(0, url ? 4_000 : 400), concurrency);
    const durability = await commitDurability(handle);
    const storageBefore = await storageBytes(handle);
    const postmaster = url ? await localPostmaster(handle) : undefined;
    // The rest in two halves, in order (a message's statuses keep their order): one as fast as the
    // service answers, one at the rate Meta asks to plan for.
    const saturationBodies = bodies.splice(0, Math.floor(bodies.length / 2));
    const openLoopBodies = bodies;

    const describe = (
      phase: string,
      events: number,
      run: Awaited<ReturnType<typeof measured<DriveResult>>>,
    ): { rate: number; p50: number; p99: number } => {
      const { latencies, failures, seconds, mostInFlight } = run.result;
      if (failures > 0) throw new Error(`${failures} of ${events} deliveries were not acknowledged with 200`);
      const rate = events / seconds;
      latencies.sort((a, b) => a - b);
      const p50 = percentile(latencies, 0.5);
      const p99 = percentile(latencies, 0.99);
      const perEvent = (cpu: number) => `${((cpu * 1000) / events).toFixed(3)} ms`;
      // With PGlite the service runs in this process: one figure for both.
      const cpu =
        servicePid === process.pid
          ? `service and load generator ${perEvent(run.loadCpu)}`
          : `service ${perEvent(run.serviceCpu)}, load generator ${perEvent(run.loadCpu)}, ` +
            `local PostgreSQL ${perEvent(run.postgresCpu)}; service CPU ${(run.serviceCpu / seconds).toFixed(2)} cores`;
      log(
        `ingest bench, ${phase}: ${rate.toFixed(0)} events/s, p50 ${p50.toFixed(1)} ms, p99 ${p99.toFixed(1)} ms, ` +
          `at most ${mostInFlight} in flight; CPU per event: ${cpu}`,
      );
      return { rate, p50, p99 };
    };

    log(
      `ingest bench: ${saturationBodies.length} + ${openLoopBodies.length} events on ` +
        `${url ? 'PostgreSQL' : 'PGlite'}, commits ${durability}`,
    );
    const saturation = describe(
      `${concurrency} in flight`,
      saturationBodies.length,
      await measured(servicePid, postmaster, () => drive(port, saturationBodies, concurrency)),
    );
    const openLoop = describe(
      `offered ${offered} events/s`,
      openLoopBodies.length,
      await measured(servicePid, postmaster, () => driveAtRate(port, openLoopBodies, offered, 4_000)),
    );

    const [check] = await queryRows<{ statuses: unknown; read: unknown; failed: unknown }>(
      handle.db,
      sql`select (select count(*) from message_statuses where message_id like ${`wamid.bench.${campaignId}.%`}) as statuses,
                 (select count(*) from recipients where campaign_id = ${campaignId} and state = 'read') as read,
                 (select count(*) from recipients where campaign_id = ${campaignId} and error_code = 131049) as failed`,
    );
    if (
      num(check?.statuses) !== (messages - failed) * 3 + failed ||
      num(check?.read) !== messages - failed ||
      num(check?.failed) !== failed
    ) {
      throw new Error(`bench data incomplete: ${JSON.stringify(check)} for ${messages} messages`);
    }
    // Disk the measured events took (tables and indexes), before any vacuum: what retention has to plan for.
    const storageAfter = await storageBytes(handle);
    const measuredEvents = saturationBodies.length + openLoopBodies.length;
    const perEvent = (storageAfter.total - storageBefore.total) / measuredEvents;
    const archivePerEvent = (storageAfter.archive - storageBefore.archive) / measuredEvents;
    log(
      `ingest bench: ${perEvent.toFixed(0)} bytes of database per event, ${archivePerEvent.toFixed(0)} of them ` +
        `in the archive (events_raw); at ${offered} events/s a day adds ${((perEvent * offered * 86_400) / 1e9).toFixed(0)} GB`,
    );
    const db = url ? 'postgres' : 'pglite';
    const rss = servicePid === process.pid ? Number.NaN : (procMemory(servicePid)?.peakRssMb ?? Number.NaN);
    if (!Number.isNaN(rss)) log(`ingest bench: service peak RSS ${rss.toFixed(0)} MB`);
    return [
      {
        metric: `ingest_events_per_second_${db}`,
        value: Math.round(saturation.rate),
        unit: `events/s, ${concurrency} in flight`,
        target: `>= ${offered}`,
      },
      {
        metric: `ingest_ratio_to_send_rate_${db}`,
        value: Number((saturation.rate / sendRate).toFixed(2)),
        unit: `x ${sendRate} msg/s`,
        target: `>= ${REQUIRED_RATIO}`,
      },
      {
        metric: `ingest_latency_p99_${db}`,
        value: Number(saturation.p99.toFixed(1)),
        unit: `ms, ${concurrency} in flight`,
      },
      {
        metric: `ingest_open_loop_events_per_second_${db}`,
        value: Math.round(openLoop.rate),
        unit: `events/s, ${offered} offered`,
        // The last answers arrive after the last delivery is sent: a run that keeps pace ends within
        // a few hundred ms of its schedule, about 0.97-0.99 of the offered rate over this run's length.
        target: `>= ${Math.round(offered * 0.97)}`,
      },
      {
        metric: `ingest_open_loop_latency_p50_${db}`,
        value: Number(openLoop.p50.toFixed(1)),
        unit: `ms, ${offered} events/s offered`,
      },
      {
        metric: `ingest_open_loop_latency_p99_${db}`,
        value: Number(openLoop.p99.toFixed(1)),
        unit: `ms, ${offered} events/s offered`,
      },
      {
        metric: `ingest_storage_bytes_per_event_${db}`,
        value: Math.round(perEvent),
        unit: 'bytes (tables and indexes)',
      },
      {
        metric: `ingest_archive_bytes_per_event_${db}`,
        value: Math.round(archivePerEvent),
        unit: 'bytes (events_raw and its indexes)',
      },
      ...(Number.isNaN(rss)
        ? []
        : [{ metric: 'ingest_service_peak_rss', value: Math.round(rss), unit: 'MB' }]),
    ];
  } finally {
    await stop();
    await certs.close();
    await handle.db
      .execute(sql`delete from recipients where campaign_id = ${campaignId}`)
      .catch(() => undefined);
    await handle.close();
  }
}

/** Size of the database and of the archive table, indexes and TOAST included. */
async function storageBytes(handle: DatabaseHandle): Promise<{ total: number; archive: number }> {
  const [row] = await queryRows<{ total: unknown; archive: unknown }>(
    handle.db,
    sql`select pg_database_size(current_database()) as total, pg_total_relation_size('events_raw') as archive`,
  );
  return { total: num(row?.total), archive: num(row?.archive) };
}

if (require.main === module) {
  benchIngestThroughput()
    .then((results) => {
      for (const r of results) console.log(JSON.stringify(r));
    })
    .catch((err: unknown) => {
      console.error(err);
      process.exit(1);
    });
}
