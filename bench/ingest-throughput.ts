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
 * With a server database the service runs as `wa-campaigns ingest` in its own process, as deployed,
 * and this process only generates load; with PGlite (one process only) it runs in this process.
 *
 * Run alone: `BENCH_DATABASE_URL=postgres://… tsx bench/ingest-throughput.ts`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { sql } from 'drizzle-orm';
import pino from 'pino';
import { openDatabase, type DatabaseHandle } from '../src/db/client';
import { num, queryRows } from '../src/db/query';
import { startIngestService } from '../src/ingest/service';
import { bizOpaqueCallbackData } from '../src/shared/ids';
import { TOPIC_ARN, inboundChange, platformMessage, statusChange } from '../test/ingest/helpers/events';
import { CertServer, makeSigner, signSns, type TestSigner } from '../test/ingest/helpers/sns-signing';

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
  /** The engine's top send rate (messages/s) the ingest rate is compared with. */
  sendRate?: number;
  log?: (line: string) => void;
}

const REQUIRED_RATIO = 3.3;

/** The SNS bodies of a campaign's events, in a realistic interleaving. */
function buildEvents(campaignId: string, messages: number, signer: TestSigner, certUrl: string): string[] {
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
          pricing: { billable: true, pricing_model: 'CBP', category: 'marketing', type: 'regular' },
        }),
      ]),
    );
  const bodies: string[] = [];
  // Delivery and reading trail sending, so at any moment all three kinds arrive mixed.
  const lag = 200;
  for (let i = 0; i < messages + 2 * lag; i++) {
    if (i < messages) bodies.push(status(i, 'sent'));
    if (i - lag >= 0 && i - lag < messages) bodies.push(status(i - lag, 'delivered'));
    if (i - 2 * lag >= 0 && i - 2 * lag < messages) {
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

/** POSTs every body with `concurrency` requests in flight; returns per-request latencies (ms). */
async function drive(
  port: number,
  bodies: string[],
  concurrency: number,
): Promise<{ latencies: number[]; failures: number }> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const latencies: number[] = [];
  let failures = 0;
  let next = 0;
  const post = (body: string) =>
    new Promise<number>((resolve, reject) => {
      const req = http.request(
        {
          host: '127.0.0.1',
          port,
          path: '/sns',
          method: 'POST',
          agent,
          headers: { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body) },
        },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  const workers = Array.from({ length: concurrency }, async () => {
    for (;;) {
      const i = next++;
      const body = bodies[i];
      if (body === undefined) return;
      const started = performance.now();
      const status = await post(body);
      latencies.push(performance.now() - started);
      if (status !== 200) failures++;
    }
  });
  await Promise.all(workers);
  agent.destroy();
  return { latencies, failures };
}

/** CPU seconds a process has used so far (Linux), for the cost per event. */
function cpuSeconds(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return Number.NaN;
  }
}

/** CPU seconds used so far by local PostgreSQL server processes (0 when the server is elsewhere). */
function postgresCpuSeconds(): number {
  let total = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (!stat.includes('(postgres)')) continue;
      const fields = stat.split(') ')[1]?.split(' ') ?? [];
      total += (Number(fields[11]) + Number(fields[12])) / 100;
    } catch {
      // The process ended meanwhile.
    }
  }
  return total;
}

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? 0;

export async function benchIngestThroughput(opts: IngestBenchOptions = {}): Promise<BenchResult[]> {
  const url = opts.databaseUrl ?? process.env.BENCH_DATABASE_URL ?? undefined;
  const messages = opts.messages ?? (url ? 6_000 : 1_500);
  const concurrency = opts.concurrency ?? 128;
  const sendRate = opts.sendRate ?? 1_000;
  const log = opts.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const campaignId = `bench-${Date.now().toString(36)}`;

  const handle = await openDatabase(url ? { url, maxConnections: 4 } : { dataDir: 'memory://' });
  const certs = await new CertServer().start();
  const signer = makeSigner();
  certs.certs.set('bench', signer.certPem);
  let stop: () => Promise<void> = async () => {};
  try {
    await seed(handle, campaignId, messages);
    const bodies = buildEvents(campaignId, messages, signer, certs.certUrl('bench'));
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
        logger: pino({ level: 'silent' }),
      });
      port = service.port;
      stop = () => service.close();
    }
    // Warm-up: certificate fetch, connection pools, JIT.
    await drive(port, bodies.splice(0, 200), concurrency);

    log(
      `ingest bench: ${bodies.length} events on ${url ? 'PostgreSQL' : 'PGlite'}, ${concurrency} in flight`,
    );
    const serviceCpuBefore = cpuSeconds(servicePid);
    const postgresCpuBefore = postgresCpuSeconds();
    const loadCpuBefore = process.cpuUsage();
    const started = performance.now();
    const { latencies, failures } = await drive(port, bodies, concurrency);
    const seconds = (performance.now() - started) / 1000;
    const loadCpu = process.cpuUsage(loadCpuBefore);
    const serviceCpu = cpuSeconds(servicePid) - serviceCpuBefore;
    const postgresCpu = postgresCpuSeconds() - postgresCpuBefore;
    if (failures > 0)
      throw new Error(`${failures} of ${bodies.length} deliveries were not acknowledged with 200`);

    const [check] = await queryRows<{ statuses: unknown; read: unknown }>(
      handle.db,
      sql`select (select count(*) from message_statuses where message_id like ${`wamid.bench.${campaignId}.%`}) as statuses,
                 (select count(*) from recipients where campaign_id = ${campaignId} and state = 'read') as read`,
    );
    if (num(check?.statuses) !== messages * 3 || num(check?.read) !== messages) {
      throw new Error(`bench data incomplete: ${JSON.stringify(check)} for ${messages} messages`);
    }
    const rate = bodies.length / seconds;
    latencies.sort((a, b) => a - b);
    log(
      `ingest bench: ${rate.toFixed(0)} events/s, p50 ${percentile(latencies, 0.5).toFixed(1)} ms, ` +
        `p99 ${percentile(latencies, 0.99).toFixed(1)} ms; CPU per event: service ` +
        `${((serviceCpu * 1000) / bodies.length).toFixed(3)} ms, load generator ` +
        `${((loadCpu.user + loadCpu.system) / 1000 / bodies.length).toFixed(3)} ms, local PostgreSQL ` +
        `${((postgresCpu * 1000) / bodies.length).toFixed(3)} ms`,
    );
    const db = url ? 'postgres' : 'pglite';
    return [
      {
        metric: `ingest_events_per_second_${db}`,
        value: Math.round(rate),
        unit: 'events/s',
        target: `>= ${REQUIRED_RATIO * sendRate}`,
      },
      {
        metric: `ingest_ratio_to_send_rate_${db}`,
        value: Number((rate / sendRate).toFixed(2)),
        unit: `x ${sendRate} msg/s`,
        target: `>= ${REQUIRED_RATIO}`,
      },
      {
        metric: `ingest_latency_p50_${db}`,
        value: Number(percentile(latencies, 0.5).toFixed(1)),
        unit: 'ms',
      },
      {
        metric: `ingest_latency_p99_${db}`,
        value: Number(percentile(latencies, 0.99).toFixed(1)),
        unit: 'ms',
      },
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
