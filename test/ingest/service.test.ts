import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerIngestCommand } from '../../src/ingest/cli';
import { TOPIC_ARN, inboundChange, platformMessage } from './helpers/events';
import { startHarness, type Harness } from './helpers/harness';
import { CertServer, makeSigner, signSns } from './helpers/sns-signing';

describe('ingest service', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => {
    await h.close();
  });

  it('serves /healthz and /metrics beside the SNS endpoint', async () => {
    await h.notify(
      platformMessage([inboundChange({ from: '447700900321', id: 'wamid.metrics', text: 'hi' })]),
    );
    const base = h.url.replace('/sns', '');
    const health = await fetch(`${base}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ status: 'ok', database: 'ok', signals: 'on' });
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toMatch(/wa_events_total\{kind="messages",outcome="applied"\} \d+/);
    expect(metrics).toContain('wa_ingest_request_seconds');
    // Anything but POST on other paths is not ours.
    expect((await fetch(`${base}/elsewhere`)).status).toBe(404);
  });

  it('registers `ingest` with its options on the CLI', () => {
    const program = new Command();
    registerIngestCommand(program);
    const ingest = program.commands.find((c) => c.name() === 'ingest');
    expect(ingest?.options.map((o) => o.long)).toEqual([
      '--port',
      '--host',
      '--topic-arn',
      '--sms-topic-arn',
      '--trust-cert-url',
      '--reprocess',
    ]);
  });
});

/** Waits for a JSON log line matching `predicate` on a child's stdout. */
function waitForLog(
  lines: Record<string, unknown>[],
  predicate: (line: Record<string, unknown>) => boolean,
  timeoutMs: number,
): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const tick = setInterval(() => {
      const found = lines.find(predicate);
      if (found) {
        clearInterval(tick);
        resolve(found);
      } else if (Date.now() - started > timeoutMs) {
        clearInterval(tick);
        reject(new Error(`log line not seen in ${timeoutMs} ms; got: ${JSON.stringify(lines.slice(-5))}`));
      }
    }, 50);
  });
}

describe('wa-campaigns ingest (service mode)', () => {
  it('runs, logs JSON, stores a signed event, and stops gracefully on SIGTERM', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'wa-ingest-'));
    const certs = await new CertServer().start();
    const signer = makeSigner();
    certs.certs.set('svc', signer.certPem);
    const root = path.resolve(__dirname, '../..');
    const child = spawn(
      process.execPath,
      [path.join(root, 'bin/wa-campaigns.js'), 'ingest', '--port', '0', '--host', '127.0.0.1'],
      {
        cwd: root,
        env: {
          ...process.env,
          DATABASE_URL: '',
          WA_DATA_DIR: dataDir,
          WA_INGEST_TOPIC_ARNS: TOPIC_ARN,
          WA_INGEST_TRUSTED_CERT_URLS: certs.certUrl('svc'),
          TEMPORAL_ADDRESS: '127.0.0.1:1',
          LOG_LEVEL: 'info',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    const lines: Record<string, unknown>[] = [];
    let stderr = '';
    let buffered = '';
    child.stdout.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const parts = buffered.split('\n');
      buffered = parts.pop() ?? '';
      for (const part of parts) if (part.trim()) lines.push(JSON.parse(part) as Record<string, unknown>);
    });
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      const listening = await waitForLog(lines, (l) => l.msg === 'ingest service listening', 60_000).catch(
        (err: Error) => {
          throw new Error(`${err.message}\nstderr: ${stderr}`);
        },
      );
      const port = listening.port as number;
      const fields: Record<string, string> = {
        Type: 'Notification',
        MessageId: 'svc-msg-1',
        TopicArn: TOPIC_ARN,
        Message: platformMessage([inboundChange({ from: '447700900654', id: 'wamid.svc', text: 'STOP' })]),
        Timestamp: new Date().toISOString(),
        SignatureVersion: '2',
        SigningCertURL: certs.certUrl('svc'),
      };
      fields.Signature = signSns(fields, signer, '2');
      const res = await fetch(`http://127.0.0.1:${port}/`, { method: 'POST', body: JSON.stringify(fields) });
      expect(res.status).toBe(200);
      expect(((await res.json()) as { outcome: string }).outcome).toBe('applied');
      expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);

      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect(lines.some((l) => l.msg === 'ingest service stopped')).toBe(true);
      expect(lines.every((l) => typeof l.level === 'number' && typeof l.time === 'string')).toBe(true);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      await certs.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
