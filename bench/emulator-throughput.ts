/**
 * Throughput of the emulator's SendWhatsAppMessage: the emulator runs in its own process (as
 * `wa-campaigns emulator`), and this process drives it, first over raw HTTP keep-alive connections
 * (the server's capacity: target ≥ 3,000 req/s), then through the real AWS SDK client. The world is configured so no platform rule refuses a send
 * (the point is the server's capacity, not WhatsApp's limits); status events are still scheduled.
 *
 * Run alone: `tsx bench/emulator-throughput.ts`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { SendWhatsAppMessageCommand, SocialMessagingClient } from '@aws-sdk/client-socialmessaging';
import { NodeHttpHandler } from '@smithy/node-http-handler';

const PHONE_ID = 'phone-number-id-00000000000000000000000000000b01';
const CONCURRENCY = 64;
const WARMUP_MS = 1_000;
const MEASURE_MS = 4_000;
const TARGET = '>= 3000 req/s';

export interface BenchResult {
  metric: string;
  value: number;
  unit: string;
  target?: string;
}

const benchConfig = {
  apiQuotas: { sendMessagePerSecond: 0, mediaPerSecond: 0 },
  rules: {
    throughputMps: 200_000,
    pairRate: { burst: 1_000_000 },
    messagingLimit: { tier: 'TIER_UNLIMITED' },
    delivery: { sentDelayMs: 10, deliveredDelayMs: 50, readDelayMs: 100 },
  },
  logs: { maxEvents: 50_000 },
  wabas: [
    {
      phoneNumbers: [{ id: PHONE_ID, displayPhoneNumber: '+1 555-010-0901' }],
      templates: [
        {
          name: 'order_update',
          language: 'en_US',
          category: 'UTILITY',
          body: 'Hi {{1}}, order {{2}} shipped.',
        },
      ],
    },
  ],
};

function message(i: number): string {
  return JSON.stringify({
    messaging_product: 'whatsapp',
    recipient_type: 'individual',
    to: `+4477009${String(i % 1_000_000).padStart(6, '0')}`,
    type: 'template',
    biz_opaque_callback_data: `bench:${i}`,
    template: {
      name: 'order_update',
      language: { policy: 'deterministic', code: 'en_US' },
      components: [
        {
          type: 'body',
          parameters: [
            { type: 'text', text: 'Ann' },
            { type: 'text', text: `A${i}` },
          ],
        },
      ],
    },
  });
}

async function startChild(configPath: string): Promise<{ child: ChildProcess; url: string }> {
  const root = resolve(__dirname, '..');
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'src/cli/main.ts', 'emulator', '--port', '0', '--config', configPath, '--seed', '7'],
    { cwd: root, env: { ...process.env, LOG_LEVEL: 'warn' }, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const url = await new Promise<string>((ok, fail) => {
    let out = '';
    const timer = setTimeout(() => fail(new Error(`emulator did not start: ${out}`)), 30_000);
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const m = /emulator ready at (http:\/\/\S+)/.exec(out);
      if (m?.[1]) {
        clearTimeout(timer);
        ok(m[1]);
      }
    });
    child.once('exit', (code) => fail(new Error(`emulator exited with ${code}: ${out}`)));
  });
  child.stdout?.resume();
  return { child, url };
}

/** Runs `worker` on CONCURRENCY lanes; counts completions inside the measuring window only. */
async function drive(worker: (i: number) => Promise<boolean>): Promise<{ rate: number; errors: number }> {
  let i = 0;
  let ok = 0;
  let errors = 0;
  const start = performance.now();
  const measureFrom = start + WARMUP_MS;
  const stopAt = measureFrom + MEASURE_MS;
  const lane = async (): Promise<void> => {
    while (performance.now() < stopAt) {
      const good = await worker(i++);
      const t = performance.now();
      if (t >= measureFrom && t < stopAt) {
        if (good) ok++;
        else errors++;
      }
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, lane));
  return { rate: Math.round(ok / (MEASURE_MS / 1000)), errors };
}

function rawSend(agent: http.Agent, url: URL, i: number): Promise<boolean> {
  const body = JSON.stringify({
    originationPhoneNumberId: PHONE_ID,
    message: Buffer.from(message(i)).toString('base64'),
    metaApiVersion: 'v20.0',
  });
  return new Promise((ok) => {
    const req = http.request(
      url,
      {
        method: 'POST',
        agent,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      },
      (res) => {
        res.resume();
        res.on('end', () => ok(res.statusCode === 200));
      },
    );
    req.on('error', () => ok(false));
    req.end(body);
  });
}

/** Measures SendWhatsAppMessage requests per second, raw HTTP and through the AWS SDK. */
export async function benchEmulatorThroughput(): Promise<BenchResult[]> {
  const dir = await mkdtemp(join(tmpdir(), 'emulator-bench-'));
  const configPath = join(dir, 'config.json');
  await writeFile(configPath, JSON.stringify(benchConfig));
  const { child, url } = await startChild(configPath);
  try {
    const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });
    const sendUrl = new URL('/v1/whatsapp/send', url);
    const raw = await drive((i) => rawSend(agent, sendUrl, i));
    agent.destroy();

    const client = new SocialMessagingClient({
      endpoint: url,
      region: 'us-east-1',
      credentials: { accessKeyId: 'bench', secretAccessKey: 'bench' },
      maxAttempts: 1,
      requestHandler: new NodeHttpHandler({
        httpAgent: new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY }),
      }),
    });
    const sdk = await drive(async (i) => {
      try {
        await client.send(
          new SendWhatsAppMessageCommand({
            originationPhoneNumberId: PHONE_ID,
            message: Buffer.from(message(1_000_000 + i)),
            metaApiVersion: 'v20.0',
          }),
        );
        return true;
      } catch {
        return false;
      }
    });
    client.destroy();

    return [
      {
        metric: 'emulator SendWhatsAppMessage, raw HTTP keep-alive (64 in flight)',
        value: raw.rate,
        unit: 'req/s',
        target: TARGET,
      },
      {
        metric: 'emulator SendWhatsAppMessage, raw HTTP errors',
        value: raw.errors,
        unit: 'requests',
        target: '0',
      },
      // The SDK client (SigV4 signing, middleware) costs several times what the emulator spends on a
      // request, so on two cores this figure measures the client; the raw figure measures the server.
      {
        metric:
          'emulator SendWhatsAppMessage via @aws-sdk/client-socialmessaging (64 in flight, client-bound)',
        value: sdk.rate,
        unit: 'req/s',
      },
      {
        metric: 'emulator SendWhatsAppMessage via SDK errors',
        value: sdk.errors,
        unit: 'requests',
        target: '0',
      },
    ];
  } finally {
    child.kill('SIGTERM');
    await rm(dir, { recursive: true, force: true });
  }
}

if (require.main === module) {
  benchEmulatorThroughput().then(
    (results) => {
      for (const r of results)
        console.log(`${r.metric}: ${r.value} ${r.unit}${r.target ? ` (target ${r.target})` : ''}`);
    },
    (err: unknown) => {
      console.error(err);
      process.exitCode = 1;
    },
  );
}
